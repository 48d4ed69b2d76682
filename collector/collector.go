// Package collector turns listings of the Dasha fleet into Prometheus
// metrics: the per-number families of the contract and the exporter's own
// view of each listing (dasha_up and friends).
package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dasha-exporter/dasha_exporter/client"
)

// Options configure the state set and which per-number families are
// exposed.
type Options struct {
	// States are listed in every number's state set.
	States []string
	// HealthyStates count as healthy when there is no error.
	HealthyStates []string
	// MetricAllowlist, when set, exposes only the per-number families it
	// matches; MetricDenylist drops those it matches. At most one is set.
	// Entries are names or anchored regexps (see select.go).
	MetricAllowlist []string
	MetricDenylist  []string
	// Renders counts the renderings the exporter keeps; nil counts nothing.
	Renders *RenderStats
}

// DefaultStates and DefaultHealthyStates are the flags' defaults.
var (
	DefaultStates        = []string{"Registered", "Registering", "Failed", "Disabled"}
	DefaultHealthyStates = []string{"Registered"}
)

// MaxStates bounds each list of states: every number exports a series per
// listed state, and no real API has more than a handful.
const MaxStates = 64

// An OptionError names the option at fault by a neutral name, "states",
// "healthy_states", "metric_allowlist" or "metric_denylist"; the caller
// says where it was set (a flag, a file).
type OptionError struct {
	Option string
	Other  string // the other option, when two exclude each other
	Msg    string // what is wrong, without the option's name
}

func (e *OptionError) Error() string {
	if e.Other != "" {
		return e.Option + " and " + e.Other + " " + e.Msg
	}
	return e.Option + ": " + e.Msg
}

// Validate rejects option sets that would give broken state sets, or a
// family selection with an entry that names no family. Its errors are
// *OptionError.
func (o Options) Validate() error {
	if err := checkStates("states", o.States); err != nil {
		return err
	}
	if err := checkStates("healthy_states", o.HealthyStates); err != nil {
		return err
	}
	for _, s := range o.HealthyStates {
		// States are case-sensitive; a healthy state outside the state set
		// is most likely a typo that would make every number unhealthy.
		if !slices.Contains(o.States, s) {
			return &OptionError{Option: "healthy_states", Msg: fmt.Sprintf("%q is not one of the states %v (states are case-sensitive)", s, o.States)}
		}
	}
	_, err := dropped(o.MetricAllowlist, o.MetricDenylist)
	return err
}

// checkStates accepts 1..MaxStates distinct, non-empty states.
func checkStates(option string, states []string) error {
	switch {
	case len(states) == 0:
		return &OptionError{Option: option, Msg: "needs at least one state"}
	case len(states) > MaxStates:
		return &OptionError{Option: option, Msg: fmt.Sprintf("lists %d states; at most %d are allowed", len(states), MaxStates)}
	}
	seen := make(map[string]bool, len(states))
	for _, s := range states {
		if s == "" {
			return &OptionError{Option: option, Msg: "must not be empty"}
		}
		if seen[s] {
			return &OptionError{Option: option, Msg: fmt.Sprintf("%q is given twice", s)}
		}
		seen[s] = true
	}
	return nil
}

// Exporter lists the fleet once per scrape. It keeps only what must outlive
// a scrape: when a listing last succeeded, and the record of the last
// listing (for the landing page).
type Exporter struct {
	lister client.Lister
	rules  *rules
	drop   map[string]bool // per-number families not exposed
	log    *slog.Logger
	now    func() time.Time

	mu          sync.Mutex
	lastSuccess time.Time
	failing     bool                        // the last listing failed: say so when one succeeds again
	last        Record                      // the last listing a scrape started or joined
	recording   map[*client.ListingLog]bool // the listings being recorded, by their logs
	journal     *Journal                    // where its listings are stored; nil: nowhere

	renders renderings // what answers sharing a listing share (render.go)
}

// Record is what the exporter keeps of a listing for people: the landing
// page shows the last one.
type Record struct {
	Time      time.Time     // when it ended; zero before the first listing
	Took      time.Duration // how long the scrape waited for it
	Err       string        // why it failed (the client keeps the key out); "" when complete
	Numbers   int
	Unhealthy int          // numbers dasha_sip_registration_healthy reports 0 for
	Failing   *FailingList // the worst of them (at most MaxFailingKept) in the last complete listing (this one, or before a failed one); nil when none
	Requests  int          // API requests it took, retries included
	How       client.How
	Log       *client.ListingLog // the listing's own log; nil when the lister keeps none
}

