package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dasha-exporter/dasha_exporter/internal/fakeapi"
)

const testKey = "sk-test-5ecret-value"

// newTestClient serves fake over httptest and returns a client of it.
func newTestClient(t *testing.T, fake http.Handler, mutate func(*Config)) (*Client, *Metrics, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	m := NewMetrics(prometheus.NewRegistry())
	cfg := Config{BaseURL: u, Key: StaticKey(testKey), PageSize: 10, Concurrency: 3, Metrics: m}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, m, srv
}

func listCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestListPagesThroughEveryNumber(t *testing.T) {
	fake := fakeapi.New(testKey, ftNumbers(35))
	c, m, _ := newTestClient(t, fake, nil)

	for round := 1; round <= 2; round++ {
		l, err := c.List(listCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		if l.Len() != 35 {
			t.Fatalf("round %d: got %d numbers, want 35", round, l.Len())
		}
		seen := map[string]bool{}
		for _, n := range l.All() {
			if seen[n.ID] {
				t.Fatalf("id %s listed twice", n.ID)
			}
			seen[strings.Clone(n.ID)] = true // All reuses it
		}
		if l.Requests != 4 {
			t.Errorf("round %d: %d requests, want 4 pages of 10", round, l.Requests)
		}
	}
	if got := testutil.ToFloat64(m.Requests.WithLabelValues("200")); got != 8 {
		t.Errorf("dasha_api_requests_total{code=200} = %v, want 8", got)
	}
	if got := testutil.CollectAndCount(m.Duration); got != 1 {
		t.Errorf("duration histogram series = %d", got)
	}
}

func TestListEmptyFleet(t *testing.T) {
	c, _, _ := newTestClient(t, fakeapi.New(testKey, nil), nil)
	l, err := c.List(listCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if l.Len() != 0 || l.Requests != 1 {
		t.Fatalf("got %d numbers in %d requests, want 0 in 1", l.Len(), l.Requests)
	}
}

func TestListPassesFilters(t *testing.T) {
	var got url.Values
	fake := fakeapi.New(testKey, ftNumbers(3))
	c, _, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.URL.Query()
		fake.ServeHTTP(w, r)
	}), func(cfg *Config) {
		cfg.Filters = Filters{PhoneNumber: "+15550000001", ProviderID: "3c90c3cc-0d44-4b50-8888-8dd25736052a", LinkedAgentID: "agent-7", UnlinkedOnly: true}
		cfg.PageSize = 1000
	})
	if _, err := c.List(listCtx(t)); err != nil {
		t.Fatal(err)
	}
	want := url.Values{
		"skip": {"0"}, "take": {"1000"}, "phoneNumber": {"+15550000001"},
		"providerId": {"3c90c3cc-0d44-4b50-8888-8dd25736052a"}, "linkedAgentId": {"agent-7"}, "unlinkedOnly": {"true"},
	}
	if got.Encode() != want.Encode() {
		t.Errorf("query = %s, want %s", got.Encode(), want.Encode())
	}
}

func TestListKeepsBasePath(t *testing.T) {
	var path string
	fake := fakeapi.New(testKey, ftNumbers(1))
	c, _, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.Path
		r.URL.Path = strings.TrimPrefix(r.URL.Path, "/proxy")
		fake.ServeHTTP(w, r)
	}), func(cfg *Config) { cfg.BaseURL = cfg.BaseURL.JoinPath("/proxy/") })
	if _, err := c.List(listCtx(t)); err != nil {
		t.Fatal(err)
	}
	if path != "/proxy/api/v1/sip-phone-numbers" {
		t.Errorf("path = %q", path)
	}
}

