package collector

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"
	"golang.org/x/sync/errgroup"

	"github.com/dasha-exporter/dasha_exporter/client"
	"github.com/dasha-exporter/dasha_exporter/internal/fakeapi"
)

// bnWriter is a ResponseWriter that counts and drops the answer.
type bnWriter struct {
	h     http.Header
	n     int64
	lines int64
}

func (w *bnWriter) Header() http.Header { return w.h }
func (w *bnWriter) WriteHeader(int)     {}
func (w *bnWriter) Write(b []byte) (int, error) {
	w.n += int64(len(b))
	w.lines += int64(bytes.Count(b, []byte{'\n'}))
	return len(b), nil
}

// bnHandler is the /metrics handler as main wires it, listing through the
// real client over rt.
func bnHandler(b *testing.B, rt http.RoundTripper, base string) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	u, _ := url.Parse(base)
	c, err := client.New(client.Config{BaseURL: u, Key: client.StaticKey("k"), PageSize: 1000, Concurrency: 4,
		HTTPClient: &http.Client{Transport: rt}, Metrics: client.NewMetrics(reg)})
	if err != nil {
		b.Fatal(err)
	}
	e, err := New(client.NewShared(c, 0), Options{States: DefaultStates, HealthyStates: DefaultHealthyStates}, nil)
	if err != nil {
		b.Fatal(err)
	}
	return NewHandler(HandlerOpts{Exporter: e, Gatherer: reg, Timeout: time.Minute})
}

var bnSizes = []int{1000, 10000, 100000}

// BenchmarkScrape is a full scrape through the /metrics handler: listing
// (pre-encoded pages, no network), the exporter's own metrics, and every
// per-number series through the text fast path, into a discarding writer.
func BenchmarkScrape(b *testing.B) {
	for _, n := range bnSizes {
		b.Run(fmt.Sprintf("numbers=%d", n), func(b *testing.B) {
			h := bnHandler(b, fakeapi.NewPages(fakeapi.Fleet(n, time.Now()), 1000), "http://fake.invalid")
			req := httptest.NewRequest("GET", "/metrics", nil)
			h.ServeHTTP(&bnWriter{h: http.Header{}}, req) // learn the page count
			var w *bnWriter
			b.ReportAllocs()
			for b.Loop() {
				w = &bnWriter{h: http.Header{}}
				h.ServeHTTP(w, req)
			}
			b.ReportMetric(float64(w.n), "bytes/scrape")
			b.ReportMetric(float64(w.lines), "lines/scrape")
		})
	}
}

// bnScrape lists n numbers once and returns the Scrape.
func bnScrape(b *testing.B, n int) *Scrape {
	u, _ := url.Parse("http://fake.invalid")
	c, err := client.New(client.Config{BaseURL: u, Key: client.StaticKey("k"), PageSize: 1000, Concurrency: 4,
		HTTPClient: &http.Client{Transport: fakeapi.NewPages(fakeapi.Fleet(n, time.Now()), 1000)}})
	if err != nil {
		b.Fatal(err)
	}
	e, err := New(c, Options{States: DefaultStates, HealthyStates: DefaultHealthyStates}, nil)
	if err != nil {
		b.Fatal(err)
	}
	s := e.Scrape(context.Background())
	if !s.OK() {
		b.Fatal(s.Err)
	}
	return s
}

// BenchmarkWriteText is the text fast path alone, for a listing in hand.
func BenchmarkWriteText(b *testing.B) {
	for _, n := range bnSizes {
		b.Run(fmt.Sprintf("numbers=%d", n), func(b *testing.B) {
			s := bnScrape(b, n)
			w := &bnWriter{}
			b.ReportAllocs()
			for b.Loop() {
				*w = bnWriter{}
				if err := s.WriteText(w); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(w.n), "bytes/scrape")
			b.ReportMetric(float64(w.lines-2*int64(len(families)))/float64(n), "series/number")
		})
	}
}

