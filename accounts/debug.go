package accounts

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/dasha-exporter/dasha_exporter/client"
	"github.com/dasha-exporter/dasha_exporter/collector"
)

// maxDebugMetrics bounds the metrics a debug answer shows: a large fleet's
// exposition is tens of megabytes, and a debug request must not cost that
// much memory.
const maxDebugMetrics = 4 << 20

// ServeDebug answers, as text, the log of the listing a probe of the
// account gets and the metrics it would have returned, as
// blackbox_exporter's debug output does. The probe goes through the
// account's shared listing, so a debug request joins a listing in flight
// or reuses the cache like any probe (it is no way around the account's
// limits), and shows that listing's own log, saying which it was.
func (a *Account) ServeDebug(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(r.Context(), collector.ListingTimeout(r, a.Settings.Timeout, a.Settings.TimeoutOffset))
	defer cancel()
	scrape := a.exporter.Scrape(ctx)

	var b bytes.Buffer
	fmt.Fprintf(&b, "Probe of account %q, API %s, started %s, took %v.\n", a.Settings.Name, a.Settings.Where(), start.UTC().Format(time.RFC3339), time.Since(start).Round(time.Millisecond))
	fmt.Fprintf(&b, "Page size %d, concurrency %d, cache_ttl %v. The key is never shown.\n\n", a.Settings.PageSize, a.Settings.Concurrency, a.Settings.CacheTTL)
	switch scrape.How {
	case client.Joined:
		b.WriteString("Logs of the listing (this probe joined a listing in flight that another scrape started):\n")
	case client.Cached:
		fmt.Fprintf(&b, "Logs of the listing (reused from the cache, cache_ttl %v; taken %s):\n", a.Settings.CacheTTL, scrape.Listing.Time.UTC().Format(time.RFC3339))
	default:
		b.WriteString("Logs of the listing (started by this probe):\n")
	}
	if log := scrape.Log.Text(); log != "" {
		b.WriteString(log)
	} else {
		b.WriteString("(none)\n")
	}
	b.WriteString("\nMetrics that would have been returned (HTTP 200):\n")
	metrics := &boundedBuffer{max: maxDebugMetrics}
	if err := collector.WriteProbe(metrics, scrape); err != nil {
		fmt.Fprintf(&b, "(writing them failed: %v)\n", err)
	}
	b.Write(metrics.buf.Bytes())
	if metrics.dropped > 0 {
		fmt.Fprintf(&b, "\n(cut here: %d more bytes; /probe?target=%s answers them all)\n", metrics.dropped, url.QueryEscape(a.Settings.Name))
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(b.Bytes())
}

// boundedBuffer keeps the first max bytes written to it and counts the
// rest.
type boundedBuffer struct {
	max     int
	buf     bytes.Buffer
	dropped int
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	keep := min(len(p), max(b.max-b.buf.Len(), 0))
	b.buf.Write(p[:keep])
	b.dropped += len(p) - keep
	return len(p), nil
}