// Runner is a lister that also tells how a caller got its listing and
// hands over the listing's own log (client.Shared is one).
type Runner interface {
	Run(ctx context.Context) *client.Run
}

// New returns an Exporter listing through lister.
func New(lister client.Lister, opts Options, logger *slog.Logger) (*Exporter, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	drop, _ := dropped(opts.MetricAllowlist, opts.MetricDenylist) // checked by Validate
	warnDroppedInUse(logger, opts)
	e := &Exporter{lister: lister, rules: newRules(opts.States, opts.HealthyStates), drop: drop, log: logger, now: time.Now, recording: map[*client.ListingLog]bool{}}
	e.renders.stats = opts.Renders
	return e, nil
}

// Last returns the record of the last listing a scrape started or joined
// (a listing reused from the cache is the record already kept).
func (e *Exporter) Last() Record {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.last
}

// KeepHistoryIn makes the exporter store each listing it records in j.
// Call it before the first Scrape.
func (e *Exporter) KeepHistoryIn(j *Journal) { e.journal = j }

// run lists the fleet through the lister, as a Runner if it is one.
func (e *Exporter) run(ctx context.Context) *client.Run {
	if r, ok := e.lister.(Runner); ok {
		return r.Run(ctx)
	}
	l, err := e.lister.List(ctx)
	return &client.Run{Listing: l, Err: err, How: client.Started}
}

// Scrape lists the fleet under ctx and returns the result to expose.
func (e *Exporter) Scrape(ctx context.Context) *Scrape {
	start := e.now()
	run := e.run(ctx)
	listing, err := run.Listing, run.Err
	if listing == nil && err == nil {
		err = errors.New("internal error (a bug): the lister returned neither a listing nor an error")
	}
	end := e.now()
	s := &Scrape{Time: listingEnd(listing, start, end), Duration: end.Sub(start), Listing: listing, Err: err, How: run.How, Log: run.Log, rules: e.rules, drop: e.drop}
	rec := Record{Time: end, Took: s.Duration, How: run.How, Log: run.Log}
	if run.How == client.Cached && listing != nil && !listing.Time.IsZero() {
		rec.Time = listing.Time // a cached listing not recorded yet: from when it was taken
	}

	e.mu.Lock()
	recovered := err == nil && e.failing
	e.failing = err != nil
	if err == nil {
		// A listing reused from the cache succeeded when it was taken.
		success := end
		if !listing.Time.IsZero() && listing.Time.Before(end) {
			success = listing.Time
		}
		if success.After(e.lastSuccess) {
			e.lastSuccess = success
		}
	}
	s.LastSuccess = e.lastSuccess
	// A listing is recorded once, by the first scrape to get it: those
	// that joined it or reuse it from the cache find it recorded (or
	// being recorded) by its log. A scrape that stopped waiting got no
	// log: what it saw is a record of its own. Several listings may be
	// recorded at once (a newer one ends while a scrape still records an
	// older one), so each is marked while its scrape records it.
	record := run.Log == nil || (run.Log != e.last.Log && !e.recording[run.Log])
	if record && run.Log != nil {
		e.recording[run.Log] = true
	}
	e.mu.Unlock()

	if record {
		if err != nil {
			rec.Err = err.Error()
			e.mu.Lock()
			rec.Failing = e.last.Failing // those of the last complete listing still stand
			e.mu.Unlock()
		} else {
			// The one walk of the listing for people, outside the lock.
			rec.Numbers, rec.Requests = listing.Len(), listing.Requests
			rec.Unhealthy, rec.Failing = e.rules.summarize(listing, s.Time)
			rec.Failing = e.journal.keepFailing(rec.Failing)
		}
		e.mu.Lock()
		if !rec.Time.Before(e.last.Time) { // not an older listing that took longer to record
			e.last = rec
		}
		delete(e.recording, run.Log)
		e.mu.Unlock()
		if e.journal != nil {
			e.journal.add(rec)
		}
	}

	if err != nil {
		s.Listing = nil // never a partial fleet
		e.log.Error("listing SIP phone numbers failed", "err", err, "duration", s.Duration)
	} else {
		if recovered {
			e.log.Info("listing SIP phone numbers works again", "numbers", listing.Len())
		}
		e.log.Debug("listed SIP phone numbers", "numbers", listing.Len(), "requests", listing.Requests, "relists", listing.Relists, "duration", s.Duration)
	}
	return s
}