func TestDecodeNullsAndTimestamps(t *testing.T) {
	body := `{"items":[
	  {"id":"a","orgId":null,"phoneNumber":"+1","credentialsId":null,"registrationStatus":null,
	   "description":null,"displayName":null,"registration":true,"providerId":null,"incomingCallsAgentId":null},
	  {"id":"b","phoneNumber":"+2","registration":false,
	   "registrationStatus":{"state":null,"errorDescription":null,"sipResponseMessage":null,"lastUpdated":null,"expiresAt":null}},
	  {"id":"c","phoneNumber":"+3","displayName":"Quote \" back \\ nl \n","registrationStatus":{"state":"Registered",
	   "lastUpdated":"2023-11-07T05:31:56.1234567Z","expiresAt":"2023-11-07T06:31:56+00:00"}},
	  {"id":"d","phoneNumber":"+4","registrationStatus":{"state":"SomethingNew","lastUpdated":"2023-11-07T05:31:56.1234567",
	   "expiresAt":"2023-11-07T08:31:56+02:00"}},
	  {"id":"e","phoneNumber":"+5","registrationStatus":{"expiresAt":""}}
	],"totalCount":5,"skip":0,"take":1000}`
	p, err := decodePage(strings.NewReader(body), -1, 1000, testKey)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Items) != 5 || *p.TotalCount != 5 {
		t.Fatalf("got %d items, total %d", len(p.Items), *p.TotalCount)
	}
	a, b, c, d, e := p.Items[0], p.Items[1], p.Items[2], p.Items[3], p.Items[4]
	if a.RegistrationStatus != nil || a.DisplayName != "" || a.OrgID != "" || !a.Registration {
		t.Errorf("a = %+v", a)
	}
	if b.RegistrationStatus == nil || b.RegistrationStatus.State != "" || b.RegistrationStatus.ExpiresAt.IsSet() {
		t.Errorf("b = %+v", b.RegistrationStatus)
	}
	if c.DisplayName != "Quote \" back \\ nl \n" {
		t.Errorf("c display name = %q", c.DisplayName)
	}
	wantLast := time.Date(2023, 11, 7, 5, 31, 56, 123456700, time.UTC)
	if got := c.RegistrationStatus.LastUpdated.Time; !got.Equal(wantLast) {
		t.Errorf("7-digit fraction: got %v, want %v", got, wantLast)
	}
	if got := c.RegistrationStatus.ExpiresAt.Time; !got.Equal(time.Date(2023, 11, 7, 6, 31, 56, 0, time.UTC)) {
		t.Errorf("+00:00 offset: got %v", got)
	}
	if got := d.RegistrationStatus.LastUpdated.Time; !got.Equal(wantLast) {
		t.Errorf("no offset (taken as UTC): got %v", got)
	}
	if got := d.RegistrationStatus.ExpiresAt.Time; !got.Equal(time.Date(2023, 11, 7, 6, 31, 56, 0, time.UTC)) {
		t.Errorf("+02:00 offset: got %v", got)
	}
	if d.RegistrationStatus.State != "SomethingNew" {
		t.Errorf("unknown state lost: %q", d.RegistrationStatus.State)
	}
	if e.RegistrationStatus.ExpiresAt.IsSet() {
		t.Errorf("empty timestamp should be unset")
	}
}

