// Package landing serves the exporter's landing page: the usual links and,
// for each account, where its API is (never its key), how its last listing
// went, the numbers that fail and its recent listings with links to their
// logs. exporter-toolkit's page is rendered once at start-up, so it cannot
// show live state; this one is rendered on each request with
// html/template, which escapes everything, error texts from the API
// included.
//
// The page stays small whatever the configuration: it shows PageSize
// accounts at a time (those that need attention first, ?page=N for the
// rest) and the details (failing numbers, recent listings) of the first
// DetailsPerPage of them; ?account=<name> shows one account with its
// details.
package landing

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dasha-exporter/dasha_exporter/accounts"
	"github.com/dasha-exporter/dasha_exporter/collector"
)

// Bounds of one page: at most PageSize accounts, the details of at most
// DetailsPerPage of them (each at most collector.MaxFailingKept failing
// numbers and the account's stored listings).
const (
	PageSize       = 100
	DetailsPerPage = 10
)

// DefaultRunbook is the runbook the failing numbers link into: the
// repository's, as the shipped alerts' runbook_url.
const DefaultRunbook = "https://github.com/dasha-exporter/dasha_exporter/blob/main/docs/runbook.md"

// Link is one link of the page's header list.
type Link struct {
	Address string
	Text    string
}

// Options configure the page.
type Options struct {
	Name        string
	Description string
	Version     string
	Links       []Link
	// Accounts are the accounts to show, each with links to its /probe
	// and debug output, whether from a file or the flags.
	Accounts Accounts
	// Runbook is the runbook's address; "" is DefaultRunbook.
	Runbook string
	Logger  *slog.Logger
}

// Accounts is what the page shows of the accounts (an *accounts.Registry).
type Accounts interface {
	// Accounts returns the accounts to show, in order.
	Accounts() []*accounts.Account
	// Status reports the configuration file's loads; ok is false
	// without one.
	Status() (st accounts.ReloadStatus, ok bool)
}

//go:embed landing.html
var pageHTML string

var page = template.Must(template.New("landing").Funcs(template.FuncMap{
	"ago":  func(now, t time.Time) string { return now.Sub(t).Round(time.Second).String() },
	"when": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
}).Parse(pageHTML))

// row is one account on the page.
type row struct {
	Name       string
	Where      string
	Status     collector.Record // the last listing
	Problem    string           // why it has no key, if so
	ProbeURL   string
	DebugURL   string
	DetailsURL string // its details: on this page (#anchor) or its own
	Details    *details
}

// details are an account's failing numbers and recent listings.
type details struct {
	Failing []failing
	More    int
	At      time.Time // the listing the failing numbers come from
	Recent  []past
}

type failing struct {
	collector.FailingNumber
	Runbook string
}

type past struct {
	collector.Past
	LogURL string
}

// New returns the handler of "/": the page on exactly "/", 404 elsewhere.
func New(o Options) http.Handler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Runbook == "" {
		o.Runbook = DefaultRunbook
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		data, code, msg := o.view(r.URL.Query())
		if code != http.StatusOK {
			http.Error(w, msg, code)
			return
		}
		var buf bytes.Buffer
		if err := page.Execute(&buf, data); err != nil {
			o.Logger.Error("rendering the landing page", "err", err)
			http.Error(w, "rendering the landing page failed", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Write(buf.Bytes())
	})
}

