package landing

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dasha-exporter/dasha_exporter/accounts"
	"github.com/dasha-exporter/dasha_exporter/collector"
	"github.com/dasha-exporter/dasha_exporter/internal/fakeapi"
)

// The failing numbers of the last complete listing: name (or number),
// state, error, SIP answer, since, and the runbook section of the alert
// whose condition they meet.
func TestPageNamesTheFailingNumbers(t *testing.T) {
	srv := site(t)
	_, body := get(t, srv.URL+"/")
	// fakeapi.Fleet(40): numbers 0 and 20 fail with a 403, number 2 has
	// no status at all.
	for _, want := range []string{
		`<section class="details" id="account-ok" data-account="ok">`,
		`<td class="number">line 0 <span class="pn">&#43;14150000000</span></td><td class="state">Failed</td><td class="error">Registration rejected by the registrar: authentication failed</td><td class="sip">SIP/2.0 403 Forbidden</td><td class="since">`,
		`<td class="number">line 2 <span class="pn">&#43;14150000002</span></td><td class="state">Unknown</td><td class="error"></td><td class="sip"></td><td class="since">unknown</td>`,
		`<a class="runbook" href="https://github.com/dasha-exporter/dasha_exporter/blob/main/docs/runbook.md#dashasipregistrationfailing">Failing</a>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s\n%s", want, body)
		}
	}
	if n := strings.Count(body, `class="failing-number"`); n != 3 {
		t.Errorf("%d failing numbers shown, want 3", n)
	}
	if strings.Contains(body, "and 0 more") || strings.Contains(body, `class="more"`) {
		t.Error("\"and K more\" with nothing more")
	}
}

// At most 100 per account, the expired first, then "and K more"; an
// expired registration links to the Expired section.
func TestPageCapsTheFailingNumbers(t *testing.T) {
	now := time.Now()
	fleet := fakeapi.Fleet(300, now)
	for i := range fleet {
		fleet[i].Registration = true
		fleet[i].RegistrationStatus = &fakeapi.Status{State: fakeapi.Ptr("Failed"), ErrorDescription: fakeapi.Ptr("rejected")}
		if i == 250 {
			fleet[i].RegistrationStatus.ExpiresAt = fakeapi.Timestamp(now.Add(-time.Hour))
		}
	}
	api := httptest.NewServer(fakeapi.New("k", fleet))
	defer api.Close()
	srv, _ := flagsSite(t, api.URL, "")
	get(t, srv.URL+"/metrics")
	_, body := get(t, srv.URL+"/")
	if n := strings.Count(body, `class="failing-number"`); n != collector.MaxFailingKept {
		t.Errorf("%d failing numbers shown, want %d", n, collector.MaxFailingKept)
	}
	if !strings.Contains(body, `<p class="more">and 200 more</p>`) {
		t.Error(`page lacks "and 200 more"`)
	}
	first := regexp.MustCompile(`class="failing-number" data-id="([^"]+)".*?class="runbook" href="([^"]+)"`).FindStringSubmatch(body)
	if first == nil || first[1] != fleet[250].ID || !strings.HasSuffix(first[2], "runbook.md#dashasipregistrationexpired") {
		t.Errorf("first failing number %q, want the expired one linking to its section", first)
	}
}

// Recent listings: one row per listing (a cached one is the same
// listing), each with a link to its stored log, which answers that
// listing's request lines.
func TestPageLinksTheRecentListingsLogs(t *testing.T) {
	api := httptest.NewServer(fakeapi.New("k", fakeapi.Fleet(3, time.Now())))
	defer api.Close()
	srv, _ := flagsSite(t, api.URL, "1h")
	for range 3 {
		get(t, srv.URL+"/metrics") // one listing, then the cache
	}
	_, body := get(t, srv.URL+"/")
	if n := strings.Count(body, `<tr class="listing"`); n != 1 {
		t.Fatalf("%d recent listings shown, want 1 (the cached answers are the same listing)", n)
	}
	m := regexp.MustCompile(`<a class="log" href="(logs\?id=\d+&amp;target=default)">`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no log link:\n%s", body)
	}
	code, text := get(t, srv.URL+"/"+strings.ReplaceAll(m[1], "&amp;", "&"))
	if code != http.StatusOK || !strings.Contains(text, `of account "default"`) || !strings.Contains(text, "status=200") || strings.Contains(text, "dasha_up") {
		t.Errorf("the log link answers %d:\n%s", code, text)
	}
	if code, _ := get(t, srv.URL+"/logs?target=default&id=12345"); code != http.StatusNotFound {
		t.Errorf("an unknown id: %d, want 404", code)
	}
}

// flagsSite serves the flags' account on api with / , /metrics and /logs.
func flagsSite(t *testing.T, api, cacheTTL string) (*httptest.Server, *accounts.Registry) {
	t.Helper()
	ttl, _ := time.ParseDuration(cacheTTL)
	reg, err := accounts.NewRegistry(accounts.Flags{Account: accounts.Settings{Name: accounts.FlagsAccount, URL: api, KeyEnv: "DASHA_API_KEY",
		PageSize: 1000, Concurrency: 1, Timeout: 5 * time.Second, CacheTTL: ttl,
		Collector: collector.Options{States: collector.DefaultStates, HealthyStates: collector.DefaultHealthyStates}}},
		accounts.Options{Getenv: getter{"DASHA_API_KEY": "k"}.Get}, nil)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", reg.Get(accounts.FlagsAccount).Handler(nil))
	mux.Handle("/logs", reg.LogsHandler())
	mux.Handle("/", New(Options{Name: "Dasha exporter", Accounts: reg}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, reg
}

// manyAccounts is a registry of n accounts on one fake API of 3 numbers
// (one failing).
func manyAccounts(t testing.TB, n int) *accounts.Registry {
	return manyAccountsOn(t, n, fakeapi.Fleet(3, time.Now())) // number 0 fails
}

// manyAccountsOn is manyAccounts on a fake API serving fleet.
func manyAccountsOn(t testing.TB, n int, fleet []fakeapi.Number) *accounts.Registry {
	t.Helper()
	api := fakeapi.New("k", fleet)
	// Every answer closes its connection: 10,000 accounts' clients would
	// otherwise each keep one open.
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		api.ServeHTTP(w, r)
	}))
	t.Cleanup(good.Close)
	var cfg strings.Builder
	cfg.WriteString("accounts:\n")
	for i := range n {
		fmt.Fprintf(&cfg, "  acct-%05d:\n    url: %s\n    api_key_env: K\n", i, good.URL)
	}
	path := t.TempDir() + "/dasha.yml"
	writeFile(t, path, cfg.String())
	reg, err := accounts.NewRegistry(accounts.File(path), accounts.Options{
		Defaults: accounts.Defaults{Timeout: 5 * time.Second, PageSize: 1000, Concurrency: 1,
			Collector: collector.Options{States: collector.DefaultStates, HealthyStates: collector.DefaultHealthyStates}},
		Getenv: getter{"K": "k"}.Get,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// Many accounts: 100 a page, those that need attention first, details for
// the first 10; ?page=N and ?account=x show the rest.
func TestPageBoundsTheAccounts(t *testing.T) {
	reg := manyAccounts(t, 250)
	// Only acct-00200 lists (its number 0 fails): it comes first.
	probe := httptest.NewServer(reg.ProbeHandler())
	defer probe.Close()
	get(t, probe.URL+"/probe?target=acct-00200")
	srv := httptest.NewServer(New(Options{Name: "x", Accounts: reg}))
	defer srv.Close()

	_, body := get(t, srv.URL+"/")
	if n := strings.Count(body, `<tr class="account"`); n != PageSize {
		t.Errorf("page 1 shows %d accounts, want %d", n, PageSize)
	}
	if n := strings.Count(body, `<section class="details"`); n != DetailsPerPage {
		t.Errorf("page 1 shows %d details, want %d", n, DetailsPerPage)
	}
	if i, j := strings.Index(body, `data-account="acct-00200"`), strings.Index(body, `data-account="acct-00000"`); i < 0 || j < 0 || i > j {
		t.Error("the account with a failing number is not listed first")
	}
	for _, want := range []string{"Accounts 1–100 of 250", `href="?page=2"`, `href="?page=3"`, `href="#account-acct-00200"`, `href="?account=acct-00050"`} {
		if !strings.Contains(body, want) {
			t.Errorf("page 1 lacks %q", want)
		}
	}
	_, body = get(t, srv.URL+"/?page=3")
	if n := strings.Count(body, `<tr class="account"`); n != 50 || !strings.Contains(body, `data-account="acct-00249"`) || !strings.Contains(body, `href="?page=2"`) {
		t.Errorf("page 3 shows %d accounts", n)
	}
	_, body = get(t, srv.URL+"/?account=acct-00150")
	if strings.Count(body, `<tr class="account"`) != 1 || !strings.Contains(body, `<section class="details" id="account-acct-00150"`) || !strings.Contains(body, "None stored yet") {
		t.Errorf("?account= shows:\n%s", body)
	}
	for target, want := range map[string]int{"/?page=4": 404, "/?page=0": 400, "/?page=x": 400, "/?account=nobody": 404, "/?account=%3Cb%3E": 404} {
		if code, body := get(t, srv.URL+target); code != want || strings.Contains(body, "<b>") {
			t.Errorf("%s: %d %s, want %d", target, code, body, want)
		}
	}
}

// BenchmarkPage renders /: at 10,000 accounts, each listed once with a
// failing number (so every account needs attention); and the largest
// details a page holds, 10 accounts with more than 100 failing numbers
// each, their texts as long as real ones.
func BenchmarkPage(b *testing.B) {
	bench := func(b *testing.B, reg *accounts.Registry) {
		probe := reg.ProbeHandler()
		for _, a := range reg.Accounts() {
			probe.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/probe?target="+a.Settings.Name, nil))
		}
		h := New(Options{Name: "x", Accounts: reg})
		var size int
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			size = rec.Body.Len()
		}
		b.ReportMetric(float64(size), "bytes/page")
	}
	b.Run("10000-accounts", func(b *testing.B) { bench(b, manyAccounts(b, 10000)) })
	b.Run("full-details", func(b *testing.B) {
		fleet := fakeapi.Fleet(150, time.Now())
		for i := range fleet {
			fleet[i].Registration = true
			fleet[i].RegistrationStatus = &fakeapi.Status{State: fakeapi.Ptr("Failed"), SIPResponseMessage: fakeapi.Ptr("SIP/2.0 403 Forbidden"),
				ErrorDescription: fakeapi.Ptr("Registration rejected by the registrar: authentication failed"), LastUpdated: fakeapi.Timestamp(time.Now())}
		}
		bench(b, manyAccountsOn(b, 100, fleet))
	})
}

func writeFile(t testing.TB, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}