func TestDecodeRejectsBadPages(t *testing.T) {
	for name, tc := range map[string]struct{ body, want string }{
		"html":          {"<html>Bad gateway</html>", "not the expected JSON"},
		"empty":         {"", "empty"},
		"cut off":       {`{"items":[{"id":"a"`, "cut off"},
		"no totalCount": {`{"items":[]}`, "no totalCount"},
		"negative":      {`{"items":[],"totalCount":-1}`, "negative totalCount"},
		"no id":         {`{"items":[{"phoneNumber":"+1"}],"totalCount":1}`, "no id"},
		"bad timestamp": {`{"items":[{"id":"a"},{"id":"b","registrationStatus":{"expiresAt":"yesterday"}}],"totalCount":2}`, `timestamp "yesterday" is not ISO-8601 (item 1 of the page, id "b")`},
		"null item":     {`{"items":[{"id":"a"},null],"totalCount":2}`, "no id"},
		"number as id":  {`{"items":[{"id":7}],"totalCount":1}`, `(item 0 of the page, id "")`},
		"items object":  {`{"items":{},"totalCount":0}`, "not the expected JSON"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := decodePage(strings.NewReader(tc.body), -1, 1000, testKey)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestProblemDetailsErrors(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   []string
	}{
		// The client names no flag: the caller says where the key and
		// the URL were set (KeySetting, URLSetting).
		{http.StatusUnauthorized, []string{"401 Unauthorized", "The API key is invalid or expired.", "check the key", "the key comes from api_key_env ACME_KEY, the API URL from url of account acme"}},
		{http.StatusForbidden, []string{"403 Forbidden", "Nope", "the key comes from api_key_env ACME_KEY"}},
		{http.StatusNotFound, []string{"404 Not Found", "check the API URL", "the API URL from url of account acme"}},
		{http.StatusBadRequest, []string{"400 Bad Request", "Nope"}},
	} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			fake := fakeapi.New(testKey, ftNumbers(1))
			fake.SetInterceptor(func(w http.ResponseWriter, r *http.Request, _ int) bool {
				if tc.status == http.StatusUnauthorized {
					return false // the fake itself refuses the wrong key
				}
				fakeapi.WriteProblem(w, tc.status, "Nope", "detail for "+http.StatusText(tc.status))
				return true
			})
			c, m, _ := newTestClient(t, fake, func(cfg *Config) {
				if tc.status == http.StatusUnauthorized {
					cfg.Key = StaticKey("sk-wrong-key")
				}
				cfg.KeySetting = func() string { return "api_key_env ACME_KEY" }
				cfg.URLSetting = "url of account acme"
			})
			_, err := c.List(listCtx(t))
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.Status != tc.status {
				t.Fatalf("error = %v, want an APIError %d", err, tc.status)
			}
			if apiErr.Title == "" || apiErr.TraceID != "00-fake-trace-00" || strings.Contains(apiErr.Detail, "{") {
				t.Errorf("the ProblemDetails were not decoded: %+v", *apiErr)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "sk-") {
				t.Errorf("error leaks the key: %q", err)
			}
			if n := fake.Requests(); n != 1 {
				t.Errorf("%d requests: a %d must not be retried", n, tc.status)
			}
			if got := testutil.ToFloat64(m.Requests.WithLabelValues(fmt.Sprint(tc.status))); got != 1 {
				t.Errorf("requests{code=%d} = %v", tc.status, got)
			}
		})
	}
}

func TestPlainTextErrorBody(t *testing.T) {
	c, _, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream\nconnect error", http.StatusBadGateway)
	}), nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := c.List(ctx)
	if err == nil || !strings.Contains(err.Error(), "502 Bad Gateway: upstream connect error") {
		t.Fatalf("error = %v", err)
	}
}

func TestUnreachableURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	u, _ := url.Parse(srv.URL)
	srv.Close() // nothing listens there now
	m := NewMetrics(nil)
	c, err := New(Config{BaseURL: u, Key: StaticKey(testKey), PageSize: 10, Concurrency: 1, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err = c.List(ctx)
	// The refusal is retried with jittered waits: on a loaded machine the
	// deadline may pass right after a wait, and the error then names the
	// deadline; the requests counted as errors still show the refusals.
	if err == nil || !strings.Contains(err.Error(), "connection refused") && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error = %v, want connection refused", err)
	}
	if got := testutil.ToFloat64(m.Requests.WithLabelValues("error")); got < 1 {
		t.Errorf(`requests{code="error"} = %v`, got)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	good, _ := url.Parse("https://blackbox.dasha.ai")
	withUser, _ := url.Parse("https://user:pw@blackbox.dasha.ai")
	relative, _ := url.Parse("/api")
	for name, cfg := range map[string]Config{
		"relative url": {BaseURL: relative, Key: StaticKey("k"), PageSize: 10, Concurrency: 1},
		"credentials":  {BaseURL: withUser, Key: StaticKey("k"), PageSize: 10, Concurrency: 1},
		"page size 0":  {BaseURL: good, Key: StaticKey("k"), PageSize: 0, Concurrency: 1},
		"page size":    {BaseURL: good, Key: StaticKey("k"), PageSize: 1001, Concurrency: 1},
		"concurrency":  {BaseURL: good, Key: StaticKey("k"), PageSize: 10, Concurrency: 0},
		"no key":       {BaseURL: good, PageSize: 10, Concurrency: 1},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
}

func TestKeyFileIsReadAgainWhenItChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(path, []byte("old-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kf := NewKeyFile(path)
	fake := fakeapi.New("old-key", ftNumbers(2))
	c, _, _ := newTestClient(t, fake, func(cfg *Config) { cfg.Key = kf })
	if _, err := c.List(listCtx(t)); err != nil {
		t.Fatal(err)
	}

	// Rotate: the API takes only the new key now.
	fake.Key = "new-key"
	if err := os.WriteFile(path, []byte("  new-key  \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(2 * time.Second) // a distinct mtime even on coarse clocks
	os.Chtimes(path, later, later)
	if _, err := c.List(listCtx(t)); err != nil {
		t.Fatalf("after rotation: %v", err)
	}

	// An emptied file is an error that says so, without the old key or
	// the path (a path may be a pasted key).
	os.WriteFile(path, nil, 0o600)
	os.Chtimes(path, later.Add(time.Second), later.Add(time.Second))
	_, err := kf.Key()
	if err == nil || strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("emptied key file: %v", err)
	}
}

func TestNewKeyFileErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := NewKeyFile(filepath.Join(dir, "missing")).Key(); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("two words"), 0o600)
	_, err := NewKeyFile(bad).Key()
	if err == nil || !strings.Contains(err.Error(), "white space") || strings.Contains(err.Error(), "two words") {
		t.Errorf("key with a space: %v", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"":                              0,
		"7":                             7 * time.Second,
		" 0 ":                           0,
		"-3":                            0,
		"soon":                          0,
		"Thu, 01 Jan 2026 00:00:30 GMT": 30 * time.Second,
		"Wed, 31 Dec 2025 23:59:00 GMT": 0,
	} {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestEchoedKeyIsRedacted(t *testing.T) {
	c, _, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fakeapi.WriteProblem(w, http.StatusUnauthorized, "Unauthorized", "unknown key "+strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
	}), nil)
	_, err := c.List(listCtx(t))
	if err == nil || strings.Contains(err.Error(), testKey) || !strings.Contains(err.Error(), "unknown key [REDACTED]") {
		t.Fatalf("error = %v", err)
	}
}

func TestEscapedEchoedKeyIsRedacted(t *testing.T) {
	const key = "ab+cd/ef<gh"
	c, _, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusUnauthorized)
		// System.Text.Json escapes + and < by default.
		fmt.Fprint(w, `{"title":"Unauthorized","detail":"key ab\u002Bcd\/ef\u003Cgh is invalid"}`)
	}), func(cfg *Config) { cfg.Key = StaticKey(key) })
	_, err := c.List(listCtx(t))
	if err == nil || strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), "key [REDACTED] is invalid") {
		t.Fatalf("error = %v", err)
	}
}

func TestLongErrorBodyIsCut(t *testing.T) {
	c, _, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fakeapi.WriteProblem(w, http.StatusBadRequest, "Bad", strings.Repeat("é", 5000)+"\nsecond line")
	}), nil)
	_, err := c.List(listCtx(t))
	if err == nil || len(err.Error()) > 800 || strings.Contains(err.Error(), "\n") || !utf8.ValidString(err.Error()) {
		t.Fatalf("error is %d bytes, valid UTF-8 %v: %.200q", len(err.Error()), utf8.ValidString(err.Error()), err)
	}
}

