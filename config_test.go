package main

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dasha-exporter/dasha_exporter/accounts"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestParseConfigDefaults(t *testing.T) {
	c, err := parseConfig(nil, env(map[string]string{"DASHA_API_KEY": " sk-abc \n"}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.url.String() != "https://blackbox.dasha.ai" || c.apiKey != "sk-abc" || c.pageSize != 1000 || c.concurrency != 4 ||
		c.timeout != 10*time.Second || c.timeoutOffset != 500*time.Millisecond || c.cacheTTL != 0 ||
		c.telemetryPath != "/metrics" || (*c.web.WebListenAddresses)[0] != ":9612" || c.maxConns != 512 {
		t.Errorf("defaults: %+v", c)
	}
	if strings.Join(c.collector.States, ",") != "Registered,Registering,Failed,Disabled" || strings.Join(c.collector.HealthyStates, ",") != "Registered" {
		t.Errorf("states: %v healthy: %v", c.collector.States, c.collector.HealthyStates)
	}
}

func TestParseConfigMaxConnections(t *testing.T) {
	c, err := parseConfig([]string{"--demo", "--web.max-connections=64"}, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.maxConns != 64 {
		t.Errorf("--web.max-connections=64 gave %d", c.maxConns)
	}
}

func TestParseConfigRepeatableStates(t *testing.T) {
	c, err := parseConfig([]string{"--demo", "--registration.state=Registered", "--registration.state=Failed", "--registration.state=Refreshing",
		"--registration.healthy-state=Registered", "--registration.healthy-state=Refreshing"}, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.collector.States, ",") != "Registered,Failed,Refreshing" || strings.Join(c.collector.HealthyStates, ",") != "Registered,Refreshing" {
		t.Errorf("states %v healthy %v", c.collector.States, c.collector.HealthyStates)
	}
}

func TestParseConfigKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key")
	os.WriteFile(path, []byte("sk-file\n"), 0o600)
	c, err := parseConfig([]string{"--dasha.api-key-file", path}, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if s := c.accountSettings(); s.KeyFile != path || s.KeyEnv != "" || s.Name != "default" {
		t.Errorf("the flags' account: %+v", s)
	}
	registry, err := newAccounts(accounts.Flags{Account: c.accountSettings(), Flags: flagNames}, c, env(nil), slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := registry.Get("default").KeyProblem(); err != nil {
		t.Errorf("key: %v", err)
	}
}

func TestParseConfigRejectsBadInput(t *testing.T) {
	const key = "sk-secret-value"
	dir := t.TempDir()
	badWebConfig := filepath.Join(dir, "web.yml")
	os.WriteFile(badWebConfig, []byte("tls_server_config:\n  cert_file: /nonexistent.crt\n"), 0o600)
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{nil, nil, "no API key"},
		{[]string{"--dasha.page-size=0"}, map[string]string{"DASHA_API_KEY": key}, "--dasha.page-size 0 is out of range 1..1000"},
		{[]string{"--dasha.page-size=1001"}, map[string]string{"DASHA_API_KEY": key}, "--dasha.page-size 1001"},
		{[]string{"--dasha.page-size=ten"}, map[string]string{"DASHA_API_KEY": key}, `--dasha.page-size: "ten" is not a whole number`},
		{[]string{"--dasha.page-size=1.9"}, map[string]string{"DASHA_API_KEY": key}, `--dasha.page-size: "1.9" is not a whole number`},
		{[]string{"--dasha.concurrency=4.7"}, map[string]string{"DASHA_API_KEY": key}, `--dasha.concurrency: "4.7" is not a whole number`},
		{[]string{"--dasha.concurrency=0"}, map[string]string{"DASHA_API_KEY": key}, "--dasha.concurrency 0"},
		{[]string{"--dasha.url=blackbox.dasha.ai"}, map[string]string{"DASHA_API_KEY": key}, "--dasha.url"},
		{[]string{"--dasha.url=ftp://x"}, map[string]string{"DASHA_API_KEY": key}, "--dasha.url"},
		{[]string{"--dasha.url=https://u:pw@x"}, map[string]string{"DASHA_API_KEY": key}, "must not carry credentials"},
		{[]string{"--dasha.timeout=0s"}, map[string]string{"DASHA_API_KEY": key}, "--dasha.timeout"},
		{[]string{"--dasha.timeout-offset=-1s"}, map[string]string{"DASHA_API_KEY": key}, "--dasha.timeout-offset"},
		{[]string{"--dasha.cache-ttl=-1s"}, map[string]string{"DASHA_API_KEY": key}, "--dasha.cache-ttl"},
		{[]string{"--dasha.provider-id=acme"}, map[string]string{"DASHA_API_KEY": key}, "not a uuid"},
		{[]string{"--dasha.unlinked-only", "--dasha.linked-agent-id=a"}, map[string]string{"DASHA_API_KEY": key}, "contradict"},
		{[]string{"--dasha.api-key-file", filepath.Join(dir, "x")}, map[string]string{"DASHA_API_KEY": key}, "both DASHA_API_KEY and --dasha.api-key-file"},
		{nil, map[string]string{"DASHA_API_KEY": "two " + key}, "white space"},
		{[]string{"--log.level=loud"}, nil, "--log.level: enum value"},
		{[]string{"--demo", "--dasha.unlinked-only", "--dasha.page-size=ten"}, nil, "--dasha.page-size: "},
		{[]string{"--log.format=xml"}, nil, "log.format"},
		{[]string{"--web.telemetry-path=metrics", "--demo"}, nil, "must start with /"},
		{[]string{"--web.telemetry-path=/", "--demo"}, nil, "landing page"},
		{[]string{"--registration.state=", "--demo"}, nil, "must not be empty"},
		{[]string{"--registration.state=A", "--registration.state=A", "--demo"}, nil, "given twice"},
		{[]string{"--dasha.api-key", key}, nil, "unknown long flag"},
		{[]string{"--demo", "--registration.healthy-state=registered"}, nil, `--registration.healthy-state "registered" is not one of`},
		{[]string{"--demo", "--web.config.file", filepath.Join(dir, "missing.yml")}, nil, "--web.config.file"},
		{[]string{"--demo", "--web.config.file", badWebConfig}, nil, "--web.config.file"},
		{[]string{"--no-such-flag"}, nil, "unknown long flag"},
		{[]string{"--demo", "--web.max-connections=0"}, nil, "--web.max-connections 0 must be at least 1"},
		{[]string{"--demo", "--web.max-connections=-5"}, nil, "--web.max-connections -5 must be at least 1"},
		{[]string{"--demo", "--web.max-connections=1.5"}, nil, `--web.max-connections: "1.5" is not a whole number`},
		{[]string{"--demo", "--web.max-connections=many"}, nil, `--web.max-connections: "many" is not a whole number`},
	} {
		_, err := parseConfig(tc.args, env(tc.env), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error = %v, want %q", tc.args, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), key) {
			t.Errorf("%v: the error shows the key: %v", tc.args, err)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: the error is not one line: %q", tc.args, err)
		}
	}
}

func TestRunFailsBeforeListening(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o600)
	for name, args := range map[string][]string{
		"missing key file":    {"--dasha.api-key-file", filepath.Join(dir, "missing")},
		"empty key file":      {"--dasha.api-key-file", empty},
		"unreadable web conf": {"--demo", "--web.config.file", filepath.Join(dir, "missing.yml"), "--web.listen-address=127.0.0.1:0"},
	} {
		var stderr bytes.Buffer
		done := make(chan error, 1)
		go func() { done <- run(args, env(nil), &stderr) }()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("%s: run returned no error", name)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: run kept serving", name)
		}
	}
}

