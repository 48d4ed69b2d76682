package collector

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/dasha-exporter/dasha_exporter/client"
)

// TestTimedFamiliesAreTheOnesThatDependOnTime: a family's rendering is
// shared across scrape times exactly when family.timed is false.
func TestTimedFamiliesAreTheOnesThatDependOnTime(t *testing.T) {
	l := fixtureListing(t)
	at := func(now time.Time, i int) string {
		s := &Scrape{Time: now, Listing: l, rules: newRules(DefaultStates, DefaultHealthyStates)}
		var b bytes.Buffer
		bw := bufio.NewWriter(&b)
		if err := s.writeFamily(bw, i); err != nil {
			t.Fatal(err)
		}
		bw.Flush()
		return b.String()
	}
	for i, f := range families {
		differs := at(scrapeTime, i) != at(scrapeTime.Add(time.Minute), i)
		if differs != f.timed {
			t.Errorf("%s: depends on the scrape time: %v, timed: %v", f.name, differs, f.timed)
		}
	}
}

// gatedLister hands out a fresh copy of a listing, taken when the gate
// opens, so every listing is a new pointer with a completion time.
type gatedLister struct {
	listing *client.Listing
	gate    chan struct{} // nil: no wait
	calls   int
	mu      sync.Mutex
}

func (g *gatedLister) List(ctx context.Context) (*client.Listing, error) {
	if g.gate != nil {
		select {
		case <-g.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	g.mu.Lock()
	g.calls++
	g.mu.Unlock()
	l := *g.listing
	l.Time = time.Now()
	return &l, nil
}

// renderCounts counts the families rendered into kept segments.
type renderCounts struct {
	mu sync.Mutex
	n  map[int]int
}

func countRenders(e *Exporter) *renderCounts {
	c := &renderCounts{n: map[int]int{}}
	e.renders.onRender = func(i int) {
		c.mu.Lock()
		c.n[i]++
		c.mu.Unlock()
	}
	return c
}

func (c *renderCounts) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.n {
		n += v
	}
	return n
}

// sharedHandler serves an exporter over a listing shared through
// client.Shared with ttl, as main wires it, counting renderings.
func sharedHandler(t *testing.T, lister client.Lister, ttl time.Duration) (http.Handler, *Exporter, *RenderStats) {
	t.Helper()
	stats := NewRenderStats()
	e, err := New(client.NewShared(lister, ttl), Options{States: DefaultStates, HealthyStates: DefaultHealthyStates, Renders: stats}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.KeepRenderingsFor(ttl)
	return NewHandler(HandlerOpts{Exporter: e, Timeout: 10 * time.Second}), e, stats
}

// body returns an answer's text, gunzipped when it is gzip.
func body(t *testing.T, resp *http.Response, raw string) string {
	t.Helper()
	if resp.Header.Get("Content-Encoding") != "gzip" {
		return raw
	}
	zr, err := gzip.NewReader(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	zr.Multistream(false)
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(plain)
}

// perNumber cuts an answer to its per-number families.
func perNumber(text string) string {
	i := strings.Index(text, "# HELP "+families[0].name+" ")
	if i < 0 {
		return ""
	}
	return text[i:]
}

// waitPending waits until n answers are waiting for their listing.
func waitPending(t testing.TB, e *Exporter, n int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(time.Millisecond) {
		e.renders.mu.Lock()
		got := len(e.renders.pending)
		e.renders.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d answers waiting, want %d", got, n)
		}
	}
}

func TestAnswersOfOneListingShareOneRendering(t *testing.T) {
	lister := &gatedLister{listing: fixtureListing(t), gate: make(chan struct{})}
	h, e, stats := sharedHandler(t, lister, 0)
	renders := countRenders(e)

	headers := []http.Header{{"Accept-Encoding": {"gzip"}}, {}} // Prometheus, and curl without --compressed
	texts := make([]string, len(headers))
	var wg sync.WaitGroup
	for i, hd := range headers {
		wg.Go(func() {
			resp, raw := scrapeOnce(t, h, hd)
			texts[i] = body(t, resp, raw)
		})
	}
	waitPending(t, e, 2)
	close(lister.gate)
	wg.Wait()

	if lister.calls != 1 {
		t.Fatalf("%d listings, want 1 shared", lister.calls)
	}
	for i, f := range families {
		if renders.n[i] != 1 {
			t.Errorf("%s rendered %d times, want once", f.name, renders.n[i])
		}
	}
	if got := testutil.ToFloat64(stats.rendered); got != float64(len(families)) {
		t.Errorf("rendered families %v, want %d", got, len(families))
	}
	if got := testutil.ToFloat64(stats.shared); got != float64(len(families)) {
		t.Errorf("shared families %v, want %d", got, len(families))
	}
	if perNumber(texts[0]) == "" || perNumber(texts[0]) != perNumber(texts[1]) {
		t.Error("the gzip and the plain answer of one listing differ")
	}
	assertNothingKept(t, e, stats)
}

func assertNothingKept(t *testing.T, e *Exporter, stats *RenderStats) {
	t.Helper()
	if n, listings := e.renders.heldBytes(); n != 0 || listings != 0 {
		t.Errorf("%d bytes of %d renderings kept after the answers", n, listings)
	}
	if got := testutil.ToFloat64(gaugeOf(stats)); got != 0 {
		t.Errorf("dasha_exporter_renderings_bytes %v after the answers", got)
	}
}

// gaugeOf collects dasha_exporter_renderings_bytes alone.
func gaugeOf(s *RenderStats) prometheus.Collector {
	return prometheus.CollectorFunc(func(ch chan<- prometheus.Metric) {
		ch <- prometheus.MustNewConstMetric(s.heldDesc, prometheus.GaugeValue, float64(s.held.Load()))
	})
}

func TestLoneScraperKeepsNothing(t *testing.T) {
	lister := &gatedLister{listing: fixtureListing(t)}
	h, e, stats := sharedHandler(t, lister, 0)
	renders := countRenders(e)
	for _, hd := range []http.Header{{"Accept-Encoding": {"gzip"}}, {}} {
		resp, raw := scrapeOnce(t, h, hd)
		if mfs := parse(t, []byte(body(t, resp, raw))); len(mfs["dasha_sip_phone_number_info"].GetMetric()) == 0 {
			t.Fatal("no numbers")
		}
	}
	if renders.total() != 0 {
		t.Errorf("a lone scraper kept %d renderings of families", renders.total())
	}
	if got := testutil.ToFloat64(stats.rendered); got != float64(2*len(families)) {
		t.Errorf("rendered families %v, want %d (streamed)", got, 2*len(families))
	}
	assertNothingKept(t, e, stats)
}

func TestCachedPartnerRerendersOnlyTimedFamilies(t *testing.T) {
	lister := &gatedLister{listing: fixtureListing(t)}
	h, e, stats := sharedHandler(t, lister, time.Minute)
	renders := countRenders(e)
	gz := http.Header{"Accept-Encoding": {"gzip"}}
	resp, raw := scrapeOnce(t, h, gz)
	first := body(t, resp, raw)
	if renders.total() != len(families) {
		t.Fatalf("first answer kept %d families, want all %d for the partner", renders.total(), len(families))
	}
	held, _ := e.renders.heldBytes()
	if held == 0 || testutil.ToFloat64(gaugeOf(stats)) != float64(held) {
		t.Errorf("held %d bytes, gauge %v", held, testutil.ToFloat64(gaugeOf(stats)))
	}

	time.Sleep(2 * time.Millisecond) // the partner's scrape time differs from the listing's
	resp, raw = scrapeOnce(t, h, gz)
	second := body(t, resp, raw)
	if lister.calls != 1 {
		t.Fatalf("%d listings, want 1 (cached)", lister.calls)
	}
	if renders.total() != len(families) {
		t.Errorf("the partner rendered %d families into kept segments", renders.total()-len(families))
	}
	// Every family but expiry_seconds copied; expiry_seconds streamed anew.
	if got := testutil.ToFloat64(stats.shared); got != float64(len(families)-1) {
		t.Errorf("shared families %v, want %d", got, len(families)-1)
	}
	if got := testutil.ToFloat64(stats.rendered); got != float64(len(families)+1) {
		t.Errorf("rendered families %v, want %d", got, len(families)+1)
	}
	a, b := parse(t, []byte(first)), parse(t, []byte(second))
	for _, f := range families {
		var x, y bytes.Buffer
		expfmt.MetricFamilyToText(&x, a[f.name])
		expfmt.MetricFamilyToText(&y, b[f.name])
		if same := x.String() == y.String(); same == f.timed {
			t.Errorf("%s: the partner's equals the first answer's: %v", f.name, same)
		}
	}

	// Once the cache can no longer serve the listing, nothing is kept.
	e.renders.mu.Lock()
	e.renders.now = func() time.Time { return time.Now().Add(time.Minute) }
	e.renders.mu.Unlock()
	e.renders.sweepNow()
	assertNothingKept(t, e, stats)
}

// referenceText is what the handler wrote before renderings were shared:
// the gathered families through expfmt, then WriteText.
func referenceText(t *testing.T, s *Scrape) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(s.Status())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, mf := range mfs {
		expfmt.MetricFamilyToText(&b, mf)
	}
	if err := s.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestAnswersAreTheTextOfBefore: lone, shared and cached answers, gzip and
// plain, are byte for byte what the handler wrote before, and curl
// --compressed reads the gzip stream.
func TestAnswersAreTheTextOfBefore(t *testing.T) {
	for _, tc := range []struct {
		name string
		ttl  time.Duration
		fail bool
	}{{"lone", 0, false}, {"cached", time.Minute, false}, {"failed listing", 0, true}} {
		t.Run(tc.name, func(t *testing.T) {
			results := []stubResult{{listing: fixtureListing(t)}}
			if tc.fail {
				results = []stubResult{{err: context.DeadlineExceeded}}
			}
			e := newTestExporter(t, &stubLister{results: results}, Options{})
			e.KeepRenderingsFor(tc.ttl)
			e.renders.now = e.now // the fixed clock: the cached listing stays fresh
			want := referenceText(t, e.Scrape(context.Background()))
			h := NewHandler(HandlerOpts{Exporter: e, Timeout: time.Second})
			for i := range 2 { // the second answer of "cached" copies the kept rendering
				for _, hd := range []http.Header{{"Accept-Encoding": {"gzip"}}, {}} {
					resp, raw := scrapeOnce(t, h, hd)
					if got := body(t, resp, raw); got != want {
						t.Fatalf("answer %d (%v) differs:\n%s\n--- want\n%s", i, hd, got, want)
					}
				}
			}
			if tc.ttl > 0 {
				if n, _ := e.renders.heldBytes(); n == 0 {
					t.Error("nothing kept for the partner")
				}
			}
			if _, err := exec.LookPath("curl"); err != nil {
				t.Skip("no curl")
			}
			srv := httptest.NewServer(h)
			defer srv.Close()
			out, err := exec.Command("curl", "--silent", "--show-error", "--fail", "--compressed", srv.URL).CombinedOutput()
			if err != nil {
				t.Fatalf("curl --compressed: %v: %s", err, out)
			}
			if string(out) != want {
				t.Fatalf("curl --compressed read %d bytes, want %d", len(out), len(want))
			}
			parse(t, out)
		})
	}
}

// goneScraper is a scraper that went away: every write fails.
type goneScraper struct{ h http.Header }

func (w *goneScraper) Header() http.Header       { return w.h }
func (w *goneScraper) WriteHeader(int)           {}
func (w *goneScraper) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

// TestAnswerCutShortReleasesItsHold: an answer whose scraper went away
// neither stops the answer it shares a listing with nor keeps the
// rendering alive.
func TestAnswerCutShortReleasesItsHold(t *testing.T) {
	lister := &gatedLister{listing: fixtureListing(t), gate: make(chan struct{})}
	h, e, stats := sharedHandler(t, lister, 0)
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	var text string
	var wg sync.WaitGroup
	wg.Go(func() { h.ServeHTTP(&goneScraper{h: http.Header{}}, req) })
	wg.Go(func() {
		resp, raw := scrapeOnce(t, h, http.Header{"Accept-Encoding": {"gzip"}})
		text = body(t, resp, raw)
	})
	waitPending(t, e, 2)
	close(lister.gate)
	wg.Wait()
	if mfs := parse(t, []byte(text)); len(mfs["dasha_sip_registration_state"].GetMetric()) == 0 {
		t.Error("the answer that was read lacks the fleet")
	}
	assertNothingKept(t, e, stats)
}