// view is what the page shows for query q: one account (?account=), or a
// page of accounts (?page=, from 1), those that need attention first.
func (o *Options) view(q url.Values) (data map[string]any, code int, msg string) {
	all := o.Accounts.Accounts()
	var shown []*accounts.Account
	var rows []row
	paging := map[string]any{}
	if name := q.Get("account"); name != "" {
		for _, a := range all {
			if a.Settings.Name == name {
				shown = []*accounts.Account{a}
			}
		}
		if shown == nil {
			if !accounts.ValidName(name) {
				return nil, http.StatusNotFound, "No such account: account names are letters, digits, _ . -. The landing page / lists them."
			}
			return nil, http.StatusNotFound, fmt.Sprintf("No account named %q. The landing page / lists them.", name)
		}
		rows = []row{o.row(shown[0], shown[0].Last(), true)}
	} else {
		pageNo := 1
		if p := q.Get("page"); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 {
				return nil, http.StatusBadRequest, fmt.Sprintf("page=%q is not a page number (1, 2, ...).", cut(p, 16))
			}
			pageNo = n
		}
		ordered := attentionFirst(all)
		pages := max(1, (len(ordered)+PageSize-1)/PageSize)
		if pageNo > pages {
			return nil, http.StatusNotFound, fmt.Sprintf("There are %d pages of accounts.", pages)
		}
		from, to := (pageNo-1)*PageSize, min(pageNo*PageSize, len(ordered))
		for i, e := range ordered[from:to] {
			rows = append(rows, o.row(e.a, e.last, i < DetailsPerPage))
		}
		if pages > 1 {
			paging = map[string]any{"From": from + 1, "To": to, "Of": len(ordered), "Page": pageNo, "Pages": pages,
				"Prev": pageLink(pageNo - 1), "Next": pageLink(pageNo + 1), "Last": pageLink(pages), "First": pageLink(1)}
			if pageNo == 1 {
				paging["Prev"] = ""
			}
			if pageNo == pages {
				paging["Next"] = ""
			}
		}
	}
	var config *accounts.ReloadStatus
	if st, ok := o.Accounts.Status(); ok {
		config = &st
	}
	return map[string]any{
		"Options": o,
		"Rows":    rows,
		"Now":     time.Now(),
		"Config":  config,
		"Paging":  paging,
		"One":     q.Get("account") != "",
	}, http.StatusOK, ""
}

func pageLink(n int) string { return "?page=" + strconv.Itoa(n) }

// entry is an account with its last record, read once per view.
type entry struct {
	a    *accounts.Account
	last collector.Record
}

// attentionFirst orders the accounts as the page lists them: those whose
// last listing failed or found unhealthy numbers (or that have not listed
// yet for want of a key) first, each group in the configuration's order.
func attentionFirst(all []*accounts.Account) []entry {
	out := make([]entry, 0, len(all))
	var calm []entry
	for _, a := range all {
		e := entry{a: a, last: a.Last()}
		if needsAttention(e) {
			out = append(out, e)
		} else {
			calm = append(calm, e)
		}
	}
	return append(out, calm...)
}

func needsAttention(e entry) bool {
	if e.last.Time.IsZero() {
		return e.a.KeyProblem() != nil // only then: a key file is stat'ed
	}
	return e.last.Err != "" || e.last.Unhealthy > 0
}

// row is account a on the page, with its details if withDetails.
func (o *Options) row(a *accounts.Account, last collector.Record, withDetails bool) row {
	name := a.Settings.Name
	rw := row{Name: name, Where: a.Where(), Status: last}
	if last.Time.IsZero() {
		if err := a.KeyProblem(); err != nil {
			rw.Problem = err.Error()
		}
	}
	q := url.Values{"target": {name}}
	rw.ProbeURL = "probe?" + q.Encode()
	q.Set("debug", "true")
	rw.DebugURL = "probe?" + q.Encode()
	rw.DetailsURL = "?" + url.Values{"account": {name}}.Encode()
	if !withDetails {
		return rw
	}
	rw.DetailsURL = "#account-" + name // names are [A-Za-z0-9_.-]: a valid id
	d := &details{}
	if f := last.Failing; f != nil {
		d.More, d.At = f.More, f.At
		for _, n := range f.Numbers {
			d.Failing = append(d.Failing, failing{FailingNumber: n, Runbook: o.Runbook + "#" + strings.ToLower(n.Attention.Alert())})
		}
	}
	for _, p := range a.Recent() {
		pp := past{Past: p}
		if p.HasLog {
			pp.LogURL = "logs?" + url.Values{"target": {name}, "id": {strconv.FormatUint(p.ID, 10)}}.Encode()
		}
		d.Recent = append(d.Recent, pp)
	}
	rw.Details = d
	return rw
}

// cut shortens a query value repeated in an error.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
