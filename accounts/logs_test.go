package accounts

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dasha-exporter/dasha_exporter/collector"
)

// Each listing is stored once with its log; /logs answers that log as
// text (not a new listing, not the metrics), and 404 for what is not kept.
func TestLogsAnswerAStoredListing(t *testing.T) {
	api := newPlatform(t, "secret-key-123", 25)
	f := newFixture(t, "accounts:\n  a:\n    url: "+api.srv.URL+"\n    api_key_env: K\n    page_size: 10\n    cache_ttl: 1h\n  b:\n    url: "+api.srv.URL+"\n    api_key_env: K\n", map[string]string{"K": "secret-key-123"})
	f.mux.Handle("/logs", f.reg.LogsHandler())
	f.probe("a")
	f.probe("a") // from the cache: the same listing
	f.get("GET", "/probe?target=a&debug=true")
	recent := f.reg.Get("a").Recent()
	if len(recent) != 1 || recent[0].Numbers != 25 || recent[0].Requests != 3 {
		t.Fatalf("account a stored %+v, want its one listing", recent)
	}
	n := api.Requests()
	req := httptest.NewRequest("GET", fmt.Sprintf("/logs?target=a&id=%d", recent[0].ID), nil)
	rec := httptest.NewRecorder()
	f.mux.ServeHTTP(rec, req)
	body := rec.Body.String()
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "text/plain; charset=utf-8" || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("/logs: %d %v\n%s", rec.Code, rec.Header(), body)
	}
	for _, want := range []string{fmt.Sprintf(`Listing %d of account "a"`, recent[0].ID), "Complete: 25 numbers", "skip=0", "skip=20", "status=200"} {
		if !strings.Contains(body, want) {
			t.Errorf("/logs lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "secret-key-123") || strings.Contains(body, "dasha_up") {
		t.Errorf("/logs shows the key or metrics:\n%s", body)
	}
	if api.Requests() != n {
		t.Error("/logs listed the fleet")
	}
	if code, _ := f.get("HEAD", fmt.Sprintf("/logs?target=a&id=%d", recent[0].ID)); code != http.StatusOK {
		t.Errorf("HEAD /logs: %d", code)
	}
	for target, want := range map[string]int{
		fmt.Sprintf("/logs?target=b&id=%d", recent[0].ID): http.StatusNotFound, // another account's id
		"/logs?target=a&id=999":                           http.StatusNotFound,
		"/logs?target=nobody&id=1":                        http.StatusNotFound,
		"/logs?target=a&id=x":                             http.StatusBadRequest,
		"/logs?target=a":                                  http.StatusBadRequest,
		"/logs?id=1":                                      http.StatusBadRequest,
	} {
		if code, body := f.get("GET", target); code != want {
			t.Errorf("%s: %d %s, want %d", target, code, body, want)
		}
	}
	if code, body := f.get("GET", "/logs?target=a&id=999"); !strings.Contains(body, "No stored listing 999 of account \"a\"") || !strings.Contains(body, "last 8 listings") {
		t.Errorf("unknown id: %d %s", code, body)
	}
	if code, _ := f.get("POST", "/logs?target=a&id=1"); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /logs: %d", code)
	}
}

// A listing whose log was dropped for the logs' memory cap keeps its
// record: /logs answers it with 410 Gone (the listing is known, its log
// is gone for good), its record, and why, never the log.
func TestLogsOfADroppedLog(t *testing.T) {
	api := newPlatform(t, "k", 3)
	f := &fixture{t: t, dir: t.TempDir(), env: map[string]string{"K": "k"}}
	f.path = filepath.Join(f.dir, "dasha.yml")
	f.write("accounts:\n  a:\n    url: " + api.srv.URL + "\n    api_key_env: K\n")
	reg, err := NewRegistry(File(f.path), Options{Defaults: testDefaults, Getenv: func(k string) string { return f.env[k] },
		History: collector.NewHistory(8, 64)}, nil) // 64 bytes: less than any log
	if err != nil {
		t.Fatal(err)
	}
	f.reg, f.mux = reg, http.NewServeMux()
	f.mux.Handle("/probe", reg.ProbeHandler())
	f.mux.Handle("/logs", reg.LogsHandler())
	f.probe("a")
	recent := reg.Get("a").Recent()
	if len(recent) != 1 || !recent[0].LogDropped || recent[0].Numbers != 3 {
		t.Fatalf("account a stored %+v, want its listing without its log", recent)
	}
	target := fmt.Sprintf("/logs?target=a&id=%d", recent[0].ID)
	code, body := f.get("GET", target)
	for _, want := range []string{"dropped to bound memory", "at most 64 bytes of listings' logs across accounts, the oldest dropped first", fmt.Sprintf(`Listing %d of account "a"`, recent[0].ID), "Complete: 3 numbers"} {
		if !strings.Contains(body, want) {
			t.Errorf("/logs lacks %q:\n%s", want, body)
		}
	}
	if code != http.StatusGone || strings.Contains(body, "status=200") {
		t.Errorf("/logs of a dropped log: %d\n%s", code, body)
	}
	if code, _ := f.get("HEAD", target); code != http.StatusGone {
		t.Errorf("HEAD: %d, want 410", code)
	}
}

