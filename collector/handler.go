package collector

import (
	"bufio"
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/dasha-exporter/dasha_exporter/client"
	"github.com/dasha-exporter/dasha_exporter/internal/connlimit"
)

// scrapeTimeoutHeader is how Prometheus tells a target its scrape timeout.
const scrapeTimeoutHeader = "X-Prometheus-Scrape-Timeout-Seconds"

// contentType is the text exposition format the handler always answers in.
const contentType = "text/plain; version=0.0.4; charset=utf-8"

// HandlerOpts configure the /metrics handler.
type HandlerOpts struct {
	// Exporter lists the fleet on each scrape.
	Exporter *Exporter
	// Gatherer yields the exporter's long-lived metrics (API request
	// counters, build info, Go and process metrics). It is gathered after
	// the listing, so a scrape counts its own requests.
	Gatherer prometheus.Gatherer
	// Timeout is the listing deadline when a scrape carries no usable
	// X-Prometheus-Scrape-Timeout-Seconds header, at most
	// client.MaxListingTime.
	Timeout time.Duration
	// TimeoutOffset is subtracted from Prometheus' scrape timeout, leaving
	// time to write the answer.
	TimeoutOffset time.Duration
	Logger        *slog.Logger
}

// NewHandler returns the /metrics handler: each request lists the fleet
// under the scrape's deadline and answers with every metric in the text
// format. A failed listing still answers 200, with dasha_up 0 and no
// per-number series.
func NewHandler(opts HandlerOpts) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Gatherer == nil {
		opts.Gatherer = prometheus.NewRegistry()
	}
	return &handler{opts}
}

type handler struct{ opts HandlerOpts }

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
	case http.MethodHead:
		// The headers of a scrape, without the listing a body would need.
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Vary", "Accept-Encoding")
		return
	default:
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "405 method not allowed: "+r.URL.Path+" answers GET and HEAD", http.StatusMethodNotAllowed)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.listingTimeout(r))
	defer cancel()
	deadline, _ := ctx.Deadline()
	w = connlimit.WriteBy(w, deadline) // a reader that stops reading lets go of its answer
	scrape := h.opts.Exporter.Scrape(ctx)

	reg := prometheus.NewRegistry()
	reg.MustRegister(scrape.Status())
	mfs, err := prometheus.Gatherers{h.opts.Gatherer, reg}.Gather()
	if err != nil {
		// Like promhttp's ContinueOnError: serve what was gathered.
		h.opts.Logger.Error("gathering the exporter's own metrics", "err", err)
	}

	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Vary", "Accept-Encoding")
	var out io.Writer = w
	if acceptsGzip(r) {
		w.Header().Set("Content-Encoding", "gzip")
		gz, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
		defer gz.Close()
		out = gz
	}
	bw := bufio.NewWriterSize(out, 64<<10)
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(bw, mf); err != nil {
			h.opts.Logger.Debug("writing metrics", "err", err)
			return
		}
	}
	if err := scrape.WriteText(bw); err != nil {
		h.opts.Logger.Debug("writing metrics", "err", err)
		return
	}
	if err := bw.Flush(); err != nil {
		h.opts.Logger.Debug("writing metrics", "err", err)
	}
}

// listingTimeout is the listing deadline of a scrape (see scrapeTimeout),
// logging a header it cannot use.
func (h *handler) listingTimeout(r *http.Request) time.Duration {
	v := r.Header.Get(scrapeTimeoutHeader)
	timeout, ok := scrapeTimeout(v, h.opts.Timeout, h.opts.TimeoutOffset)
	if !ok {
		h.opts.Logger.Warn("ignoring a bad scrape timeout header", "header", scrapeTimeoutHeader, "value", truncate(v, 32), "using", timeout)
	}
	return timeout
}

// scrapeTimeout turns the X-Prometheus-Scrape-Timeout-Seconds header into
// the listing deadline: Prometheus' scrape timeout less the offset, but
// never less than half the timeout (an offset as large as the timeout would
// leave no time to list, and none at all to answer). The header comes from
// the network, not from the configuration: a value that is not a positive,
// finite number of seconds (NaN, ±Inf, 0, -0, negative, garbage) gives the
// fallback (--dasha.timeout) and ok false; a huge one is clamped to
// client.MaxListingTime, which also caps the fallback. No header: the
// fallback, ok true.
func scrapeTimeout(header string, fallback, offset time.Duration) (timeout time.Duration, ok bool) {
	fallback = min(max(fallback, 0), client.MaxListingTime)
	if header == "" {
		return fallback, true
	}
	secs, err := strconv.ParseFloat(strings.TrimSpace(header), 64)
	if err != nil || math.IsNaN(secs) || math.IsInf(secs, 0) || secs <= 0 {
		return fallback, false
	}
	timeout = client.MaxListingTime
	if secs < timeout.Seconds() {
		timeout = time.Duration(secs * float64(time.Second))
	}
	return max(timeout-max(offset, 0), timeout/2), true
}

// truncate cuts a header value for a log line, never splitting a UTF-8
// character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// acceptsGzip reports whether the client takes a gzip-encoded answer.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			continue
		}
		q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q=")
		if !ok {
			return true
		}
		weight, err := strconv.ParseFloat(q, 64)
		return err == nil && weight > 0
	}
	return false
}