// Scrape is one listing, ready to expose. It is a prometheus.Collector of
// every metric it yields, built as const metrics; the /metrics handler
// writes the per-number families with WriteText instead (see text.go).
type Scrape struct {
	Time        time.Time       // when the listing ended (see listingEnd): expiry is counted from here
	Duration    time.Duration   // how long the listing took
	Listing     *client.Listing // nil when it failed
	Err         error
	LastSuccess time.Time          // zero until a listing succeeds
	How         client.How         // started, joined or reused from the cache
	Log         *client.ListingLog // the listing's own log, if the lister keeps one

	rules *rules
	drop  map[string]bool // per-number families not exposed
}

// exposes reports whether the family named name is written; the one check
// of the family selection, made wherever a family is emitted.
func (s *Scrape) exposes(name string) bool { return !s.drop[name] }

// OK reports whether the listing succeeded.
func (s *Scrape) OK() bool { return s.Err == nil }

var (
	upDesc = prometheus.NewDesc("dasha_up",
		"1 if the last listing of SIP phone numbers fetched every page, else 0.", nil, nil)
	numbersDesc = prometheus.NewDesc("dasha_sip_phone_numbers",
		"SIP phone numbers in the listing, after de-duplication by id.", nil, nil)
	durationDesc = prometheus.NewDesc("dasha_scrape_duration_seconds",
		"How long listing the SIP phone numbers took in this scrape (near 0 when --dasha.cache-ttl served a cached listing).", nil, nil)
	lastSuccessDesc = prometheus.NewDesc("dasha_last_success_timestamp_seconds",
		"When a listing last succeeded, in Unix seconds (a listing reused from --dasha.cache-ttl counts from when it was taken); absent until the first success.", nil, nil)
)

// Status returns a collector of the exporter's view of this listing:
// dasha_up, dasha_sip_phone_numbers, dasha_scrape_duration_seconds and
// dasha_last_success_timestamp_seconds.
func (s *Scrape) Status() prometheus.Collector { return statusCollector{s} }

type statusCollector struct{ s *Scrape }

func (c statusCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- upDesc
	ch <- numbersDesc
	ch <- durationDesc
	ch <- lastSuccessDesc
}

func (c statusCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, boolValue(s.OK()))
	if s.OK() {
		ch <- prometheus.MustNewConstMetric(numbersDesc, prometheus.GaugeValue, float64(s.Listing.Len()))
	}
	ch <- prometheus.MustNewConstMetric(durationDesc, prometheus.GaugeValue, s.Duration.Seconds())
	if !s.LastSuccess.IsZero() {
		ch <- prometheus.MustNewConstMetric(lastSuccessDesc, prometheus.GaugeValue, unixSeconds(s.LastSuccess))
	}
}

// descs holds the per-number families' descriptors, in families' order.
var descs = func() []*prometheus.Desc {
	d := make([]*prometheus.Desc, len(families))
	for i, f := range families {
		d[i] = prometheus.NewDesc(f.name, f.help, append([]string{"id", "phone_number"}, f.labels...), nil)
	}
	return d
}()

// Describe sends the descriptors of every metric a Scrape yields.
func (s *Scrape) Describe(ch chan<- *prometheus.Desc) {
	statusCollector{s}.Describe(ch)
	for i, d := range descs {
		if s.exposes(families[i].name) {
			ch <- d
		}
	}
}

// Collect sends the status metrics and, when the listing succeeded, every
// per-number series as const metrics.
func (s *Scrape) Collect(ch chan<- prometheus.Metric) {
	statusCollector{s}.Collect(ch)
	if !s.OK() {
		return
	}
	for i, f := range families {
		if !s.exposes(f.name) {
			continue
		}
		cs := constSink{ch: ch, desc: descs[i], labels: len(f.labels)}
		for _, n := range s.Listing.All() {
			f.emit(cs, n, s.rules, s.Time)
		}
	}
}

// constSink turns samples into const gauges.
type constSink struct {
	ch     chan<- prometheus.Metric
	desc   *prometheus.Desc
	labels int // how many of the labelValues the family uses
}

// A const metric keeps its label values, and the listing's walk reuses the
// strings of uuids: each value is cloned.
func (c constSink) add(n *client.PhoneNumber, v float64, lv labelValues) {
	values := append([]string{cutID(n.ID), cutID(n.PhoneNumber)}, lv[:c.labels]...)
	for i := range values {
		values[i] = strings.Clone(values[i])
	}
	c.ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, v, values...)
}
