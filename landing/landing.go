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
	// Accounts returns the accounts to show, in order.
	Accounts func() []*accounts.Account
	// Probes is true with a configuration file: each account links to its
	// /probe and debug output. Without one the single account is listed on
	// MetricsPath.
	Probes      bool
	MetricsPath string
	// Config reports the configuration file's loads (nil without one).
	Config func() accounts.ReloadStatus
	Logger *slog.Logger
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
	Status   accounts.Status
	Problem  string // why it has no key, if so
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
		for _, a := range o.Accounts() {
			rw := row{Name: a.Settings.Name, Where: a.Settings.Where(), Status: a.Status()}
			if err := a.KeyProblem(); err != nil {
				rw.Problem = err.Error()
			}
			if o.Probes {
				q := url.Values{"target": {a.Settings.Name}}
				rw.ProbeURL = "probe?" + q.Encode()
				q.Set("debug", "true")
				rw.DebugURL = "probe?" + q.Encode()
			} else {
				rw.ProbeURL = o.MetricsPath
			}
			rows = append(rows, rw)
		}
		var config *accounts.ReloadStatus
		if o.Config != nil {
			st := o.Config()
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
