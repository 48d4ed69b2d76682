package main

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dasha-exporter/dasha_exporter/internal/fakeapi"
)

func TestMetricFlagsAreRepeatableAndCommaSeparated(t *testing.T) {
	c, err := parseConfig([]string{"--demo", "--metric-denylist=dasha_sip_registration_state, dasha_sip_registration_error_info",
		"--metric-denylist=.*_timestamp_seconds"}, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"dasha_sip_registration_state", "dasha_sip_registration_error_info", ".*_timestamp_seconds"}
	if !slices.Equal(c.collector.MetricDenylist, want) || c.collector.MetricAllowlist != nil {
		t.Errorf("allowlist %q denylist %q", c.collector.MetricAllowlist, c.collector.MetricDenylist)
	}
	if s := c.accountSettings(); !slices.Equal(s.Collector.MetricDenylist, want) {
		t.Errorf("the flags' account has denylist %q", s.Collector.MetricDenylist)
	}
}

func TestMetricFlagErrorsNameTheFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--metric-denylist=dasha_sip_registration_stat"}, `--metric-denylist "dasha_sip_registration_stat" matches no per-number family`},
		{[]string{"--metric-allowlist=dasha_up"}, `--metric-allowlist "dasha_up" matches no per-number family`},
		{[]string{"--metric-allowlist=dasha_sip_registration_state", "--metric-denylist=dasha_sip_registration_error"},
			"--metric-allowlist and --metric-denylist are both set; they exclude each other"},
		{[]string{"--metric-denylist=dasha_("}, `--metric-denylist "dasha_(" is not a family name or a regular expression`},
	} {
		_, err := parseConfig(append([]string{"--demo"}, tc.args...), env(nil), &bytes.Buffer{})
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%v: %v\nwant %q...", tc.args, err, tc.want)
		}
	}
}

