package collector

import (
	"bufio"
	"context"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
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
	// The answer holds the listing's rendering from before it asks for the
	// listing (an answer waiting may share it) to its last byte.
	ans := h.opts.Exporter.renders.begin()
	defer ans.close()
	scrape := h.opts.Exporter.Scrape(ctx)
	ans.attach(scrape)

	reg := prometheus.NewRegistry()
	reg.MustRegister(scrape.Status())
	mfs, err := prometheus.Gatherers{h.opts.Gatherer, reg}.Gather()
	if err != nil {
		// Like promhttp's ContinueOnError: serve what was gathered.
		h.opts.Logger.Error("gathering the exporter's own metrics", "err", err)
	}

	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Vary", "Accept-Encoding")
	var out answerWriter
	if acceptsGzip(r) {
		w.Header().Set("Content-Encoding", "gzip")
		out = newGzipAnswer(w)
	} else {
		out = newPlainAnswer(w)
	}
	if err := h.write(out, ans, scrape, mfs); err != nil {
		h.opts.Logger.Debug("writing metrics", "err", err)
	}
}

// write writes an answer: the exporter's own families of this scrape, then
// the per-number families, shared with the answers of the same listing.
func (h *handler) write(out answerWriter, ans *answer, scrape *Scrape, mfs []*dto.MetricFamily) error {
	err := out.stream(func(w *bufio.Writer) error {
		for _, mf := range mfs {
			if _, err := expfmt.MetricFamilyToText(w, mf); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if scrape.OK() {
		for i, f := range families {
			if !scrape.exposes(f.name) {
				continue
			}
			if err := ans.writeFamily(out, scrape, i); err != nil {
				return err
			}
		}
	}
	return out.close()
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
	// Clamped as seconds: a huge value would overflow a Duration.
	timeout = time.Duration(min(secs, client.MaxListingTime.Seconds()) * float64(time.Second))
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
