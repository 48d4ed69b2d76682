package accounts

import (
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dasha-exporter/dasha_exporter/collector"
	"github.com/dasha-exporter/dasha_exporter/internal/smallfile"
	"github.com/prometheus/client_golang/prometheus"
)

// Options are what every account of a Registry shares.
type Options struct {
	Defaults  Defaults
	Getenv    func(string) string // reads the variables that hold keys
	Logger    *slog.Logger
	UserAgent string
	// History keeps the accounts' recent listings; nil: NewRegistry
	// makes one with the collector's defaults.
	History *collector.History
}

// Source is where a Registry's accounts come from: a configuration file
// (File) or the flags (Flags).
type Source interface {
	// Load returns the accounts' settings, complete; d are the flags'
	// tuning values, the defaults of a file's accounts.
	Load(d Defaults) ([]Settings, error)
	// Names names the settings the accounts were set with.
	Names() Names
	// Reloadable is false when nothing can change without a restart.
	Reloadable() bool
	// String names the source in logs and on the landing page.
	String() string
}

// File is a configuration file of named accounts, read again on reload.
type File string

func (f File) Load(d Defaults) ([]Settings, error) { return Load(string(f), d) }
func (f File) Names() Names                        { return FileNames }
func (f File) Reloadable() bool                    { return true }
func (f File) String() string                      { return string(f) }

// Flags is the one account the command line describes. Main names the
// flags in Names, so that messages point at them.
type Flags struct {
	Account Settings
	Flags   Names
}

func (f Flags) Load(Defaults) ([]Settings, error) { return []Settings{f.Account}, nil }
func (f Flags) Names() Names                      { return f.Flags }
func (f Flags) Reloadable() bool                  { return false }
func (f Flags) String() string                    { return "the flags" }

// FlagsAccount is the name of the flags' account: /probe?target=default.
const FlagsAccount = "default"

// Registry holds the accounts of a source and swaps them on reload.
// Probes look an account up once and keep it to the end, so a reload
// never disturbs a probe in flight.
type Registry struct {
	src  Source
	opts Options
	log  *slog.Logger

	reloadMu sync.Mutex // one reload at a time
	current  atomic.Pointer[set]

	statusMu sync.Mutex
	status   ReloadStatus

	reloadOK   prometheus.Gauge
	reloadTime prometheus.Gauge
}

// set is one loaded configuration: the accounts by name, and in the
// source's order.
type set struct {
	byName map[string]*Account
	list   []*Account
}

// MaxConfigSize bounds the configuration file. 10,000 accounts (the
// most a file may name) of a few lines each take 1.5 to 4 MB; the YAML
// parser holds about 100 bytes per byte of the densest input (a 4 MiB
// flow list: 410 MB RSS, 2 s), so 16 MiB would let one file take well
// over a gigabyte.
const MaxConfigSize = 4 << 20

// Load reads and checks a configuration file: a regular file of at most
// MaxConfigSize (a FIFO or device fails at once, never blocks), whose
// key files, where they exist, are regular files of at most
// client.MaxKeyFileSize. Errors start with the file's path and name the
// line, account and field.
func Load(path string, d Defaults) ([]Settings, error) {
	data, _, err := smallfile.Read(path, MaxConfigSize)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s, err := Parse(data, filepath.Dir(path), d)
	if err == nil {
		err = checkKeyFiles(s)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for i := range s {
		s[i].Origin.File = path
	}
	return s, nil
}

// Check loads the file and builds every account as a start would, without
// sending a request. Keys that cannot be had now (a key file missing on
// this machine, a variable not set) are warnings, not errors: the exporter
// would serve them as dasha_up 0.
func Check(path string, opts Options) (warnings []string, err error) {
	settings, err := Load(path, opts.Defaults)
	if err != nil {
		return nil, err
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	for _, s := range settings {
		keys, problem := keySource(&s, opts.Getenv, FileNames)
		if problem != nil {
			warnings = append(warnings, fmt.Sprintf("account %q: %v", s.Name, problem))
		}
		if _, err := newAccount(s, keys, FileNames, nil, opts); err != nil {
			return warnings, fmt.Errorf("%s: account %q: %w", path, s.Name, err)
		}
		warnings = append(warnings, s.DroppedFamilyWarnings()...)
	}
	return warnings, nil
}

// NewRegistry loads the accounts of src; a bad source is an error. The
// request metrics of the accounts (see Collector) and, for a reloadable
// source, the reload metrics are registered on reg.
func NewRegistry(src Source, opts Options, reg prometheus.Registerer) (*Registry, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.History == nil {
		opts.History = collector.NewHistory(collector.DefaultListingsPerAccount, collector.DefaultListingsInAll)
	}
	r := &Registry{
		src:  src,
		opts: opts,
		log:  opts.Logger.With("component", "accounts"),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dasha_exporter_config_last_reload_successful",
			Help: "1 if the last load of the configuration file succeeded, else 0 (the previous configuration is kept).",
		}),
		reloadTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dasha_exporter_config_last_reload_success_timestamp_seconds",
			Help: "When the configuration file was last loaded successfully, in Unix seconds.",
		}),
	}
	if err := r.load(); err != nil {
		return nil, err
	}
	if reg != nil {
		reg.MustRegister(requestMetrics{r})
		if src.Reloadable() {
			reg.MustRegister(r.reloadOK, r.reloadTime)
		}
	}
	return r, nil
}