// TestFlagsModeDropsTheFamilyAndWarns runs the flags' account on a fake API
// with a denylist: /metrics lacks the family, keeps the others, and the
// start-up log names the alerts and panels that read it.
func TestFlagsModeDropsTheFamilyAndWarns(t *testing.T) {
	api := httptest.NewServer(fakeapi.New("k", fakeapi.Fleet(3, time.Now())))
	defer api.Close()
	cfg, err := parseConfig([]string{"--dasha.url=" + api.URL, "--metric-denylist=dasha_sip_registration_expiry_seconds"},
		env(map[string]string{"DASHA_API_KEY": "k"}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	mux := wire(t, cfg, env(map[string]string{"DASHA_API_KEY": "k"}), slog.New(slog.NewTextHandler(&logs, nil)))
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "family=dasha_sip_registration_expiry_seconds alerts=\"DashaSIPRegistrationExpired, DashaSIPRegistrationExpiringSoon\"") {
		t.Errorf("no warning naming the family and its alerts:\n%s", logs.String())
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	if strings.Contains(body, "dasha_sip_registration_expiry_seconds") {
		t.Error("/metrics still carries the dropped family")
	}
	for _, kept := range []string{"dasha_up 1", "dasha_sip_phone_numbers 3", "dasha_sip_registration_healthy{", "dasha_sip_registration_state{"} {
		if !strings.Contains(body, kept) {
			t.Errorf("/metrics lacks %s", kept)
		}
	}
}

// TestFileAccountsTakeTheFlagsSelectionAsDefault: an account without
// metrics: drops what the flags drop; one with metrics: chooses its own.
func TestFileAccountsTakeTheFlagsSelectionAsDefault(t *testing.T) {
	api := httptest.NewServer(fakeapi.New("k", fakeapi.Fleet(3, time.Now())))
	defer api.Close()
	path := writeConfig(t, "accounts:\n  plain:\n    url: "+api.URL+"\n    api_key_env: K\n"+
		"  own:\n    url: "+api.URL+"\n    api_key_env: K\n    metrics:\n      allowlist: [dasha_sip_registration_state]\n")
	getenv := env(map[string]string{"K": "k"})
	cfg, err := parseConfig([]string{"--config.file", path, "--metric-denylist=dasha_sip_registration_state"}, getenv, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	mux := wire(t, cfg, getenv, slog.New(slog.NewTextHandler(&logs, nil)))
	probe := func(target string) string {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", "/probe?target="+target, nil))
		return rec.Body.String()
	}
	if plain := probe("plain"); strings.Contains(plain, "dasha_sip_registration_state") || !strings.Contains(plain, "dasha_sip_registration_healthy{") {
		t.Errorf("plain does not drop the flags' family alone:\n%s", plain)
	}
	if own := probe("own"); !strings.Contains(own, "dasha_sip_registration_state{") || strings.Contains(own, "dasha_sip_registration_healthy") || !strings.Contains(own, "dasha_up 1") {
		t.Errorf("own does not keep its allowlist alone:\n%s", own)
	}
	for _, want := range [][2]string{{"account=plain", "family=dasha_sip_registration_state "}, {"account=own", "family=dasha_sip_registration_healthy "}} {
		if !slices.ContainsFunc(strings.Split(logs.String(), "\n"), func(line string) bool {
			return strings.Contains(line, "level=WARN") && strings.Contains(line, want[0]) && strings.Contains(line, want[1])
		}) {
			t.Errorf("the start-up log lacks a warning with %s %s:\n%s", want[0], want[1], logs.String())
		}
	}
}

// TestReloadWarnsForTheChangedAccount: a reload that gives an account a
// denylist warns for it; accounts it leaves alone are not warned again.
func TestReloadWarnsForTheChangedAccount(t *testing.T) {
	api := httptest.NewServer(fakeapi.New("k", fakeapi.Fleet(3, time.Now())))
	defer api.Close()
	account := func(name string) string { return "  " + name + ":\n    url: " + api.URL + "\n    api_key_env: K\n" }
	path := writeConfig(t, "accounts:\n"+account("a")+account("b"))
	getenv := env(map[string]string{"K": "k"})
	cfg, err := parseConfig([]string{"--config.file", path}, getenv, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	mux := wire(t, cfg, getenv, slog.New(slog.NewTextHandler(&logs, nil)))
	if strings.Contains(logs.String(), "level=WARN") {
		t.Fatalf("a warning without a selection:\n%s", logs.String())
	}
	if err := os.WriteFile(path, []byte("accounts:\n"+account("a")+account("b")+"    metrics:\n      denylist: [dasha_sip_registration_healthy]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("POST", "/-/reload", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("reload: %d %s", rec.Code, rec.Body.String())
	}
	var warned []string
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "level=WARN") {
			warned = append(warned, line)
		}
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "account=b") || !strings.Contains(warned[0], "family=dasha_sip_registration_healthy ") ||
		!strings.Contains(warned[0], "DashaSIPRegistrationLowAvailability") {
		t.Errorf("warnings after the reload: %q", warned)
	}
}

func TestConfigCheckWarnsOfDroppedFamiliesInUse(t *testing.T) {
	path := writeConfig(t, "accounts:\n  acme:\n    platform: us\n    api_key_env: K\n    metrics:\n      denylist: [dasha_sip_registration_expiry_seconds]\n")
	var out bytes.Buffer
	if err := runWithin(t, []string{"--config.check", "--config.file", path}, env(map[string]string{"K": "k"}), &out); err != nil {
		t.Fatal(err)
	}
	want := `warning: account "acme": dasha_sip_registration_expiry_seconds is dropped, but the alerts DashaSIPRegistrationExpired, DashaSIPRegistrationExpiringSoon and the dashboard panels "Expiring < 1h", "Soonest registration expiries", "Unhealthy or expiring numbers" read it: they may stay silent or empty`
	if !strings.Contains(out.String(), want) {
		t.Errorf("--config.check printed:\n%s\nwant a line\n%s", out.String(), want)
	}
}
