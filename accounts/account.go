package accounts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/config"

	"github.com/dasha-exporter/dasha_exporter/client"
	"github.com/dasha-exporter/dasha_exporter/collector"
)

// Account is one configured account with everything that must outlive a
// probe: its client (key source, HTTP client, page-count guess), its shared
// listing and cache, and its collector. Nothing is shared with another
// account, so a slow or failing account cannot hold up another's probes.
type Account struct {
	Settings Settings

	keys     client.KeySource
	exporter *collector.Exporter
	probe    http.Handler // the listing's families only
	logs     *logHub
	status   *recorder
	log      *slog.Logger
	http     *http.Client // nil: the client's default (flag mode)
}

// newAccount builds an account. m counts its API requests. Without ownHTTP
// the client's own default HTTP client serves (flag mode, as it always
// has); with it, an HTTP client of the account's tls_config and proxy_url
// that also logs each request for the debug output.
func newAccount(s Settings, keys client.KeySource, m *client.Metrics, logger *slog.Logger, userAgent string, ownHTTP bool) (*Account, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	base, err := url.Parse(s.URL)
	if err != nil {
		return nil, errors.New("url: not a URL")
	}
	hs := client.HTTPSettings{TLS: s.TLS}
	if s.ProxyURL != "" {
		pu, err := url.Parse(s.ProxyURL)
		if err != nil {
			return nil, errors.New("proxy_url: not a URL")
		}
		hs.Proxy.ProxyURL = config.URL{URL: pu}
	}
	hub := &logHub{}
	log := slog.New(&teeHandler{next: logger.Handler(), text: slog.NewTextHandler(hub, &slog.HandlerOptions{Level: slog.LevelDebug}), hub: hub})
	if s.Name != "" {
		log = log.With("account", s.Name)
	}
	var hc *http.Client
	if ownHTTP {
		if hc, err = client.NewHTTPClient(hs, s.Concurrency); err != nil {
			return nil, err
		}
		hc.Transport = &loggingTransport{next: hc.Transport, log: log.With("component", "client")}
	}
	c, err := client.New(client.Config{
		BaseURL:     base,
		Key:         keys,
		PageSize:    s.PageSize,
		Concurrency: s.Concurrency,
		Filters:     s.Filters,
		HTTPClient:  hc,
		Metrics:     m,
		Logger:      log.With("component", "client"),
		UserAgent:   userAgent,
	})
	if err != nil {
		return nil, err
	}
	a := &Account{Settings: s, keys: keys, logs: hub, log: log, http: hc}
	a.status = &recorder{next: client.NewShared(c, s.CacheTTL).WithLogger(log.With("component", "client")), opts: s.Collector, log: log.With("component", "accounts"), redact: a.redact}
	a.exporter, err = collector.New(a.status, s.Collector, log.With("component", "collector"))
	if err != nil {
		return nil, err
	}
	a.exporter.KeepRenderingsFor(s.CacheTTL) // an HA partner may reuse the cached listing's rendering
	a.probe = a.Handler(nil)
	return a, nil
}

// NewSingle builds the one account served from the flags (no
// configuration file): keys and m are the flags' key source and request
// metrics, without an account label.
func NewSingle(s Settings, keys client.KeySource, m *client.Metrics, logger *slog.Logger, userAgent string) (*Account, error) {
	return newAccount(s, keys, m, logger, userAgent, false)
}

// Handler answers the account's listing with the collector's handler,
// gathering g after the listing (nil: the listing's families only, as a
// probe answers).
func (a *Account) Handler(g prometheus.Gatherer) http.Handler {
	if g == nil {
		g = prometheus.Gatherers{} // gathers nothing
	}
	return collector.NewHandler(collector.HandlerOpts{
		Exporter:      a.exporter,
		Gatherer:      g,
		Timeout:       a.Settings.Timeout,
		TimeoutOffset: a.Settings.TimeoutOffset,
		Logger:        a.log.With("component", "handler"),
	})
}

// closeIdle closes the idle API connections of an account that was
// replaced or removed; requests in flight keep theirs.
func (a *Account) closeIdle() {
	if a.http != nil {
		a.http.CloseIdleConnections()
	}
}

// Status is the last listing, for the landing page.
func (a *Account) Status() Status { return a.status.get() }

// KeyProblem says why no key can be had, or is nil.
func (a *Account) KeyProblem() error {
	_, err := a.keys.Key()
	return err
}

// redact removes the account's key from a text, in every spelling the
// client's own redaction knows (belt and braces: the client already keeps
// it out of its errors).
func (a *Account) redact(s string) string {
	if key, err := a.keys.Key(); err == nil {
		s = client.RedactText(s, key)
	}
	return s
}

