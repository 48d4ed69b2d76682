package collector

import (
	"compress/gzip"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dasha-exporter/dasha_exporter/client"
	"github.com/dasha-exporter/dasha_exporter/internal/fakeapi"
)

// scrapeOnce serves one /metrics request through h.
func scrapeOnce(t *testing.T, h http.Handler, header http.Header) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	resp := rec.Result()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func TestHandlerListingDeadline(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header string
		offset time.Duration
		want   time.Duration
	}{
		{"no header: --dasha.timeout", "", 500 * time.Millisecond, 7 * time.Second},
		{"scrape timeout less offset", "5", 500 * time.Millisecond, 4500 * time.Millisecond},
		{"fractional header", "2.5", 500 * time.Millisecond, 2 * time.Second},
		{"offset too large: half the timeout", "0.4", 500 * time.Millisecond, 200 * time.Millisecond},
		{"offset would leave less than half", "0.8", 500 * time.Millisecond, 400 * time.Millisecond},
		{"bad header: --dasha.timeout", "soon", 500 * time.Millisecond, 7 * time.Second},
		{"negative header: --dasha.timeout", "-3", 500 * time.Millisecond, 7 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lister := &stubLister{results: []stubResult{{listing: &client.Listing{}}}}
			h := NewHandler(HandlerOpts{Exporter: newTestExporter(t, lister, Options{}), Timeout: 7 * time.Second, TimeoutOffset: tc.offset})
			header := http.Header{}
			if tc.header != "" {
				header.Set("X-Prometheus-Scrape-Timeout-Seconds", tc.header)
			}
			start := time.Now()
			scrapeOnce(t, h, header)
			dl, ok := lister.gotCtx.Deadline()
			if !ok {
				t.Fatal("listing ran without a deadline")
			}
			// The deadline was set between start and now.
			if got := dl.Sub(start); got < tc.want || got > tc.want+time.Since(start) {
				t.Errorf("deadline %v after the request, want %v", got, tc.want)
			}
		})
	}
}