// Reload loads the source again. Accounts whose settings did not change
// keep their client, cache, page-count guess and request metrics; changed
// ones are built anew (keeping their request metrics); removed ones stop
// answering (probes in flight finish) and their series go. A bad file
// keeps the running configuration and returns why. The flags cannot
// change: it logs so.
func (r *Registry) Reload() error {
	if !r.src.Reloadable() {
		r.log.Info("nothing to reload: the account comes from the flags; the key file is re-read when it changes")
		return nil
	}
	return r.load()
}

func (r *Registry) load() error {
	r.reloadMu.Lock()
	defer r.reloadMu.Unlock()
	err := r.reload()
	r.statusMu.Lock()
	r.status.Attempted, r.status.Err = time.Now(), err
	if err == nil {
		r.status.Loaded = r.status.Attempted
	}
	r.statusMu.Unlock()
	if err != nil {
		r.reloadOK.Set(0)
		if r.current.Load() != nil {
			r.log.Error("reloading the configuration file failed; the running configuration stays", "file", r.src.String(), "err", err)
		}
		return err
	}
	r.reloadOK.Set(1)
	r.reloadTime.Set(float64(time.Now().UnixNano()) / 1e9)
	return nil
}

func (r *Registry) reload() error {
	settings, err := r.src.Load(r.opts.Defaults)
	if err != nil {
		return err
	}
	names := r.src.Names()
	old := r.current.Load()
	next := &set{byName: map[string]*Account{}}
	var built, kept []string
	for _, s := range settings {
		prev := old.get(s.Name)
		if prev != nil && prev.Settings.Equal(&s) {
			next.byName[s.Name] = prev
			next.list = append(next.list, prev)
			kept = append(kept, s.Name)
			continue
		}
		keys, problem := keySource(&s, r.opts.Getenv, names)
		a, err := newAccount(s, keys, names, prev, r.opts)
		if err != nil {
			if !r.src.Reloadable() {
				return err
			}
			return fmt.Errorf("%s: account %q: %w", r.src, s.Name, err)
		}
		if problem != nil {
			// Served as dasha_up 0 with the reason; the others go on.
			r.log.Warn("account has no usable API key yet", "account", s.Name, "err", problem)
		}
		if u, err := url.Parse(s.URL); err == nil && u.Scheme == "http" && !isLoopback(u.Hostname()) {
			r.log.Warn("the API URL is plain http: the API key travels unencrypted", "account", s.Name, "url", u.Redacted())
		}
		next.byName[s.Name] = a
		next.list = append(next.list, a)
		built = append(built, s.Name)
		a.logServing(r.log)
	}
	var removed []string
	var replaced []*Account
	if old != nil {
		for _, a := range old.list {
			if next.byName[a.Settings.Name] != a {
				replaced = append(replaced, a)
			}
			if next.byName[a.Settings.Name] == nil {
				removed = append(removed, a.Settings.Name)
				a.journal.Forget()
			}
		}
	}
	// From here on only the accounts of next are gathered: a removed
	// account's series are gone, and its probes in flight count into
	// metrics that nobody gathers.
	r.current.Store(next)
	for _, a := range replaced {
		a.closeIdle()
	}
	if r.src.Reloadable() {
		r.log.Info("loaded the configuration file", "file", r.src.String(), "accounts", len(next.list), "new_or_changed", built, "unchanged", kept, "removed", removed)
	}
	return nil
}

// ReloadStatus is how the last loads of the file went, for the landing page.
type ReloadStatus struct {
	File      string
	Loaded    time.Time // the running configuration's load
	Attempted time.Time // the last load, good or bad
	Err       error     // why the last load failed, or nil
}

// Status returns how the last loads of the file went; ok is false when
// the accounts come from the flags (nothing is loaded from a file).
func (r *Registry) Status() (st ReloadStatus, ok bool) {
	if !r.src.Reloadable() {
		return ReloadStatus{}, false
	}
	r.statusMu.Lock()
	defer r.statusMu.Unlock()
	st = r.status
	st.File = r.src.String()
	return st, true
}

// Source returns where the accounts come from.
func (r *Registry) Source() Source { return r.src }

// Get returns the account of that name, or nil.
func (r *Registry) Get(name string) *Account { return r.current.Load().get(name) }

// Accounts returns the accounts in the source's order.
func (r *Registry) Accounts() []*Account { return r.current.Load().list }

func (s *set) get(name string) *Account {
	if s == nil {
		return nil
	}
	return s.byName[name]
}

// requestMetrics gathers the API request metrics of the current accounts
// only. It is unchecked (it describes nothing): the set of accounts, and
// so of series, changes on reload.
type requestMetrics struct{ r *Registry }

func (m requestMetrics) Describe(chan<- *prometheus.Desc) {}

func (m requestMetrics) Collect(ch chan<- prometheus.Metric) {
	for _, a := range m.r.Accounts() {
		a.metrics.Collect(ch)
	}
}
