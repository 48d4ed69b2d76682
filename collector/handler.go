package collector

import (
	"bufio"
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
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
	// Timeout is the listing deadline when a scrape carries no
	// X-Prometheus-Scrape-Timeout-Seconds header.
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
	ctx, cancel := context.WithTimeout(r.Context(), h.listingTimeout(r))
	defer cancel()
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

// listingTimeout is Prometheus' scrape timeout less the offset, or the
// configured timeout when the scrape does not say.
func (h *handler) listingTimeout(r *http.Request) time.Duration {
	v := r.Header.Get(scrapeTimeoutHeader)
	if v == "" {
		return h.opts.Timeout
	}
	secs, err := strconv.ParseFloat(v, 64)
	if err != nil || secs <= 0 || secs > 24*3600 {
		h.opts.Logger.Warn("ignoring a bad scrape timeout header", "header", scrapeTimeoutHeader, "value", v, "using", h.opts.Timeout)
		return h.opts.Timeout
	}
	timeout := time.Duration(secs * float64(time.Second))
	// Never less than half the scrape timeout: an offset as large as the
	// timeout would leave no time to list, and none at all to answer.
	return max(timeout-h.opts.TimeoutOffset, timeout/2)
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