// A removed account's listings go; a changed one keeps them.
func TestHistoryFollowsReload(t *testing.T) {
	api := newPlatform(t, "k", 3)
	f := newFixture(t, "accounts:\n  a:\n    url: "+api.srv.URL+"\n    api_key_env: K\n  b:\n    url: "+api.srv.URL+"\n    api_key_env: K\n", map[string]string{"K": "k"})
	f.probe("a")
	f.probe("b")
	b := f.reg.Get("b")
	f.write("accounts:\n  a:\n    url: " + api.srv.URL + "\n    api_key_env: K\n    page_size: 2\n")
	if err := f.reg.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := f.reg.Get("a").Recent(); len(got) != 1 {
		t.Errorf("changed account a keeps %d listings, want 1", len(got))
	}
	if got := b.Recent(); len(got) != 0 {
		t.Errorf("removed account b keeps %d listings", len(got))
	}
}

// The start-up line of each account names its API, key source (under the
// naming rule), filters and tuning, never the key; a reload logs the new
// or changed accounts only.
func TestServingLine(t *testing.T) {
	key := keyFile(t, "file-key-456")
	var logs bytes.Buffer
	f := &fixture{t: t, dir: t.TempDir(), env: map[string]string{"ACME_KEY": "env-key-123"}}
	f.path = f.dir + "/dasha.yml"
	f.write("accounts:\n  acme:\n    platform: ru\n    api_key_env: ACME_KEY\n    provider_id: 0b6f3b5e-8f0c-4b8a-9a51-7d1f2c3e4a01\n    unlinked_only: true\n    page_size: 500\n" +
		"  lab:\n    url: https://dasha-proxy.internal:8443\n    api_key_file: " + key + "\n    proxy_url: http://user:pw@proxy.internal:3128\n" +
		"  hidden:\n    platform: us\n    api_key_env: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n")
	reg, err := NewRegistry(File(f.path), Options{Defaults: testDefaults, Getenv: func(k string) string { return f.env[k] }, Logger: slog.New(slog.NewTextHandler(&logs, nil))}, nil)
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string]string{}
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, `msg="serving account"`) {
			name := strings.Fields(l[strings.Index(l, "account="):])[0]
			lines[name] = l
		}
	}
	want := map[string]string{
		"account=acme":   `api="ru (https://blackbox.ru.dasha.ai)" key_source="api_key_env ACME_KEY" filters="provider_id=0b6f3b5e-8f0c-4b8a-9a51-7d1f2c3e4a01 unlinked_only=true" page_size=500 concurrency=4 cache_ttl=0s timeout=`,
		"account=lab":    `api=https://dasha-proxy.internal:8443 key_source="api_key_file ` + key + `" filters=none page_size=1000`,
		"account=hidden": `key_source="api_key_env of account \"hidden\" (line 14)"`,
	}
	for name, w := range want {
		if !strings.Contains(lines[name], w) {
			t.Errorf("%s: %q\nwant it to hold %q", name, lines[name], w)
		}
	}
	if l := lines["account=lab"]; !strings.Contains(l, "proxy_url=http://proxy.internal:3128") {
		t.Errorf("lab's proxy: %s", l)
	}
	for _, secret := range []string{"env-key-123", "file-key-456", "pw@", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the start-up log shows %q:\n%s", secret, logs.String())
		}
	}
	logs.Reset()
	f.write("accounts:\n  acme:\n    platform: ru\n    api_key_env: ACME_KEY\n    provider_id: 0b6f3b5e-8f0c-4b8a-9a51-7d1f2c3e4a01\n    unlinked_only: true\n    page_size: 500\n" +
		"  lab:\n    url: https://dasha-proxy.internal:8443\n    api_key_file: " + key + "\n    page_size: 7\n")
	if err := reg.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(logs.String(), `msg="serving account"`); got != 1 || !strings.Contains(logs.String(), "account=lab") {
		t.Errorf("a reload that changed lab logged:\n%s", logs.String())
	}
}

// sizeText writes whole mebibytes as such and anything else in bytes.
func TestSizeText(t *testing.T) {
	for n, want := range map[int]string{
		1 << 20:       "1 MiB",
		32 << 20:      "32 MiB",
		1<<20 - 1:     "1048575 bytes",
		1<<20 + 1:     "1048577 bytes",
		3<<20 + 1<<19: "3670016 bytes",
		1000:          "1000 bytes",
		0:             "0 bytes",
	} {
		if got := sizeText(n); got != want {
			t.Errorf("sizeText(%d) = %q, want %q", n, got, want)
		}
	}
}
