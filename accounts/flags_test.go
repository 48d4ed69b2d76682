package accounts

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// flagsRegistry is the flags' account, default, on a fake API of three
// numbers whose key is "k"; DASHA_API_KEY holds key.
func flagsRegistry(t *testing.T, logs *bytes.Buffer, key string) (*Registry, *platform, *prometheus.Registry, *http.ServeMux) {
	t.Helper()
	api := newPlatform(t, "k", 3)
	s := Settings{Name: FlagsAccount, URL: api.srv.URL, KeyEnv: "DASHA_API_KEY", PageSize: 1000, Concurrency: 1,
		Timeout: testDefaults.Timeout, Collector: testDefaults.Collector}
	prom := prometheus.NewRegistry()
	r, err := NewRegistry(Flags{Account: s, Flags: Names{KeyFile: "--dasha.api-key-file", URL: "--dasha.url"}},
		Options{Getenv: func(k string) string { return map[string]string{"DASHA_API_KEY": key}[k] }, Logger: slog.New(slog.NewTextHandler(logs, nil))}, prom)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/probe", r.ProbeHandler())
	mux.Handle("/-/reload", r.ReloadHandler())
	return r, api, prom, mux
}

// The flags' account is an account like a file's: /probe?target=default
// and its debug output answer it, an unknown target is a 400 without a
// request, its request metrics carry no account label, and there is
// nothing to reload.
func TestFlagsAccountIsAnAccount(t *testing.T) {
	var logs bytes.Buffer
	r, api, prom, mux := flagsRegistry(t, &logs, "k")
	get := func(method, target string) (int, string) {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
		return rec.Code, rec.Body.String()
	}
	if code, body := get("GET", "/probe?target=nobody"); code != http.StatusBadRequest || !strings.Contains(body, `"default"`) || api.Requests() != 0 {
		t.Errorf("unknown target: %d %q after %d requests", code, body, api.Requests())
	}
	if code, body := get("GET", "/probe?target=default"); code != http.StatusOK || !strings.Contains(body, "dasha_sip_phone_numbers 3") {
		t.Errorf("probe of default: %d\n%s", code, body)
	}
	if code, body := get("GET", "/probe?target=default&debug=true"); code != http.StatusOK || !strings.Contains(body, "API request") || !strings.Contains(body, "dasha_up 1") {
		t.Errorf("debug of default: %d\n%s", code, body)
	}
	want := `
# HELP dasha_api_requests_total Requests made to the Dasha BlackBox API, by HTTP status code (code="error" when no answer came).
# TYPE dasha_api_requests_total counter
dasha_api_requests_total{code="200"} 2
`
	if err := testutil.GatherAndCompare(prom, strings.NewReader(want), "dasha_api_requests_total", "dasha_exporter_config_last_reload_successful"); err != nil {
		t.Error(err)
	}
	if code, body := get("POST", "/-/reload"); code != http.StatusOK || !strings.Contains(body, "Nothing to reload") {
		t.Errorf("reload: %d %q", code, body)
	}
	if !strings.Contains(logs.String(), "nothing to reload") {
		t.Errorf("the log does not say there is nothing to reload:\n%s", logs.String())
	}
	if st, ok := r.Status(); ok {
		t.Errorf("the flags report a configuration file: %+v", st)
	}
}

// A rejected key names where it was set: in flags mode the flag or
// variable, never a file's field.
func TestFlagsRejectedKeyNamesTheVariable(t *testing.T) {
	var logs bytes.Buffer
	r, _, _, _ := flagsRegistry(t, &logs, "wrong")
	rec := httptest.NewRecorder()
	r.Get(FlagsAccount).probe.ServeHTTP(rec, httptest.NewRequest("GET", "/probe?target=default", nil))
	last := r.Get(FlagsAccount).Last()
	if !strings.Contains(last.Err, "401") || !strings.Contains(last.Err, "the key comes from DASHA_API_KEY, the API URL from --dasha.url") {
		t.Errorf("error %q does not name DASHA_API_KEY and --dasha.url", last.Err)
	}
}

// Reload refuses a request another site's page made: a browser sends
// Origin (and Sec-Fetch-Site) with it. Tools send neither and reload.
func TestReloadRefusesCrossSiteRequests(t *testing.T) {
	f := newFixture(t, "accounts:\n  a:\n    platform: us\n    api_key_env: K\n", map[string]string{"K": "k"})
	for _, tc := range []struct {
		name    string
		headers map[string]string
		want    int
	}{
		{"no Origin (curl)", nil, http.StatusOK},
		{"own Origin", map[string]string{"Origin": "http://example.com"}, http.StatusOK},
		{"other Origin", map[string]string{"Origin": "http://evil.example"}, http.StatusForbidden},
		{"other port", map[string]string{"Origin": "http://example.com:8080"}, http.StatusForbidden},
		{"null Origin", map[string]string{"Origin": "null"}, http.StatusForbidden},
		{"Sec-Fetch-Site cross-site", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"same-origin fetch", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://example.com"}, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/-/reload", strings.NewReader("x=1"))
			req.Header.Set("Content-Type", "text/plain")
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			f.mux.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Errorf("%d %q, want %d", rec.Code, rec.Body.String(), tc.want)
			}
		})
	}
}
