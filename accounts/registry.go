package accounts

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dasha-exporter/dasha_exporter/client"
	"github.com/dasha-exporter/dasha_exporter/internal/smallfile"
)

// Options are what every account of a Registry shares.
type Options struct {
	Defaults  Defaults
	Getenv    func(string) string // reads api_key_env variables
	Logger    *slog.Logger
	UserAgent string
}

// Registry holds the accounts of a configuration file and swaps them on
// reload. Probes look an account up once and keep it to the end, so a
// reload never disturbs a probe in flight.
type Registry struct {
	path    string
	opts    Options
	metrics *client.AccountMetrics
	log     *slog.Logger

	reloadMu sync.Mutex // one reload at a time
	current  atomic.Pointer[set]

	statusMu sync.Mutex
	status   ReloadStatus

	reloadOK   prometheus.Gauge
	reloadTime prometheus.Gauge
}

// set is one loaded configuration: the accounts by name, and in the
// file's order.
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
	for _, s := range settings {
		keys, problem := keySource(&s, opts.Getenv)
		if problem != nil && s.KeyFile != "" {
			// The key file's errors carry no path (it may be a pasted
			// key): name the source under the naming rule.
			reason := problem
			if bare := errors.Unwrap(problem); bare != nil {
				reason = bare
			}
			problem = fmt.Errorf("%s: %w", s.KeySourceName(), reason)
		}
		if problem != nil {
			warnings = append(warnings, fmt.Sprintf("account %q: %v", s.Name, problem))
		}
		if _, err := newAccount(s, keys, nil, nil, "", true); err != nil {
			return warnings, fmt.Errorf("%s: account %q: %w", path, s.Name, err)
		}
		warnings = append(warnings, s.DroppedFamilyWarnings()...)
	}
	return warnings, nil
}

// NewRegistry loads the file at path; a bad file is an error. The request
// metrics (with an account label) and the reload metrics are registered on
// reg.
func NewRegistry(path string, opts Options, reg prometheus.Registerer) (*Registry, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	r := &Registry{
		path:    path,
		opts:    opts,
		metrics: client.NewAccountMetrics(reg),
		log:     opts.Logger.With("component", "accounts"),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dasha_exporter_config_last_reload_successful",
			Help: "1 if the last load of the configuration file succeeded, else 0 (the previous configuration is kept).",
		}),
		reloadTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dasha_exporter_config_last_reload_success_timestamp_seconds",
			Help: "When the configuration file was last loaded successfully, in Unix seconds.",
		}),
	}
	if reg != nil {
		reg.MustRegister(r.reloadOK, r.reloadTime)
	}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload reads the file again. Accounts whose settings did not change keep
// their client, cache and page-count guess; changed ones are built anew;
// removed ones stop answering (probes in flight finish). A bad file keeps
// the running configuration and returns why.
func (r *Registry) Reload() error {
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
			r.log.Error("reloading the configuration file failed; the running configuration stays", "file", r.path, "err", err)
		}
		return err
	}
	r.reloadOK.Set(1)
	r.reloadTime.Set(float64(time.Now().UnixNano()) / 1e9)
	return nil
}

func (r *Registry) reload() error {
	settings, err := Load(r.path, r.opts.Defaults)
	if err != nil {
		return err
	}
	old := r.current.Load()
	next := &set{byName: map[string]*Account{}}
	var built, kept []string
	for _, s := range settings {
		if prev := old.get(s.Name); prev != nil && prev.Settings.Equal(&s) {
			next.byName[s.Name] = prev
			next.list = append(next.list, prev)
			kept = append(kept, s.Name)
			continue
		}
		keys, problem := keySource(&s, r.opts.Getenv)
		a, err := newAccount(s, keys, r.metrics.For(s.Name), r.opts.Logger, r.opts.UserAgent, true)
		if err != nil {
			return fmt.Errorf("%s: account %q: %w", r.path, s.Name, err)
		}
		if problem != nil {
			// Served as dasha_up 0 with the reason; the others go on.
			r.log.Warn("account has no usable API key yet", "account", s.Name, "err", problem)
		}
		if u, err := url.Parse(s.URL); err == nil && u.Scheme == "http" && !isLoopback(u.Hostname()) {
			r.log.Warn("account url is plain http: its API key travels unencrypted", "account", s.Name, "url", u.Redacted())
		}
		next.byName[s.Name] = a
		next.list = append(next.list, a)
		built = append(built, s.Name)
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
				// A changed account keeps counting in its series; a
				// removed one's go.
				r.metrics.Forget(a.Settings.Name)
			}
		}
	}
	r.current.Store(next)
	for _, a := range replaced {
		a.closeIdle()
	}
	r.log.Info("loaded the configuration file", "file", r.path, "accounts", len(next.list), "new_or_changed", built, "unchanged", kept, "removed", removed)
	return nil
}

// ReloadStatus is how the last loads of the file went, for the landing page.
type ReloadStatus struct {
	File      string
	Loaded    time.Time // the running configuration's load
	Attempted time.Time // the last load, good or bad
	Err       error     // why the last load failed, or nil
}

// Status returns how the last loads of the file went.
func (r *Registry) Status() ReloadStatus {
	r.statusMu.Lock()
	defer r.statusMu.Unlock()
	st := r.status
	st.File = r.path
	return st
}

// Get returns the account of that name, or nil.
func (r *Registry) Get(name string) *Account { return r.current.Load().get(name) }

// Accounts returns the accounts in the file's order.
func (r *Registry) Accounts() []*Account { return r.current.Load().list }

func (s *set) get(name string) *Account {
	if s == nil {
		return nil
	}
	return s.byName[name]
}

// keySource returns the account's key source. A key that cannot be had now
// is not an error of the file: the source keeps failing with the reason
// (a key file is read again on each request, so creating it later works),
// and problem says why. Nothing here repeats the key or the variable's
// value, nor the variable's name (a key pasted in its place).
func keySource(s *Settings, getenv func(string) string) (keys client.KeySource, problem error) {
	if s.KeyEnv != "" {
		v := getenv(s.KeyEnv)
		if v == "" {
			err := errors.New("api_key_env: the environment variable it names is not set or empty")
			return brokenKey{err}, err
		}
		key, err := client.ValidateKey(v)
		if err != nil {
			err = fmt.Errorf("api_key_env: the environment variable it names does not hold a valid key: %w", err)
			return brokenKey{err}, err
		}
		return client.StaticKey(key), nil
	}
	f := client.NewKeyFile(s.KeyFile)
	_, err := f.Key()
	return f, err
}

// isLoopback reports whether host is this machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// brokenKey always fails with the reason there is no key.
type brokenKey struct{ err error }

func (k brokenKey) Key() (string, error) { return "", k.err }
