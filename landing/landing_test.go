package landing

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dasha-exporter/dasha_exporter/accounts"
	"github.com/dasha-exporter/dasha_exporter/collector"
	"github.com/dasha-exporter/dasha_exporter/internal/fakeapi"
)

// xss is an error text an API (or anything between it and the exporter)
// might send: the page must show it as text.
const xss = `<script>window.__xss=1</script><img src=x onerror="window.__xss=2">`

// site serves the landing page, /probe, /metrics and the health endpoints
// for two accounts: "ok" on a healthy fake API and "broken" on one that
// answers every request with a 403 (not retried) whose body carries xss.
func site(t *testing.T) *httptest.Server {
	srv, _, _ := siteWithConfig(t)
	return srv
}

// siteWithConfig is site, with the registry and its configuration file.
func siteWithConfig(t *testing.T) (*httptest.Server, *accounts.Registry, string) {
	t.Helper()
	good := httptest.NewServer(fakeapi.New("good-key", fakeapi.Fleet(40, time.Now())))
	t.Cleanup(good.Close)
	badAPI := fakeapi.New("", nil)
	badAPI.SetInterceptor(func(w http.ResponseWriter, r *http.Request, page int) bool {
		fakeapi.WriteProblem(w, http.StatusForbidden, "Forbidden", xss)
		return true
	})
	bad := httptest.NewServer(badAPI)
	t.Cleanup(bad.Close)

	dir := t.TempDir()
	path := filepath.Join(dir, "dasha.yml")
	cfg := "accounts:\n  ok:\n    url: " + good.URL + "\n    api_key_env: GOOD\n  broken:\n    url: " + bad.URL + "\n    api_key_env: GOOD\n    timeout: 300ms\n  nokey:\n    platform: ru\n    api_key_env: UNSET\n"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	prom := prometheus.NewRegistry()
	reg, err := accounts.NewRegistry(accounts.File(path), accounts.Options{
		Defaults: accounts.Defaults{Timeout: 5 * time.Second, PageSize: 1000, Concurrency: 4,
			Collector: collector.Options{States: collector.DefaultStates, HealthyStates: collector.DefaultHealthyStates}},
		Getenv: getter{"GOOD": "good-key"}.Get,
	}, prom)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/probe", reg.ProbeHandler())
	mux.Handle("/logs", reg.LogsHandler())
	mux.Handle("/metrics", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("# metrics\n")) }))
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("Healthy.\n")) })
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("Ready.\n")) })
	mux.Handle("/", New(Options{
		Name:     "Dasha exporter",
		Version:  "test",
		Links:    []Link{{"/metrics", "Metrics"}, {"/-/healthy", "Health"}, {"/-/ready", "Readiness"}},
		Accounts: reg,
	}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	// One probe each, so that the page has listings to show.
	for _, name := range []string{"ok", "broken"} {
		resp, err := http.Get(srv.URL + "/probe?target=" + name)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	return srv, reg, path
}

type getter map[string]string

func (g getter) Get(k string) string { return g[k] }

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestPageEscapesAndLists(t *testing.T) {
	srv := site(t)
	code, body := get(t, srv.URL+"/")
	if code != http.StatusOK {
		t.Fatalf("GET /: %d", code)
	}
	for _, want := range []string{
		`data-account="ok"`, `data-account="broken"`, `data-account="nokey"`,
		"https://blackbox.ru.dasha.ai", `href="probe?target=ok"`, `href="probe?debug=true&amp;target=ok"`,
		"&lt;script&gt;window.__xss=1&lt;/script&gt;", "complete", "failed:", "no key:",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>") || strings.Contains(body, "good-key") {
		t.Errorf("page carries raw markup from the API or a key:\n%s", body)
	}
	if code, _ := get(t, srv.URL+"/nothing"); code != http.StatusNotFound {
		t.Errorf("GET /nothing: %d, want 404", code)
	}
}

// The flags' account is shown as any account, named default, with its
// probe and debug links.
func TestSingleAccountPage(t *testing.T) {
	api := httptest.NewServer(fakeapi.New("k", fakeapi.Fleet(3, time.Now())))
	defer api.Close()
	reg, err := accounts.NewRegistry(accounts.Flags{Account: accounts.Settings{Name: accounts.FlagsAccount, URL: api.URL, KeyEnv: "DASHA_API_KEY",
		PageSize: 1000, Concurrency: 1, Timeout: time.Second,
		Collector: collector.Options{States: collector.DefaultStates, HealthyStates: collector.DefaultHealthyStates}}},
		accounts.Options{Getenv: getter{"DASHA_API_KEY": "k"}.Get}, nil)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", reg.Get(accounts.FlagsAccount).Handler(nil))
	mux.Handle("/", New(Options{Name: "Dasha exporter", Links: []Link{{"/metrics", "Metrics"}}, Accounts: reg}))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	get(t, srv.URL+"/metrics")
	_, body := get(t, srv.URL+"/")
	for _, want := range []string{`<td class="name">default</td>`, api.URL, `href="/metrics"`, `<td class="numbers">3</td>`, `href="probe?target=default"`, `href="probe?debug=true&amp;target=default"`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "Configuration file") {
		t.Error("the flags' page shows a configuration file")
	}
}

func TestPageShowsAFailedReload(t *testing.T) {
	srv, reg, path := siteWithConfig(t)
	if _, body := get(t, srv.URL+"/"); !strings.Contains(body, "Configuration file <code>"+path+"</code>") || strings.Contains(body, "failed; the configuration above still runs") {
		t.Errorf("page after a good load:\n%s", body)
	}
	if err := os.WriteFile(path, []byte("accounts:\n  ok:\n    platform: us\n    api_key_env: GOOD\n    colour: <b>red</b>\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if reg.Reload() == nil {
		t.Fatal("a bad file reloaded")
	}
	_, body := get(t, srv.URL+"/")
	for _, want := range []string{"failed; the configuration above still runs", `line 5: account &#34;ok&#34;: colour: unknown field`, `data-account="broken"`} {
		if !strings.Contains(body, want) {
			t.Errorf("page after a bad reload lacks %q:\n%s", want, body)
		}
	}
}