// rawPages answers every page request with body(skip).
func rawPages(body func(skip int) string) (http.Handler, *atomic.Int64) {
	var n atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		skip, _ := strconv.Atoi(r.URL.Query().Get("skip"))
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, body(skip))
	}), &n
}

func TestImplausibleTotalCountIsRefused(t *testing.T) {
	h, requests := rawPages(func(int) string { return `{"items":[{"id":"a"}],"totalCount":2147483647}` })
	c, m, _ := newTestClient(t, h, nil)
	_, err := c.List(listCtx(t))
	if err == nil || !strings.Contains(err.Error(), "totalCount 2147483647") {
		t.Fatalf("error = %v", err)
	}
	if requests.Load() != 1 || testutil.ToFloat64(m.Requests.WithLabelValues("error")) != 0 {
		t.Errorf("%d requests sent, %v counted as errors; want 1 and 0", requests.Load(), testutil.ToFloat64(m.Requests.WithLabelValues("error")))
	}
}

// A failure stops the listing: no more pages are asked for, and no request
// that was never sent is counted.
func TestFailedPageSendsNoMoreRequests(t *testing.T) {
	fake := fakeapi.New(testKey, ftNumbers(2000)) // 200 pages of 10
	c, m, _ := newTestClient(t, fake, nil)
	if _, err := c.List(listCtx(t)); err != nil {
		t.Fatal(err)
	}
	before := fake.Requests()
	fake.Key = "rotated" // every page now answers 401
	if _, err := c.List(listCtx(t)); err == nil {
		t.Fatal("listing with a revoked key succeeded")
	}
	sent := fake.Requests() - before
	counted := testutil.ToFloat64(m.Requests.WithLabelValues("401")) + testutil.ToFloat64(m.Requests.WithLabelValues("error"))
	// Requests in flight when the first 401 came may still reach the API;
	// none may be counted that was not sent.
	if sent > 3 || counted > float64(sent) || counted < 1 {
		t.Errorf("%d requests sent after the first 401 (concurrency 3), %v counted", sent, counted)
	}
}

func TestIDsTheAPIRepeatsAreExportedOnce(t *testing.T) {
	h, requests := rawPages(func(int) string {
		return `{"items":[{"id":"a"},{"id":"a"},{"id":"b"}],"totalCount":3}`
	})
	c, _, _ := newTestClient(t, h, nil)
	l, err := c.List(listCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if l.Len() != 2 || l.At(0).ID != "a" || l.At(1).ID != "b" {
		t.Errorf("numbers %+v", l)
	}
	if requests.Load() != 2 {
		t.Errorf("%d requests: the repeat is confirmed by one second listing", requests.Load())
	}
}

func TestPageLongerThanTakeIsAnError(t *testing.T) {
	h, requests := rawPages(func(int) string {
		return `{"items":[{"id":"a"},{"id":"b"},{"id":"c"}],"totalCount":3}`
	})
	c, _, _ := newTestClient(t, h, func(cfg *Config) { cfg.PageSize = 2 })
	_, err := c.List(listCtx(t))
	if err == nil || !strings.Contains(err.Error(), "3 items, more than the take=2") {
		t.Fatalf("error = %v", err)
	}
	if requests.Load() > 2 {
		t.Errorf("%d requests: a contract violation is not a shifting list to take again", requests.Load())
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	var leaked atomic.Bool
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			leaked.Store(true)
		}
	}))
	defer target.Close()
	srv := httptest.NewServer(http.RedirectHandler(target.URL+"/api/v1/sip-phone-numbers", http.StatusFound))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	c, err := New(Config{BaseURL: u, Key: StaticKey(testKey), PageSize: 10, Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.List(listCtx(t))
	if err == nil || !strings.Contains(err.Error(), "302 Found: redirected to "+target.URL) || !strings.Contains(err.Error(), "set the API URL to the address") {
		t.Fatalf("error = %v", err)
	}
	if leaked.Load() {
		t.Error("the key was sent to the redirect target")
	}
}
