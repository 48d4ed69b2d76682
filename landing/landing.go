// Package landing serves the exporter's landing page: the usual links and,
// for each account, where its API is (never its key) and how its last
// listing went. exporter-toolkit's page is rendered once at start-up, so it
// cannot show live state; this one is rendered on each request with
// html/template, which escapes everything, error texts from the API
// included.
package landing

import (
	"bytes"
	_ "embed"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/dasha-exporter/dasha_exporter/accounts"
	"github.com/dasha-exporter/dasha_exporter/collector"
)

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
	Logger   *slog.Logger
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
	"ago": func(now, t time.Time) string { return now.Sub(t).Round(time.Second).String() },
}).Parse(pageHTML))

// row is one account on the page.
type row struct {
	Name     string
	Where    string
	Status   collector.Record // the last listing
	Problem  string           // why it has no key, if so
	ProbeURL string
	DebugURL string
}

// New returns the handler of "/": the page on exactly "/", 404 elsewhere.
func New(o Options) http.Handler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		var rows []row
		for _, a := range o.Accounts.Accounts() {
			rw := row{Name: a.Settings.Name, Where: a.Where(), Status: a.Last()}
			if err := a.KeyProblem(); err != nil {
				rw.Problem = err.Error()
			}
			q := url.Values{"target": {a.Settings.Name}}
			rw.ProbeURL = "probe?" + q.Encode()
			q.Set("debug", "true")
			rw.DebugURL = "probe?" + q.Encode()
			rows = append(rows, rw)
		}
		var config *accounts.ReloadStatus
		if st, ok := o.Accounts.Status(); ok {
			config = &st
		}
		var buf bytes.Buffer
		err := page.Execute(&buf, map[string]any{
			"Options": o,
			"Rows":    rows,
			"Now":     time.Now(),
			"Config":  config,
		})
		if err != nil {
			o.Logger.Error("rendering the landing page", "err", err)
			http.Error(w, "rendering the landing page failed", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Write(buf.Bytes())
	})
}