// ServeDebug answers, as text, the log lines of one probe of the account
// and the metrics it would have returned, as blackbox_exporter's debug
// output does. The probe goes through the account's shared listing, so a
// debug request joins a listing in flight or reuses the cache like any
// probe: it is no way around the account's limits.
func (a *Account) ServeDebug(w http.ResponseWriter, r *http.Request) {
	sink := a.logs.capture()
	start := time.Now()
	req := r.Clone(r.Context())
	req.Header.Del("Accept-Encoding") // the answer is shown as text
	rec := &bufferedResponse{header: http.Header{}}
	a.probe.ServeHTTP(rec, req)
	logs := a.logs.release(sink)

	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	var b bytes.Buffer
	fmt.Fprintf(&b, "Probe of account %q, API %s, started %s, took %v.\n", a.Settings.Name, a.Settings.Where(), start.UTC().Format(time.RFC3339), time.Since(start).Round(time.Millisecond))
	fmt.Fprintf(&b, "Page size %d, concurrency %d, cache_ttl %v. The key is never shown.\n\n", a.Settings.PageSize, a.Settings.Concurrency, a.Settings.CacheTTL)
	b.WriteString("Logs of the listing:\n")
	if len(logs) == 0 {
		b.WriteString("(none)\n")
	}
	b.Write(logs)
	fmt.Fprintf(&b, "\nMetrics that would have been returned (HTTP %d):\n", rec.code())
	b.Write(rec.body.Bytes())
	if rec.dropped > 0 {
		fmt.Fprintf(&b, "\n(cut here: %d more bytes; /probe?target=%s answers them all)\n", rec.dropped, url.QueryEscape(a.Settings.Name))
	}
	w.Write([]byte(a.redact(b.String())))
}

// Status is what the landing page shows of an account's last listing.
type Status struct {
	Time      time.Time     // when it ended; zero before the first
	Took      time.Duration // how long the probe waited for it
	Err       string        // "" when complete
	Numbers   int
	Unhealthy int
}

// recorder keeps the last listing's outcome on its way to the collector.
type recorder struct {
	next   client.Lister
	opts   collector.Options
	log    *slog.Logger
	redact func(string) string

	mu   sync.Mutex
	last Status
}

func (r *recorder) List(ctx context.Context) (*client.Listing, error) {
	start := time.Now()
	l, err := r.next.List(ctx)
	end := time.Now()
	st := Status{Time: end, Took: end.Sub(start)}
	if err != nil {
		st.Err = r.redact(err.Error())
	} else {
		if !l.Time.IsZero() && l.Time.Before(start) {
			// Reused from cache_ttl: the status already shows the
			// listing, from when it was taken.
			r.log.Debug("reused a complete listing (cache_ttl)", "taken", l.Time.UTC().Format(time.RFC3339Nano), "numbers", l.Len())
			return l, nil
		}
		st.Numbers, st.Unhealthy = l.Len(), r.opts.CountUnhealthy(l)
	}
	r.mu.Lock()
	r.last = st
	r.mu.Unlock()
	return l, err
}

func (r *recorder) get() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// loggingTransport logs every API request at debug level: path, status and
// time, never a header.
type loggingTransport struct {
	next http.RoundTripper
	log  *slog.Logger
}

func (t *loggingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		t.log.Debug("API request failed", "method", req.Method, "path", req.URL.RequestURI(), "err", err, "took", time.Since(start))
		return resp, err
	}
	t.log.Debug("API request", "method", req.Method, "path", req.URL.RequestURI(), "status", resp.StatusCode, "took", time.Since(start))
	return resp, nil
}

// maxDebugMetrics bounds the metrics a debug answer shows: a large fleet's
// exposition is tens of megabytes, and a debug request must not cost that
// much memory.
const maxDebugMetrics = 4 << 20

// bufferedResponse holds a handler's answer for the debug output, up to
// maxDebugMetrics bytes.
type bufferedResponse struct {
	header  http.Header
	status  int
	body    bytes.Buffer
	dropped int
}

func (b *bufferedResponse) Header() http.Header { return b.header }
func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}
func (b *bufferedResponse) Write(p []byte) (int, error) {
	keep := min(len(p), maxDebugMetrics-b.body.Len())
	b.body.Write(p[:keep])
	b.dropped += len(p) - keep
	return len(p), nil
}
func (b *bufferedResponse) code() int {
	if b.status == 0 {
		return http.StatusOK
	}
	return b.status
}

// logHub copies an account's log lines, formatted as text at every level,
// to the debug requests waiting on it.
type logHub struct {
	mu    sync.Mutex
	sinks map[*bytes.Buffer]struct{}
}

// maxCapture bounds one debug request's log.
const maxCapture = 1 << 20

func (h *logHub) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for b := range h.sinks {
		if b.Len() < maxCapture {
			b.Write(p)
		}
	}
	return len(p), nil
}

func (h *logHub) active() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.sinks) > 0
}

func (h *logHub) capture() *bytes.Buffer {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sinks == nil {
		h.sinks = map[*bytes.Buffer]struct{}{}
	}
	b := &bytes.Buffer{}
	h.sinks[b] = struct{}{}
	return b
}

func (h *logHub) release(b *bytes.Buffer) []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.sinks, b)
	return b.Bytes()
}

// teeHandler logs to the exporter's log as configured and, while a debug
// request is waiting, at every level to it as well.
type teeHandler struct {
	next slog.Handler
	text slog.Handler
	hub  *logHub
}

func (h *teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l) || h.hub.active()
}

func (h *teeHandler) Handle(ctx context.Context, r slog.Record) error {
	var err error
	if h.next.Enabled(ctx, r.Level) {
		err = h.next.Handle(ctx, r.Clone())
	}
	if h.hub.active() {
		h.text.Handle(ctx, r)
	}
	return err
}

func (h *teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &teeHandler{next: h.next.WithAttrs(as), text: h.text.WithAttrs(as), hub: h.hub}
}

func (h *teeHandler) WithGroup(name string) slog.Handler {
	return &teeHandler{next: h.next.WithGroup(name), text: h.text.WithGroup(name), hub: h.hub}
}