// TestFlagsGoThroughSettingsValidate: the flags' account is checked by
// accounts.Settings.Validate, and its errors name the flag.
func TestFlagsGoThroughSettingsValidate(t *testing.T) {
	states := func(flag string, n int) []string {
		var args []string
		for i := range n {
			args = append(args, fmt.Sprintf("--%s=S%d", flag, i))
		}
		return args
	}
	key := map[string]string{"DASHA_API_KEY": "k"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--dasha.url=http://127.0.0.1:0"}, "--dasha.url port 0 is out of range 1..65535"},
		{[]string{"--dasha.url=http://127.0.0.1:65536"}, "--dasha.url port 65536 is out of range 1..65535"},
		{[]string{"--dasha.url=http://127.0.0.1:http"}, "--dasha.url has a port that is not a number"},
		{[]string{"--dasha.timeout=3m"}, "--dasha.timeout 3m0s is out of range: more than 0, at most 2m0s"},
		{[]string{"--dasha.unlinked-only", "--dasha.linked-agent-id=x"}, "--dasha.unlinked-only and --dasha.linked-agent-id contradict each other; use one"},
		{states("registration.state", 65), "--registration.state lists 65 states; at most 64 are allowed"},
		{append(states("registration.state", 64), states("registration.healthy-state", 65)...), "--registration.healthy-state lists 65 states; at most 64 are allowed"},
		{[]string{"--registration.healthy-state=registered"}, `--registration.healthy-state "registered" is not one of the states`},
	} {
		_, err := parseConfig(tc.args, env(key), &bytes.Buffer{})
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%.60v: %v\nwant %q...", tc.args, err, tc.want)
		}
	}
	c, err := parseConfig(append(states("registration.state", 64), "--registration.healthy-state=S0"), env(key), &bytes.Buffer{})
	if err != nil {
		t.Fatalf("64 states: %v", err)
	}
	if len(c.collector.States) != 64 {
		t.Errorf("%d states", len(c.collector.States))
	}
}

// TestFlagOfFieldNamesRealFlags: every field the flags' account can get
// wrong maps to a flag that exists.
func TestFlagOfFieldNamesRealFlags(t *testing.T) {
	app, _ := newApp(&config{}, io.Discard)
	for field, flag := range flagOfField {
		if flag == "DASHA_API_KEY" {
			continue
		}
		if app.GetFlag(strings.TrimPrefix(flag, "--")) == nil {
			t.Errorf("field %s maps to %s, which is not a flag", field, flag)
		}
	}
}

func TestAccountSettings(t *testing.T) {
	c, err := parseConfig([]string{"--dasha.url=https://proxy.example:8443/dasha/", "--dasha.page-size=7"}, env(map[string]string{"DASHA_API_KEY": "k"}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	s := c.accountSettings()
	if s.Name != "default" || s.URL != "https://proxy.example:8443/dasha" || s.KeyEnv != "DASHA_API_KEY" || s.KeyFile != "" || s.PageSize != 7 {
		t.Errorf("accountSettings = %+v", s)
	}
	if err := s.Validate(); err != nil {
		t.Errorf("the flags' account does not validate: %v", err)
	}
}

// TestAPIKeyFileThatCanNeverHoldAKey: a FIFO or device as the key file is
// refused at once (a FIFO blocked the start), without the path.
func TestAPIKeyFileThatCanNeverHoldAKey(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "key")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{fifo: "--dasha.api-key-file: a FIFO (named pipe), not a regular file", "/dev/zero": "--dasha.api-key-file: a device, not a regular file"} {
		_, err := parseConfig([]string{"--dasha.api-key-file", path}, env(nil), &bytes.Buffer{})
		if err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %q", path, err, want)
		}
	}
}