// BenchmarkGatherConst is what the text path avoids: the same listing
// gathered as const metrics through a prometheus.Registry and encoded with
// expfmt, as promhttp would.
func BenchmarkGatherConst(b *testing.B) {
	for _, n := range bnSizes {
		b.Run(fmt.Sprintf("numbers=%d", n), func(b *testing.B) {
			s := bnScrape(b, n)
			reg := prometheus.NewRegistry()
			reg.MustRegister(s)
			w := &bnWriter{}
			b.ReportAllocs()
			for b.Loop() {
				*w = bnWriter{}
				mfs, err := reg.Gather()
				if err != nil {
					b.Fatal(err)
				}
				for _, mf := range mfs {
					if _, err := expfmt.MetricFamilyToText(w, mf); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(w.n), "bytes/scrape")
		})
	}
}

// BenchmarkLatency is the speed target: 10,000 numbers behind an API that
// takes 50ms per page, page size 1000, concurrency 4, over loopback HTTP.
//
//   - floor: the least any client can do: GET and decode the first page,
//     then the other nine, four at a time.
//   - scrape: a full scrape through the /metrics handler, after a first
//     scrape has taught the client the page count (steady state).
//   - scrape-cold: the first scrape of a new exporter (no guess yet).
func BenchmarkLatency(b *testing.B) {
	const n, take, conc = 10000, 1000, 4
	fake := fakeapi.New("", fakeapi.Fleet(n, time.Now()))
	fake.Latency = 50 * time.Millisecond
	srv := httptest.NewServer(fake)
	b.Cleanup(srv.Close)
	warm := &http.Client{}
	for skip := 0; skip < n+take; skip += take { // fill the fake's page cache
		resp, err := warm.Get(fmt.Sprintf("%s/api/v1/sip-phone-numbers?skip=%d&take=%d", srv.URL, skip, take))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}

	b.Run("floor", func(b *testing.B) {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = conc
		hc := &http.Client{Transport: tr}
		b.Cleanup(tr.CloseIdleConnections)
		get := func(skip int) (int, error) {
			resp, err := hc.Get(fmt.Sprintf("%s/api/v1/sip-phone-numbers?skip=%d&take=%d", srv.URL, skip, take))
			if err != nil {
				return 0, err
			}
			defer resp.Body.Close()
			var p struct {
				Items      []client.PhoneNumber `json:"items"`
				TotalCount int                  `json:"totalCount"`
			}
			err = json.NewDecoder(resp.Body).Decode(&p)
			io.Copy(io.Discard, resp.Body)
			return p.TotalCount, err
		}
		b.ReportAllocs()
		for b.Loop() {
			total, err := get(0)
			if err != nil {
				b.Fatal(err)
			}
			g := errgroup.Group{}
			g.SetLimit(conc)
			for skip := take; skip < total; skip += take {
				g.Go(func() error { _, err := get(skip); return err })
			}
			if err := g.Wait(); err != nil {
				b.Fatal(err)
			}
		}
	})
	scrape := func(b *testing.B, cold bool) {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = conc
		b.Cleanup(tr.CloseIdleConnections)
		req := httptest.NewRequest("GET", "/metrics", nil)
		h := bnHandler(b, tr, srv.URL)
		if !cold {
			h.ServeHTTP(&bnWriter{h: http.Header{}}, req)
		}
		b.ReportAllocs()
		for b.Loop() {
			if cold {
				b.StopTimer()
				h = bnHandler(b, tr, srv.URL)
				b.StartTimer()
			}
			w := &bnWriter{h: http.Header{}}
			h.ServeHTTP(w, req)
			if w.lines < n {
				b.Fatalf("the scrape wrote %d lines", w.lines)
			}
		}
	}
	b.Run("scrape", func(b *testing.B) { scrape(b, false) })
	b.Run("scrape-cold", func(b *testing.B) { scrape(b, true) })
}

// BenchmarkListAndWrite is what a lone scrape of 100,000 numbers with random
// uuids does with memory: list every page through the real client (decode,
// hold compactly, de-duplicate) and write every per-number family, each op
// from nothing.
func BenchmarkListAndWrite(b *testing.B) {
	const n = 100000
	u, _ := url.Parse("http://fake.invalid")
	c, err := client.New(client.Config{BaseURL: u, Key: client.StaticKey("k"), PageSize: 1000, Concurrency: 4,
		HTTPClient: &http.Client{Transport: fakeapi.NewPages(fakeapi.RandomIDs(fakeapi.Fleet(n, time.Now()), 1), 1000)}})
	if err != nil {
		b.Fatal(err)
	}
	e, err := New(c, Options{States: DefaultStates, HealthyStates: DefaultHealthyStates}, nil)
	if err != nil {
		b.Fatal(err)
	}
	w := &bnWriter{}
	var s *Scrape
	b.ReportAllocs()
	for b.Loop() {
		*w = bnWriter{}
		s = e.Scrape(context.Background())
		if !s.OK() || s.Listing.Len() != n {
			b.Fatal(s.Err)
		}
		if err := s.WriteText(w); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(w.n)/1e6, "MB-written/op")
	// What the listing holds, live: the heap with it and without it.
	var with, without runtime.MemStats
	runtime.GC()
	runtime.GC() // and the page buffers of sync.Pool's victim cache
	runtime.ReadMemStats(&with)
	runtime.KeepAlive(s)
	s = nil
	runtime.GC()
	runtime.ReadMemStats(&without)
	b.ReportMetric(float64(with.HeapAlloc-without.HeapAlloc)/1e6, "MB-listing-live")
}

// BenchmarkRenderOnce is the answer of a listing in hand (no listing
// cost: a gated lister hands out a listed fleet of 10,000) through the
// /metrics handler with gzip, as Prometheus asks: one answer alone
// (streamed, nothing kept), 20 answers waiting for one listing (each family
// rendered once, copied 19 times; ns/op is all 20), and an HA partner
// served from the cache (it renders expiry_seconds and its own families).
func BenchmarkRenderOnce(b *testing.B) {
	const n = 10000
	listed := bnScrape(b, n).Listing
	gz := httptest.NewRequest("GET", "/metrics", nil)
	gz.Header.Set("Accept-Encoding", "gzip")
	newHandler := func(lister client.Lister, ttl time.Duration) (http.Handler, *Exporter) {
		e, err := New(client.NewShared(lister, ttl), Options{States: DefaultStates, HealthyStates: DefaultHealthyStates}, nil)
		if err != nil {
			b.Fatal(err)
		}
		e.KeepRenderingsFor(ttl)
		return NewHandler(HandlerOpts{Exporter: e, Timeout: time.Minute}), e
	}
	b.Run("one", func(b *testing.B) {
		h, _ := newHandler(&gatedLister{listing: listed}, 0)
		var w *bnWriter
		b.ReportAllocs()
		for b.Loop() {
			w = &bnWriter{h: http.Header{}}
			h.ServeHTTP(w, gz)
		}
		b.ReportMetric(float64(w.n), "gzip_bytes/answer")
	})
	b.Run("20-sharing", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			lister := &gatedLister{listing: listed, gate: make(chan struct{})}
			h, e := newHandler(lister, 0)
			var wg sync.WaitGroup
			for range 20 {
				wg.Go(func() { h.ServeHTTP(&bnWriter{h: http.Header{}}, gz) })
			}
			waitPending(b, e, 20)
			close(lister.gate)
			wg.Wait()
		}
	})
	b.Run("cached-partner", func(b *testing.B) {
		h, _ := newHandler(&gatedLister{listing: listed}, time.Hour)
		h.ServeHTTP(&bnWriter{h: http.Header{}}, gz) // the first of the pair renders and keeps
		var w *bnWriter
		b.ReportAllocs()
		for b.Loop() {
			w = &bnWriter{h: http.Header{}}
			h.ServeHTTP(w, gz)
		}
		b.ReportMetric(float64(w.n), "gzip_bytes/answer")
	})
}
