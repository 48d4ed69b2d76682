package accounts

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// --config.check builds every account with no logger given, as main calls
// it before logging is set up.
func TestCheckNeedsNoLogger(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dasha.yml")
	if err := os.WriteFile(path, []byte("accounts:\n  a:\n    platform: us\n    api_key_env: K\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Check(path, Options{Defaults: testDefaults, Getenv: func(string) string { return "k" }}); err != nil {
		t.Fatal(err)
	}
}

// An account logs to the registry's logger, under its name.
func TestAccountLogsToTheRegistrysLogger(t *testing.T) {
	api := newPlatform(t, "right-key", 1)
	path := filepath.Join(t.TempDir(), "dasha.yml")
	if err := os.WriteFile(path, []byte("accounts:\n  acme:\n    url: "+api.srv.URL+"\n    api_key_env: K\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	reg, err := NewRegistry(File(path), Options{Defaults: testDefaults, Getenv: func(string) string { return "wrong-key" },
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	reg.ProbeHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/probe?target=acme", nil))
	if !strings.Contains(logs.String(), "listing SIP phone numbers failed") || !strings.Contains(logs.String(), "account=acme") {
		t.Errorf("the failed listing is not in the registry's log under the account:\n%s", logs.String())
	}
}

// proxy_url carries the account's API requests (nothing listens at the
// account's url itself).
func TestProxyURLCarriesTheRequests(t *testing.T) {
	api := newPlatform(t, "k", 3)
	var proxied atomic.Int64
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Add(1)
		api.ServeHTTP(w, r) // a forward proxy, as far as the exporter can tell
	}))
	t.Cleanup(proxy.Close)
	f := newFixture(t, "accounts:\n  a:\n    url: http://127.0.0.1:1\n    api_key_env: K\n    proxy_url: "+proxy.URL+"\n", map[string]string{"K": "k"})
	if got := f.probe("a"); got["dasha_up"] != 1 || got["dasha_sip_phone_numbers"] != 3 {
		t.Errorf("probe through the proxy: %v", got)
	}
	if proxied.Load() == 0 {
		t.Error("no request went through proxy_url")
	}
}

// An account's handler with a gatherer answers the gatherer's metrics too
// (the flags' /metrics: the exporter's own metrics beside the listing).
func TestAccountHandlerAddsTheGatherersMetrics(t *testing.T) {
	api := newPlatform(t, "k", 1)
	f := newFixture(t, "accounts:\n  a:\n    url: "+api.srv.URL+"\n    api_key_env: K\n", map[string]string{"K": "k"})
	own := prometheus.NewRegistry()
	own.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "exporter_own_metric", Help: "h"}))
	rec := httptest.NewRecorder()
	f.reg.Get("a").Handler(own).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if body := rec.Body.String(); !strings.Contains(body, "exporter_own_metric 0") || !strings.Contains(body, "dasha_up 1") {
		t.Errorf("the answer lacks the gatherer's metric or the listing:\n%.1000s", body)
	}
}

// A debug answer says its metrics were cut only when they were, and says
// nothing failed when nothing did.
func TestDebugNotesOnlyWhatHappened(t *testing.T) {
	for _, tc := range []struct {
		numbers int
		cut     bool
	}{
		{3, false},
		{4000, true}, // well over the 4 MiB a debug answer shows
	} {
		api := newPlatform(t, "k", tc.numbers)
		f := newFixture(t, "accounts:\n  a:\n    url: "+api.srv.URL+"\n    api_key_env: K\n", map[string]string{"K": "k"})
		code, body := f.get("GET", "/probe?target=a&debug=true")
		if code != http.StatusOK || !strings.Contains(body, "dasha_up 1") {
			t.Fatalf("%d numbers: debug %d:\n%.1000s", tc.numbers, code, body)
		}
		if strings.Contains(body, "writing them failed") {
			t.Errorf("%d numbers: a failure noted where none happened", tc.numbers)
		}
		if cut := strings.Contains(body, "(cut here:"); cut != tc.cut {
			t.Errorf("%d numbers: cut note %v, want %v", tc.numbers, cut, tc.cut)
		}
	}
}

// A key that stands in the account's own URL (a path segment: an API
// gateway's, say) is redacted from the listing's log that debug shows: the
// account redacts every line, not only the client's errors.
func TestDebugRedactsTheKeyInTheURLPath(t *testing.T) {
	const key = "path-secret-key-789"
	api := newPlatform(t, key, 2)
	gateway := httptest.NewServer(http.StripPrefix("/"+key, api))
	t.Cleanup(gateway.Close)
	f := newFixture(t, "accounts:\n  a:\n    url: "+gateway.URL+"/"+key+"\n    api_key_env: K\n", map[string]string{"K": key})
	code, body := f.get("GET", "/probe?target=a&debug=true")
	if code != http.StatusOK || !strings.Contains(body, "dasha_up 1") || !strings.Contains(body, "skip=0") {
		t.Fatalf("debug %d:\n%s", code, body)
	}
	// Only the log is judged here: the header's "API <url>" names the
	// account's URL as configured (see the report of this test's commit).
	_, log, _ := strings.Cut(body, "Logs of the listing")
	log, _, _ = strings.Cut(log, "Metrics that would have been returned")
	if !strings.Contains(log, "[REDACTED]") || strings.Contains(log, key) {
		t.Errorf("the listing's log shows the key:\n%s", log)
	}
}

// Check refuses a broken file, reads keys through the Getenv it is given,
// and warns about a key not to be had (naming the account), not about one
// that is there.
func TestCheckReadsKeysThroughGetenv(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yml")
	broken := filepath.Join(dir, "broken.yml")
	if err := os.WriteFile(good, []byte("accounts:\n  set:\n    platform: us\n    api_key_env: DASHA_TEST_SET\n  unset:\n    platform: us\n    api_key_env: DASHA_TEST_UNSET\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(broken, []byte("accounts: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) string {
		if k == "DASHA_TEST_SET" {
			return "k"
		}
		return ""
	}
	warnings, err := Check(good, Options{Defaults: testDefaults, Getenv: getenv})
	if err != nil || len(warnings) != 1 || !strings.Contains(warnings[0], `account "unset"`) {
		t.Errorf("Check = %q, %v; want one warning, for account unset", warnings, err)
	}
	if _, err := Check(broken, Options{Defaults: testDefaults, Getenv: getenv}); err == nil {
		t.Error("Check passed a broken file")
	}
}

// An account's redact takes its key out of any text, in any spelling the
// client's redaction reads; a text without the key passes unchanged. It is
// the second layer for the listing's log (the client redacts what it
// writes there first), so it is checked on its own here.
func TestAccountRedactsItsKey(t *testing.T) {
	const key = "acct-secret-key-4242"
	f := newFixture(t, "accounts:\n  a:\n    platform: us\n    api_key_env: K\n", map[string]string{"K": key})
	a := f.reg.Get("a")
	if got := a.redact("GET /x?k=" + key + " and acct-secret-key\\u002d4242"); strings.Contains(got, "secret") || strings.Count(got, "[REDACTED]") != 2 {
		t.Errorf("redact left the key: %q", got)
	}
	if got := a.redact("nothing to hide"); got != "nothing to hide" {
		t.Errorf("redact changed a text without the key: %q", got)
	}
}
