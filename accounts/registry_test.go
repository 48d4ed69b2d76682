package accounts

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/dasha-exporter/dasha_exporter/internal/fakeapi"
)

// platform is a fake API that records which keys reached it.
type platform struct {
	*fakeapi.Server
	srv *httptest.Server

	mu   sync.Mutex
	keys []string
}

func newPlatform(t testing.TB, key string, numbers int) *platform {
	t.Helper()
	p := &platform{Server: fakeapi.New(key, fakeapi.Fleet(numbers, time.Now()))}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.keys = append(p.keys, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		p.mu.Unlock()
		p.ServeHTTP(w, r)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *platform) seenKeys() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := slices.Clone(p.keys)
	slices.Sort(out)
	return slices.Compact(out)
}

// fixture is a registry on a configuration file in a temporary directory.
type fixture struct {
	t    testing.TB
	dir  string
	path string
	reg  *Registry
	prom *prometheus.Registry
	mux  *http.ServeMux
	env  map[string]string
}

func newFixture(t testing.TB, cfg string, env map[string]string) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: t.TempDir(), prom: prometheus.NewRegistry(), env: env}
	f.path = filepath.Join(f.dir, "dasha.yml")
	f.write(cfg)
	reg, err := NewRegistry(File(f.path), Options{Defaults: testDefaults, Getenv: func(k string) string { return f.env[k] }}, f.prom)
	if err != nil {
		t.Fatal(err)
	}
	f.reg = reg
	f.mux = http.NewServeMux()
	f.mux.Handle("/probe", reg.ProbeHandler())
	f.mux.Handle("/-/reload", reg.ReloadHandler())
	return f
}

func (f *fixture) write(cfg string) {
	f.t.Helper()
	if err := os.WriteFile(f.path, []byte(cfg), 0o600); err != nil {
		f.t.Fatal(err)
	}
}

