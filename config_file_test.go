package main

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/dasha-exporter/dasha_exporter/accounts"
	"github.com/dasha-exporter/dasha_exporter/internal/fakeapi"
)

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dasha.yml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const goodConfig = "accounts:\n  acme-us:\n    platform: us\n    api_key_env: ACME_US_KEY\n  lab:\n    url: http://127.0.0.1:1\n    api_key_file: lab.key\n"

func TestConfigFileNeedsNoFlagKey(t *testing.T) {
	path := writeConfig(t, goodConfig)
	c, err := parseConfig([]string{"--config.file", path}, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.configFile != path || len(c.warnings) != 0 {
		t.Errorf("config file %q, warnings %q", c.configFile, c.warnings)
	}
	t.Setenv("DASHA_CONFIG_FILE", path) // kingpin reads it from the environment
	if c, err = parseConfig(nil, env(nil), &bytes.Buffer{}); err != nil || c.configFile != path {
		t.Errorf("DASHA_CONFIG_FILE: %v, %+v", err, c)
	}
}

func TestConfigFileWarnsAboutFlagsThatDoNotApply(t *testing.T) {
	path := writeConfig(t, goodConfig)
	const key = "sk-should-never-show"
	c, err := parseConfig([]string{"--config.file", path, "--dasha.url=https://blackbox.ru.dasha.ai", "--dasha.api-key-file=/k",
		"--dasha.provider-id=0b6f3b5e-8f0c-4b8a-9a51-7d1f2c3e4aee", "--dasha.unlinked-only"},
		env(map[string]string{"DASHA_API_KEY": key}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(c.warnings, "\n")
	for _, want := range []string{"--dasha.url", "--dasha.api-key-file", "DASHA_API_KEY", "--dasha.provider-id", "--dasha.unlinked-only"} {
		if !strings.Contains(all, want) {
			t.Errorf("no warning names %s:\n%s", want, all)
		}
	}
	if strings.Contains(all, key) {
		t.Errorf("a warning repeats the key:\n%s", all)
	}
	if c.apiKey != "" || c.filters.ProviderID != "" {
		t.Error("flags that do not apply were kept")
	}
}

func TestConfigFileFlagErrors(t *testing.T) {
	path := writeConfig(t, goodConfig)
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"demo":          {[]string{"--config.file", path, "--demo"}, "--demo and --config.file exclude each other"},
		"check no file": {[]string{"--config.check"}, "--config.check needs --config.file"},
		"probe path":    {[]string{"--config.file", path, "--web.telemetry-path=/probe"}, "--web.telemetry-path"},
	} {
		_, err := parseConfig(tc.args, env(nil), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}

func TestConfigCheck(t *testing.T) {
	good := writeConfig(t, goodConfig)
	var out bytes.Buffer
	if err := run([]string{"--config.check", "--config.file", good}, env(map[string]string{"ACME_US_KEY": "k"}), &out); err != nil {
		t.Fatalf("--config.check of a good file: %v\n%s", err, out.String())
	}
	// lab.key is missing on this machine: a warning, not an error (the
	// exporter would serve it as dasha_up 0).
	if !strings.Contains(out.String(), good+": OK") || !strings.Contains(out.String(), `warning: account "lab"`) {
		t.Errorf("--config.check output:\n%s", out.String())
	}

	bad := writeConfig(t, "accounts:\n  acme-us:\n    platform: us\n    api_key_env: sk-pasted-key-value-1234\n")
	out.Reset()
	done := make(chan error, 1)
	go func() { done <- run([]string{"--config.check", "--config.file", bad}, env(nil), &out) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), bad+`: line 4: account "acme-us": api_key_env:`) {
			t.Errorf("--config.check of a bad file: %v", err)
		}
		if strings.Contains(err.Error()+out.String(), "sk-pasted-key-value-1234") {
			t.Errorf("--config.check repeats a pasted key: %v %s", err, out.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("--config.check kept running")
	}
}

// serveOneAccount wires the configuration-file mode as run does, with a file
// of one account, name, on a fake API of three numbers whose key is in $K.
// It returns the mux, the file's path and the fake API's URL.
func serveOneAccount(t *testing.T, name string) (mux *http.ServeMux, path, apiURL string) {
	t.Helper()
	api := httptest.NewServer(fakeapi.New("k", fakeapi.Fleet(3, time.Now())))
	t.Cleanup(api.Close)
	path = writeConfig(t, "accounts:\n  "+name+":\n    url: "+api.URL+"\n    api_key_env: K\n")
	getenv := env(map[string]string{"K": "k"})
	cfg, err := parseConfig([]string{"--config.file", path}, getenv, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	reg := newRegistry()
	registry, err := newAccounts(accounts.File(path), cfg, getenv, slog.New(slog.DiscardHandler), reg)
	if err != nil {
		t.Fatal(err)
	}
	mux = http.NewServeMux()
	routes(cfg, registry, reg, mux)
	reloadOnSIGHUP(t.Context(), registry, slog.New(slog.DiscardHandler))
	return mux, path, api.URL
}

// TestSIGHUPReloads reloads the configuration-file mode with a real SIGHUP
// to this process.
func TestSIGHUPReloads(t *testing.T) {
	mux, path, apiURL := serveOneAccount(t, "a")
	probe := func(target string) (int, string) {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", "/probe?target="+target, nil))
		return rec.Code, rec.Body.String()
	}
	if code, _ := probe("b"); code != http.StatusBadRequest {
		t.Fatalf("probe of b before the reload: %d", code)
	}
	if err := os.WriteFile(path, []byte("accounts:\n  b:\n    url: "+apiURL+"\n    api_key_env: K\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := probe("b")
		if code == http.StatusOK && strings.Contains(body, "dasha_sip_phone_numbers 3") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("SIGHUP did not reload: probe of b answers %d %s", code, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code, _ := probe("a"); code != http.StatusBadRequest {
		t.Errorf("the removed account a still answers: %d", code)
	}
}

// TestConfigModeMetrics checks what /metrics and /probe carry with a
// configuration file: the exporter's own metrics with an account label on
// /metrics, the listing's families only on /probe.
func TestConfigModeMetrics(t *testing.T) {
	mux, _, _ := serveOneAccount(t, "acme")
	families := func(path string) map[string]*dto.MetricFamily {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		parser := expfmt.NewTextParser(model.UTF8Validation)
		mfs, err := parser.TextToMetricFamilies(rec.Body)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return mfs
	}
	probe := families("/probe?target=acme")
	own := families("/metrics")
	for _, name := range []string{"dasha_up", "dasha_sip_phone_numbers", "dasha_scrape_duration_seconds", "dasha_last_success_timestamp_seconds", "dasha_sip_registration_healthy"} {
		if probe[name] == nil {
			t.Errorf("/probe lacks %s", name)
		}
		if own[name] != nil {
			t.Errorf("/metrics carries %s, a probe's family", name)
		}
	}
	labels := map[string][]string{
		"dasha_api_requests_total":                                    {"account", "code"},
		"dasha_api_request_duration_seconds":                          {"account"},
		"dasha_exporter_config_last_reload_successful":                nil,
		"dasha_exporter_config_last_reload_success_timestamp_seconds": nil,
		"dasha_exporter_build_info":                                   {"branch", "goarch", "goos", "goversion", "revision", "tags", "version"},
		"go_goroutines":                                               nil,
	}
	for name, want := range labels {
		mf := own[name]
		if mf == nil {
			t.Errorf("/metrics lacks %s", name)
			continue
		}
		if probe[name] != nil {
			t.Errorf("/probe carries %s, one of the exporter's own metrics", name)
		}
		var got []string
		for _, l := range mf.Metric[0].Label {
			got = append(got, l.GetName())
		}
		if name != "dasha_exporter_build_info" && strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s has labels %v, want %v", name, got, want)
		}
		if name == "dasha_api_requests_total" && mf.Metric[0].Label[0].GetValue() != "acme" {
			t.Errorf("%s account=%q, want acme", name, mf.Metric[0].Label[0].GetValue())
		}
	}
}

// runWithin runs the exporter with args and fails the test if it does
// not return (a FIFO as configuration file blocked --config.check).
func runWithin(t *testing.T, args []string, getenv func(string) string, out *bytes.Buffer) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- run(args, getenv, out) }()
	select {
	case err := <-done:
		return err
	case <-time.After(20 * time.Second):
		t.Fatalf("%v kept running", args)
		return nil
	}
}

// TestConfigCheckNeverEchoesAKeyPastedIntoAPIKeyFile: --config.check
// printed "Zm9vYmFy/YmF6...: no such file or directory" for a key pasted
// into api_key_file. A path is named only once it is an existing regular
// file; otherwise the field, account and line.
func TestConfigCheckNeverEchoesAKeyPastedIntoAPIKeyFile(t *testing.T) {
	for _, pasted := range []string{
		"Zm9vYmFy/YmF6cXV4+c2VjcmV0a2V5MTIzNDU2Nzg5MA==",
		"sk_live_5hT9xQ2mV8",
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
	} {
		path := writeConfig(t, "accounts:\n  acme:\n    platform: us\n    api_key_file: "+pasted+"\n")
		var out bytes.Buffer
		err := runWithin(t, []string{"--config.check", "--config.file", path}, env(nil), &out)
		all := out.String()
		if err != nil {
			all += err.Error()
		}
		if strings.Contains(all, pasted) {
			t.Errorf("--config.check repeats the value of api_key_file:\n%s", all)
		}
		if err != nil || !strings.Contains(all, `warning: account "acme": api_key_file of account "acme" (line 4): no such file`) {
			t.Errorf("--config.check: %v\n%s", err, all)
		}
	}
	// An existing regular file cannot be a pasted key: it is named.
	path := writeConfig(t, "accounts:\n  acme:\n    platform: us\n    api_key_file: acme.key\n")
	key := filepath.Join(filepath.Dir(path), "acme.key")
	os.WriteFile(key, nil, 0o600) // empty: a warning that names it
	var out bytes.Buffer
	if err := runWithin(t, []string{"--config.check", "--config.file", path}, env(nil), &out); err != nil || !strings.Contains(out.String(), key) {
		t.Errorf("--config.check of an empty key file: %v\n%s", err, out.String())
	}
}

// TestConfigCheckRefusesHostileFiles: /dev/zero as the configuration file
// ran --config.check out of memory, and a FIFO (as the file or as a key
// file) made it wait forever. Each is now an error at once (exit 1).
func TestConfigCheckRefusesHostileFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	zero := filepath.Join(dir, "zero.yml")
	os.Symlink("/dev/zero", zero)
	withFIFOKey := writeConfig(t, "accounts:\n  acme:\n    platform: us\n    api_key_file: "+fifo+"\n")
	for file, want := range map[string]string{
		"/dev/zero": "/dev/zero: a device, not a regular file",
		zero:        zero + ": a device, not a regular file",
		fifo:        fifo + ": a FIFO (named pipe), not a regular file",
		withFIFOKey: withFIFOKey + `: api_key_file of account "acme" (line 4): a FIFO (named pipe), not a regular file`,
	} {
		var out bytes.Buffer
		err := runWithin(t, []string{"--config.check", "--config.file", file}, env(nil), &out)
		if err == nil || err.Error() != want {
			t.Errorf("--config.check of %s: %v\nwant %s", file, err, want)
		}
	}
}