func TestHandlerFailedListingAnswers200(t *testing.T) {
	lister := &stubLister{results: []stubResult{{err: errors.New("GET /api/v1/sip-phone-numbers: 503 Service Unavailable")}}}
	h := NewHandler(HandlerOpts{Exporter: newTestExporter(t, lister, Options{}), Timeout: time.Second})
	resp, body := scrapeOnce(t, h, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	mfs := parse(t, []byte(body))
	if got := mfs["dasha_up"].GetMetric()[0].GetGauge().GetValue(); got != 0 {
		t.Errorf("dasha_up = %v", got)
	}
	for name := range mfs {
		if strings.HasPrefix(name, "dasha_sip_") {
			t.Errorf("failed listing exported %s", name)
		}
	}
}

// newFakeBackedHandler wires the real client to a fake API, as main does.
func newFakeBackedHandler(t *testing.T, fake http.Handler, key string, logs io.Writer) http.Handler {
	t.Helper()
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	reg := prometheus.NewRegistry()
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := client.New(client.Config{BaseURL: u, Key: client.StaticKey(key), PageSize: 10, Concurrency: 2, Metrics: client.NewMetrics(reg), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(client.NewShared(c, 0), Options{States: DefaultStates, HealthyStates: DefaultHealthyStates}, logger)
	if err != nil {
		t.Fatal(err)
	}
	return NewHandler(HandlerOpts{Exporter: e, Gatherer: reg, Timeout: 5 * time.Second, Logger: logger})
}

func TestHandlerCountsThisScrapesRequests(t *testing.T) {
	fake := fakeapi.New("key-1", fakeapi.Demo(time.Now()))
	h := newFakeBackedHandler(t, fake, "key-1", io.Discard)
	_, body := scrapeOnce(t, h, nil)
	mfs := parse(t, []byte(body))
	reqs := mfs["dasha_api_requests_total"].GetMetric()
	if len(reqs) != 1 || reqs[0].GetCounter().GetValue() != 3 {
		t.Fatalf("first scrape: dasha_api_requests_total = %v, want {code=200} 3 (30 numbers in pages of 10)", reqs)
	}
	if got := mfs["dasha_sip_phone_numbers"].GetMetric()[0].GetGauge().GetValue(); got != 30 {
		t.Errorf("dasha_sip_phone_numbers = %v", got)
	}
	if got := len(mfs["dasha_sip_phone_number_info"].GetMetric()); got != 30 {
		t.Errorf("%d info series", got)
	}
}

func TestHandlerGzip(t *testing.T) {
	h := newFakeBackedHandler(t, fakeapi.New("k", fakeapi.Demo(time.Now())), "k", io.Discard)
	resp, body := scrapeOnce(t, h, http.Header{"Accept-Encoding": {"gzip, deflate"}})
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q", resp.Header.Get("Content-Encoding"))
	}
	// The answer depends on Accept-Encoding: a cache must keep both.
	if v := resp.Header.Get("Vary"); v != "Accept-Encoding" {
		t.Errorf("Vary %q, want Accept-Encoding", v)
	}
	zr, err := gzip.NewReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if mfs := parse(t, plain); len(mfs["dasha_sip_registration_state"].GetMetric()) < 120 {
		t.Errorf("state set too small: %d", len(mfs["dasha_sip_registration_state"].GetMetric()))
	}
	resp, _ = scrapeOnce(t, h, http.Header{"Accept-Encoding": {"gzip;q=0, identity"}})
	if resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("gzip;q=0 still compressed")
	}
	if v := resp.Header.Get("Vary"); v != "Accept-Encoding" {
		t.Errorf("uncompressed: Vary %q, want Accept-Encoding", v)
	}
}

func TestKeyNeverLoggedOrExported(t *testing.T) {
	const key = "sk-live-TOPSECRET-0123456789"
	// The API refuses the key and echoes it, the worst case.
	fake := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fakeapi.WriteProblem(w, http.StatusUnauthorized, "Unauthorized", "bad key: "+r.Header.Get("Authorization"))
	})
	var logs syncBuffer
	h := newFakeBackedHandler(t, fake, key, &logs)
	_, body := scrapeOnce(t, h, nil)
	if strings.Contains(body, "TOPSECRET") {
		t.Errorf("/metrics shows the key")
	}
	if strings.Contains(logs.String(), "TOPSECRET") {
		t.Errorf("logs show the key:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "401 Unauthorized") {
		t.Errorf("the log does not say what went wrong:\n%s", logs.String())
	}
}

func TestHandlerSlowAPIAnswersWithUpZero(t *testing.T) {
	fake := fakeapi.New("k", fakeapi.Demo(time.Now()))
	fake.Latency = time.Minute // far past the scrape deadline
	var logs syncBuffer
	h := newFakeBackedHandler(t, fake, "k", &logs)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil).WithContext(ctx)
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "1")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if ctx.Err() != nil {
		t.Fatal("the scrape outlived its deadline by far")
	}
	mfs := parse(t, rec.Body.Bytes())
	if got := mfs["dasha_up"].GetMetric()[0].GetGauge().GetValue(); got != 0 {
		t.Errorf("dasha_up = %v", got)
	}
	if !strings.Contains(logs.String(), "deadline exceeded") {
		t.Errorf("the log does not name the deadline:\n%s", logs.String())
	}
}

func TestAcceptsGzip(t *testing.T) {
	for header, want := range map[string]bool{
		"":                     false,
		"gzip":                 true,
		"GZIP":                 true,
		"deflate, gzip;q=0.5":  true,
		"gzip;q=0":             false,
		"gzip; q=0.0":          false,
		"identity":             false,
		"br, gzip ; q=1.0, x":  true,
		"x-gzip-not-really, a": false,
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Accept-Encoding", header)
		if got := acceptsGzip(r); got != want {
			t.Errorf("acceptsGzip(%q) = %v", header, got)
		}
	}
}

type failingWriter struct{ calls int }

func (w *failingWriter) Write([]byte) (int, error) {
	w.calls++
	return 0, errors.New("broken pipe")
}