func keyFile(t *testing.T, key string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(p, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// get answers a request to the fixture's handlers.
func (f *fixture) get(method, target string) (int, string) {
	req := httptest.NewRequest(method, target, nil)
	rec := httptest.NewRecorder()
	f.mux.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// probe answers /probe?target=name and parses the exposition.
func (f *fixture) probe(name string) map[string]float64 {
	f.t.Helper()
	code, body := f.get("GET", "/probe?target="+url.QueryEscape(name))
	if code != http.StatusOK {
		f.t.Fatalf("probe %s: %d %s", name, code, body)
	}
	return samples(f.t, body)
}

// samples maps each unlabelled sample's name (and dasha_up etc.) to its
// value, and counts the per-number series under "series".
func samples(t testing.TB, body string) map[string]float64 {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parsing the probe: %v\n%s", err, body)
	}
	out := map[string]float64{}
	for name, mf := range mfs {
		for _, m := range mf.Metric {
			if len(m.Label) == 0 && m.Gauge != nil {
				out[name] = m.Gauge.GetValue()
			} else {
				out["series"]++
			}
		}
	}
	return out
}

func TestTwoPlatformsOneFailing(t *testing.T) {
	us := newPlatform(t, "key-us", 30)
	ru := newPlatform(t, "key-ru", 12)
	f := newFixture(t, fmt.Sprintf(`accounts:
  acme-us:
    url: %s
    api_key_file: %s
  acme-ru:
    url: %s
    api_key_env: RU_KEY
  stale:
    url: %s
    api_key_file: %s
`, us.srv.URL, keyFile(t, "key-us"), ru.srv.URL, ru.srv.URL, keyFile(t, "key-revoked")), map[string]string{"RU_KEY": "key-ru"})

	if got := f.probe("acme-us"); got["dasha_up"] != 1 || got["dasha_sip_phone_numbers"] != 30 {
		t.Errorf("acme-us: up %v, numbers %v", got["dasha_up"], got["dasha_sip_phone_numbers"])
	}
	if got := f.probe("acme-ru"); got["dasha_up"] != 1 || got["dasha_sip_phone_numbers"] != 12 {
		t.Errorf("acme-ru: up %v, numbers %v", got["dasha_up"], got["dasha_sip_phone_numbers"])
	}
	got := f.probe("stale")
	if got["dasha_up"] != 0 || got["series"] != 0 {
		t.Errorf("stale: up %v with %v per-number series, want 0 and none", got["dasha_up"], got["series"])
	}
	if _, ok := got["go_goroutines"]; ok {
		t.Error("a probe answers the exporter's own metrics; they belong on /metrics")
	}
	// The failing account did not disturb the others.
	if got := f.probe("acme-us"); got["dasha_up"] != 1 {
		t.Errorf("acme-us after the failing probe: up %v", got["dasha_up"])
	}
	// No key crossed to the other platform.
	if k := us.seenKeys(); !slices.Equal(k, []string{"key-us"}) {
		t.Errorf("the us fake saw keys %q, want only key-us", k)
	}
	if k := ru.seenKeys(); !slices.Equal(k, []string{"key-revoked", "key-ru"}) {
		t.Errorf("the ru fake saw keys %q, want key-ru and the stale account's", k)
	}
	// The exporter's own metrics count per account.
	want := `
# HELP dasha_api_requests_total Requests made to the Dasha BlackBox API, by HTTP status code (code="error" when no answer came).
# TYPE dasha_api_requests_total counter
dasha_api_requests_total{account="acme-ru",code="200"} 1
dasha_api_requests_total{account="acme-us",code="200"} 2
dasha_api_requests_total{account="stale",code="401"} 1
`
	if err := testutil.GatherAndCompare(f.prom, strings.NewReader(want), "dasha_api_requests_total"); err != nil {
		t.Error(err)
	}
	// The landing page's view.
	st := f.reg.Get("stale").Last()
	if st.Err == "" || !strings.Contains(st.Err, "401") {
		t.Errorf("stale status error %q, want the 401", st.Err)
	}
	if st := f.reg.Get("acme-us").Last(); st.Err != "" || st.Numbers != 30 || st.Unhealthy != 3 {
		t.Errorf("acme-us status %+v, want 30 numbers, 3 unhealthy (2 failing, 1 without a status)", st)
	}
}

func TestProbeRefusesBadTargetsWithoutARequest(t *testing.T) {
	us := newPlatform(t, "", 3)
	f := newFixture(t, "accounts:\n  a:\n    url: "+us.srv.URL+"\n    api_key_env: K\n", map[string]string{"K": "k"})
	for _, tc := range []struct{ method, target, want string }{
		{"GET", "/probe", "Missing target"},
		{"GET", "/probe?target=", "Missing target"},
		{"GET", "/probe?target=a&target=a", "given 2 times"},
		{"GET", "/probe?target=" + url.QueryEscape(us.srv.URL), "looks like a URL"},
		{"GET", "/probe?target=" + url.QueryEscape(strings.TrimPrefix(us.srv.URL, "http://")), "looks like a URL"},
		{"GET", "/probe?target=a%2Fb", "looks like a URL"},
		{"GET", "/probe?target=-a", "not an account name"},
		{"GET", "/probe?target=%zz", "Malformed query"},
		{"GET", "/probe?target=nobody", `Unknown target "nobody"`},
		{"GET", "/probe?target=a&debug=maybe", `debug="maybe" is not true or false`},
		{"POST", "/probe?target=a", "Method not allowed"},
	} {
		code, body := f.get(tc.method, tc.target)
		want := http.StatusBadRequest
		if tc.method != "GET" {
			want = http.StatusMethodNotAllowed
		}
		if code != want || !strings.Contains(body, tc.want) {
			t.Errorf("%s %s: %d %q, want %d with %q", tc.method, tc.target, code, body, want, tc.want)
		}
	}
	if n := us.Requests(); n != 0 {
		t.Errorf("bad targets sent %d requests to the API", n)
	}
	if code, _ := f.get("HEAD", "/probe?target=a"); code != http.StatusOK {
		t.Errorf("HEAD: %d", code)
	}
}

// TestMethodNotAllowed checks that each handler's 405 names in Allow the
// methods it takes.
func TestMethodNotAllowed(t *testing.T) {
	f := newFixture(t, "accounts:\n  a:\n    url: http://127.0.0.1:1\n    api_key_env: K\n", map[string]string{"K": "k"})
	for _, tc := range []struct{ method, target, allow string }{
		{"POST", "/probe?target=a", "GET, HEAD"},
		{"DELETE", "/probe?target=a", "GET, HEAD"},
		{"GET", "/-/reload", "POST, PUT"},
		{"HEAD", "/-/reload", "POST, PUT"},
	} {
		rec := httptest.NewRecorder()
		f.mux.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.target, nil))
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d, Allow %q; want 405, Allow %q", tc.method, tc.target, rec.Code, rec.Header().Get("Allow"), tc.allow)
		}
	}
}

