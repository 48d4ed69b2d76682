package accounts

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/config"

	"github.com/dasha-exporter/dasha_exporter/client"
	"github.com/dasha-exporter/dasha_exporter/collector"
)

// Account is one configured account, from a file or the flags, with
// everything that must outlive a probe: its client (key source, HTTP
// client, page-count guess), its shared listing and cache, its request
// metrics and its collector (which keeps the record of its last listing).
// Nothing is shared with another account, so a slow or failing account
// cannot hold up another's probes.
type Account struct {
	Settings Settings

	keys     client.KeySource
	names    Names
	exporter *collector.Exporter
	probe    http.Handler // the listing's families only
	metrics  *client.Metrics
	log      *slog.Logger
	http     *http.Client
	journal  *collector.Journal // its recent listings, kept across a change of its settings
}

// newAccount builds an account. prev, if not nil, is the account of the
// same name it replaces: its request metrics carry on counting, so that a
// changed setting does not reset the account's counters.
func newAccount(s Settings, keys client.KeySource, names Names, prev *Account, opts Options) (*Account, error) {
	logger := opts.Logger
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
	hc, err := client.NewHTTPClient(hs, s.Concurrency)
	if err != nil {
		return nil, err
	}
	log := logger
	if names.Named {
		log = log.With("account", s.Name)
	}
	a := &Account{Settings: s, keys: keys, names: names, log: log, http: hc}
	if prev != nil {
		a.metrics, a.journal = prev.metrics, prev.journal
	} else if names.Named {
		a.metrics = client.NewMetrics(nil, prometheus.Labels{"account": s.Name})
	} else {
		a.metrics = client.NewMetrics(nil)
	}
	c, err := client.New(client.Config{
		BaseURL:     base,
		Key:         keys,
		PageSize:    s.PageSize,
		Concurrency: s.Concurrency,
		Filters:     s.Filters,
		HTTPClient:  hc,
		Metrics:     a.metrics,
		Logger:      log.With("component", "client"),
		UserAgent:   opts.UserAgent,
		KeySetting:  func() string { return names.keySourceName(&a.Settings) },
		URLSetting:  names.urlSourceName(&s),
	})
	if err != nil {
		return nil, err
	}
	shared := client.NewShared(c, s.CacheTTL).WithLogger(log.With("component", "client")).WithRedact(a.redact)
	a.exporter, err = collector.New(shared, s.Collector, log.With("component", "collector"))
	if err != nil {
		return nil, err
	}
	a.exporter.KeepRenderingsFor(s.CacheTTL) // an HA partner may reuse the cached listing's rendering
	if a.journal == nil && opts.History != nil {
		a.journal = opts.History.Journal()
	}
	a.exporter.KeepHistoryIn(a.journal)
	a.probe = a.Handler(nil)
	return a, nil
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
func (a *Account) closeIdle() { a.http.CloseIdleConnections() }

// Last is the record of the account's last listing, for the landing page.
func (a *Account) Last() collector.Record { return a.exporter.Last() }

// Recent returns the account's stored listings, newest first.
func (a *Account) Recent() []collector.Past { return a.journal.Recent() }

// KeyProblem says why no key can be had, or is nil. The reason names the
// key's source under the contract's rule, never the key. A key file
// answers from its last look (every listing looks again): a page view
// never touches the file.
func (a *Account) KeyProblem() error {
	if p, ok := a.keys.(interface{ Problem() error }); ok {
		return p.Problem()
	}
	_, err := a.keys.Key()
	return err
}

// Where names the account's API for people: the platform, or the URL.
func (a *Account) Where() string { return a.Settings.Where() }

// redact removes the account's key from a text, in every spelling the
// client's own redaction knows: each line of a listing's log passes
// through it before it is stored.
func (a *Account) redact(s string) string {
	if key, err := a.keys.Key(); err == nil {
		s = client.RedactText(s, key)
	}
	return s
}
