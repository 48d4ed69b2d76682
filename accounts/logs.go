package accounts

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/dasha-exporter/dasha_exporter/client"
	"github.com/dasha-exporter/dasha_exporter/collector"
)

// LogsHandler answers /logs?target=<account>&id=<n> with the stored log of
// one of the account's recent listings, as text: the request lines the
// listing logged (what debug=true shows), never a new listing and never
// the metrics. An unknown account, or a listing no longer kept, is a 404
// saying so.
func (r *Registry) LogsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !allowMethods(w, req, "Method not allowed: /logs answers GET and HEAD.", http.MethodGet, http.MethodHead) {
			return
		}
		name, id, reason := logsParams(req.URL.RawQuery)
		if reason != "" {
			http.Error(w, reason, http.StatusBadRequest)
			return
		}
		a := r.Get(name)
		if a == nil {
			http.Error(w, fmt.Sprintf("Unknown target %q: no account of that name in %s.", name, r.describeSource()), http.StatusNotFound)
			return
		}
		p, ok := a.journal.Get(id)
		if !ok {
			perAccount, total := r.opts.History.Caps()
			http.Error(w, fmt.Sprintf("No stored listing %d of account %q: it was never stored, or it has been dropped (the exporter keeps each account's last %d listings, %d in all). The landing page links the listings still kept.",
				id, name, perAccount, total), http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Write(pastText(a, p))
	})
}

// pastText is a stored listing as text: what it was, then its log.
func pastText(a *Account, p collector.Past) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Listing %d of account %q, API %s, ended %s, took %v.\n", p.ID, a.Settings.Name, a.Settings.Where(), p.Time.UTC().Format(time.RFC3339), p.Took.Round(time.Millisecond))
	if p.Err != "" {
		fmt.Fprintf(&b, "Failed: %s\n", p.Err)
	} else {
		fmt.Fprintf(&b, "Complete: %d numbers, %d unhealthy, %d API requests.\n", p.Numbers, p.Unhealthy, p.Requests)
	}
	switch p.How {
	case client.Joined:
		b.WriteString("The scrape that recorded it joined a listing in flight that another scrape started.\n")
	case client.Cached:
		b.WriteString("The scrape that recorded it reused it from the cache.\n")
	}
	b.WriteString("The key is never shown. This is the log the listing kept, not a new listing.\n\nLogs of the listing:\n")
	switch {
	case !p.HasLog:
		b.WriteString("(none: the scrape stopped waiting before the listing ended)\n")
	case p.Log == "":
		b.WriteString("(none)\n")
	default:
		b.WriteString(p.Log)
	}
	return b.Bytes()
}

// logsParams reads target and id from a /logs query; reason says why they
// are not usable, or is "".
func logsParams(rawQuery string) (name string, id uint64, reason string) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", 0, fmt.Sprintf("Malformed query string: %v.", err)
	}
	name, reason = targetParam(q)
	if reason != "" {
		return "", 0, reason
	}
	ids := q["id"]
	if len(ids) != 1 {
		return "", 0, "Give one id: /logs?target=<account>&id=<listing>, as the landing page links them."
	}
	id, err = strconv.ParseUint(ids[0], 10, 64)
	if err != nil || id == 0 {
		return "", 0, fmt.Sprintf("id=%q is not a listing number (1, 2, ...).", cut(ids[0], 16))
	}
	return name, id, ""
}