func TestReload(t *testing.T) {
	api := newPlatform(t, "", 5)
	other := newPlatform(t, "", 7)
	cfg := func(accounts ...string) string {
		return "accounts:\n" + strings.Join(accounts, "")
	}
	keep := "  keep:\n    url: " + api.srv.URL + "\n    api_key_env: K\n    cache_ttl: 1h\n"
	change := "  change:\n    url: " + api.srv.URL + "\n    api_key_env: K\n    cache_ttl: 1h\n"
	changed := "  change:\n    url: " + other.srv.URL + "\n    api_key_env: K\n    cache_ttl: 1h\n"
	gone := "  gone:\n    url: " + api.srv.URL + "\n    api_key_env: K\n"
	f := newFixture(t, cfg(keep, change, gone), map[string]string{"K": "k"})
	okMetric := func(want float64) {
		t.Helper()
		if err := testutil.GatherAndCompare(f.prom, strings.NewReader(fmt.Sprintf(`
# HELP dasha_exporter_config_last_reload_successful 1 if the last load of the configuration file succeeded, else 0 (the previous configuration is kept).
# TYPE dasha_exporter_config_last_reload_successful gauge
dasha_exporter_config_last_reload_successful %v
`, want)), "dasha_exporter_config_last_reload_successful"); err != nil {
			t.Error(err)
		}
	}
	okMetric(1)
	f.probe("keep")
	f.probe("change")
	f.probe("gone")
	keepAcct := f.reg.Get("keep")
	before := api.Requests()

	// A bad file keeps everything as it was.
	f.write(cfg(keep, change, gone) + "  broken:\n    platform: us\n")
	code, body := f.get("POST", "/-/reload")
	if code != http.StatusInternalServerError || !strings.Contains(body, `account "broken": no API key source`) {
		t.Errorf("reload of a bad file: %d %q", code, body)
	}
	okMetric(0)
	if got := f.probe("gone"); got["dasha_up"] != 1 {
		t.Errorf("after a bad reload the running configuration does not answer: %v", got)
	}
	if code, _ := f.get("GET", "/-/reload"); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /-/reload: %d, want 405", code)
	}

	// A good file: keep unchanged, change rebuilt, gone removed.
	f.write(cfg(keep, changed))
	if code, body := f.get("POST", "/-/reload"); code != http.StatusOK {
		t.Fatalf("reload: %d %q", code, body)
	}
	okMetric(1)
	if f.reg.Get("keep") != keepAcct {
		t.Error("an unchanged account was rebuilt")
	}
	api0 := api.Requests()
	if got := f.probe("keep"); got["dasha_up"] != 1 || api.Requests() != api0 {
		t.Errorf("an unchanged account lost its cache: up %v, %d new requests", got["dasha_up"], api.Requests()-api0)
	}
	if got := f.probe("change"); got["dasha_sip_phone_numbers"] != 7 {
		t.Errorf("a changed account still lists the old API: %v numbers", got["dasha_sip_phone_numbers"])
	}
	if code, body := f.get("GET", "/probe?target=gone"); code != http.StatusBadRequest {
		t.Errorf("a removed account still answers: %d %q", code, body)
	}
	if api.Requests() != before+1 { // the "gone" probe during the bad reload
		t.Errorf("the API saw %d requests after the reloads, want 1", api.Requests()-before)
	}
	if n, err := testutil.GatherAndCount(f.prom, "dasha_api_requests_total"); err != nil || n != 2 {
		t.Errorf("dasha_api_requests_total has %d series (%v), want 2 (the removed account's gone)", n, err)
	}
}

// TestReloadDuringProbes reloads, adds and removes accounts while probes
// run; with -race it checks that the swap is safe and in-flight probes
// finish with an answer.
func TestReloadDuringProbes(t *testing.T) {
	api := newPlatform(t, "", 50)
	api.Latency = 20 * time.Millisecond
	base := "accounts:\n  a:\n    url: " + api.srv.URL + "\n    api_key_env: K\n    page_size: 10\n"
	f := newFixture(t, base, map[string]string{"K": "k"})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				code, body := f.get("GET", "/probe?target=a")
				if code != http.StatusOK || !strings.Contains(body, "dasha_up 1") {
					t.Errorf("probe during reloads: %d\n%s", code, body)
					return
				}
			}
		}()
	}
	for i := range 20 {
		extra := fmt.Sprintf("  b%d:\n    url: %s\n    api_key_env: K\n", i, api.srv.URL)
		if i%3 == 0 {
			extra = "  a:\n    broken: yes\n" // a bad file now and then
		}
		f.write(base + extra)
		f.reg.Reload()
		f.reg.Accounts()
	}
	close(stop)
	wg.Wait()
}

func TestDebugSharesTheListing(t *testing.T) {
	api := newPlatform(t, "secret-key-123", 25)
	f := newFixture(t, "accounts:\n  a:\n    url: "+api.srv.URL+"\n    api_key_env: K\n    page_size: 10\n    cache_ttl: 1h\n", map[string]string{"K": "secret-key-123"})
	code, body := f.get("GET", "/probe?target=a&debug=true")
	if code != http.StatusOK {
		t.Fatalf("debug: %d %s", code, body)
	}
	for _, want := range []string{`Probe of account "a"`, "API request", "skip=0", "skip=20", "status=200", "Metrics that would have been returned", "dasha_up 1", "dasha_sip_phone_numbers 25"} {
		if !strings.Contains(body, want) {
			t.Errorf("debug output lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "secret-key-123") {
		t.Errorf("debug output shows the key:\n%s", body)
	}
	n := api.Requests()
	// A second debug request reuses the account's cache like any probe.
	_, body = f.get("GET", "/probe?target=a&debug=1")
	if api.Requests() != n {
		t.Errorf("a debug request bypassed the cache: %d requests", api.Requests()-n)
	}
	// It shows the log of the listing it got: the cached one.
	for _, want := range []string{"reused from the cache", "skip=0", "skip=20", "status=200", "dasha_sip_phone_numbers 25"} {
		if !strings.Contains(body, want) {
			t.Errorf("the second debug output lacks %q:\n%s", want, body)
		}
	}
}

func TestDebugRedactsAnEchoedKey(t *testing.T) {
	api := newPlatform(t, "", 1)
	api.SetInterceptor(func(w http.ResponseWriter, r *http.Request, page int) bool {
		// An API that echoes the key in an error body.
		fakeapi.WriteProblem(w, http.StatusUnauthorized, "Unauthorized", "key "+strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")+" is revoked")
		return true
	})
	f := newFixture(t, "accounts:\n  a:\n    url: "+api.srv.URL+"\n    api_key_env: K\n", map[string]string{"K": "echoed-key-456"})
	_, body := f.get("GET", "/probe?target=a&debug=true")
	if strings.Contains(body, "echoed-key-456") || !strings.Contains(body, "401") {
		t.Errorf("debug output:\n%s", body)
	}
	if st := f.reg.Get("a").Last(); strings.Contains(st.Err, "echoed-key-456") || st.Err == "" {
		t.Errorf("status error %q", st.Err)
	}
}

// TestIsolation holds one account's API until the other account's probe
// has answered: a slow account never delays another's probe. The figures
// are logged (see the note); the test asserts only the order.
func TestIsolation(t *testing.T) {
	slow := newPlatform(t, "", 10)
	fast := newPlatform(t, "", 300)
	release := make(chan struct{})
	slow.SetInterceptor(func(w http.ResponseWriter, r *http.Request, page int) bool {
		<-release
		return false
	})
	f := newFixture(t, fmt.Sprintf("accounts:\n  slow:\n    url: %s\n    api_key_env: K\n  fast:\n    url: %s\n    api_key_env: K\n    page_size: 50\n", slow.srv.URL, fast.srv.URL), map[string]string{"K": "k"})

	probeFast := func() time.Duration {
		var took []time.Duration
		for range 5 {
			start := time.Now()
			got := f.probe("fast")
			took = append(took, time.Since(start))
			if got["dasha_up"] != 1 || got["dasha_sip_phone_numbers"] != 300 {
				t.Fatalf("fast account: %v", got)
			}
		}
		slices.Sort(took)
		return took[2]
	}
	alone := probeFast()

	slowDone := make(chan time.Duration)
	for range 3 { // three scrapes of the slow account wait on it
		go func() {
			start := time.Now()
			f.get("GET", "/probe?target=slow")
			slowDone <- time.Since(start)
		}()
	}
	for slow.Requests() == 0 {
		time.Sleep(time.Millisecond)
	}
	beside := probeFast()
	t.Logf("fast account (300 numbers, 6 pages of 50), median of 5 probes: %v alone, %v while three probes of the slow account hang", alone, beside)
	close(release)
	for range 3 {
		t.Logf("slow account's probe answered after %v", <-slowDone)
	}
	if n := slow.Requests(); n != 1 {
		t.Errorf("three concurrent slow probes sent %d first-page requests, want 1 shared listing", n)
	}
}

// TestStatusKeepsAPIText checks the account status strings arrive as the API
// sent them; the landing page (its own package) escapes them.
func TestStatusKeepsAPIText(t *testing.T) {
	api := newPlatform(t, "", 1)
	api.SetInterceptor(func(w http.ResponseWriter, r *http.Request, page int) bool {
		fakeapi.WriteProblem(w, http.StatusForbidden, "Forbidden", "<script>alert(1)</script>")
		return true
	})
	f := newFixture(t, "accounts:\n  a:\n    url: "+api.srv.URL+"\n    api_key_env: K\n", map[string]string{"K": "k"})
	f.probe("a")
	if st := f.reg.Get("a").Last(); !strings.Contains(st.Err, "<script>") {
		t.Errorf("status error %q", st.Err)
	}
}

// TestRemovedAccountFinishesProbesInFlight removes an account while a probe
// of it waits on its API: new probes get 400 at once, the one in flight
// still gets its listing.
func TestRemovedAccountFinishesProbesInFlight(t *testing.T) {
	api := newPlatform(t, "", 5)
	release := make(chan struct{})
	api.SetInterceptor(func(w http.ResponseWriter, r *http.Request, page int) bool {
		<-release
		return false
	})
	other := newPlatform(t, "", 1)
	f := newFixture(t, "accounts:\n  a:\n    url: "+api.srv.URL+"\n    api_key_env: K\n  b:\n    url: "+other.srv.URL+"\n    api_key_env: K\n", map[string]string{"K": "k"})
	done := make(chan string)
	go func() {
		_, body := f.get("GET", "/probe?target=a")
		done <- body
	}()
	for api.Requests() == 0 {
		time.Sleep(time.Millisecond)
	}
	f.write("accounts:\n  b:\n    url: " + other.srv.URL + "\n    api_key_env: K\n")
	if err := f.reg.Reload(); err != nil {
		t.Fatal(err)
	}
	if code, _ := f.get("GET", "/probe?target=a"); code != http.StatusBadRequest {
		t.Errorf("a removed account answers new probes: %d", code)
	}
	close(release)
	if body := <-done; !strings.Contains(body, "dasha_up 1") || !strings.Contains(body, "dasha_sip_phone_numbers 5") {
		t.Errorf("the probe in flight during the removal answered:\n%s", body)
	}
	// The removed account's request series went with it and stay gone
	// after its last probe counted its requests: nothing resurrects them.
	mfs, err := f.prom.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.Metric {
			for _, l := range m.Label {
				if l.GetName() == "account" && l.GetValue() == "a" {
					t.Errorf("%s still has a series of the removed account: %v", mf.GetName(), m)
				}
			}
		}
	}
}

func TestDebugOutputIsBounded(t *testing.T) {
	b := &boundedBuffer{max: maxDebugMetrics}
	chunk := bytes.Repeat([]byte("x"), 1<<20)
	for range 6 {
		if n, err := b.Write(chunk); n != len(chunk) || err != nil {
			t.Fatalf("Write: %d, %v", n, err)
		}
	}
	if b.buf.Len() != maxDebugMetrics || b.dropped != 6<<20-maxDebugMetrics {
		t.Errorf("kept %d, dropped %d", b.buf.Len(), b.dropped)
	}
}
