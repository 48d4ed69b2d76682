package accounts

import (
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/config"

	"github.com/dasha-exporter/dasha_exporter/client"
	"github.com/dasha-exporter/dasha_exporter/collector"
)

// Platforms are the Dasha BlackBox platforms an account may name instead of
// a URL. Keys do not carry over between them.
var Platforms = map[string]string{
	"us": "https://blackbox.dasha.ai",
	"ru": "https://blackbox.ru.dasha.ai",
}

// maxTimeout is the longest listing deadline an account may set: the cap
// every listing runs under.
const maxTimeout = client.MaxListingTime

// maxNameLen keeps account names fit for a label value and a URL.
const maxNameLen = 128

var (
	nameRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// ValidName reports whether s can name an account.
func ValidName(s string) bool { return len(s) <= maxNameLen && nameRE.MatchString(s) }

// Defaults are the flags' tuning values, which an account may override.
type Defaults struct {
	Timeout       time.Duration
	TimeoutOffset time.Duration
	CacheTTL      time.Duration
	PageSize      int
	Concurrency   int
	Collector     collector.Options
}

// Settings is one account's configuration, complete (defaults filled in)
// and, once Validate has passed, normalised, so that two loads of an
// unchanged account compare equal. The flags and the configuration file
// both build one and check it with the same Validate.
type Settings struct {
	Name          string
	Platform      string // "us", "ru", or "" when the URL was given
	URL           string // the API base URL
	KeyFile       string // absolute or relative to the working directory
	KeyEnv        string // the name of an environment variable
	Filters       client.Filters
	PageSize      int
	Concurrency   int
	CacheTTL      time.Duration
	Timeout       time.Duration
	TimeoutOffset time.Duration
	Collector     collector.Options
	TLS           config.TLSConfig
	ProxyURL      string

	// Origin says where the settings were written, for messages; it is
	// not part of what the account is.
	Origin Origin
}

// Origin is where an account's settings were written: a configuration
// file's lines, or nothing for the flags.
type Origin struct {
	File  string         // the configuration file; "" for the flags
	Line  int            // the line of the account's name
	Lines map[string]int // the line of each field the file sets, by its name there ("registration.states")
}

// LineOf returns the line of field, or of the account when the field was
// not written (a default, or a rule over several fields).
func (o Origin) LineOf(field string) int {
	if l, ok := o.Lines[field]; ok {
		return l
	}
	if parent, _, nested := strings.Cut(field, "."); nested {
		return o.LineOf(parent)
	}
	return o.Line
}

// Equal reports whether two settings describe the same account, so that
// a reload keeps an unchanged account's client, cache and page guess. It
// compares every field but Origin (an account moved within the file is
// the same account): a field added to Settings is compared without
// anyone having to remember it.
func (s *Settings) Equal(o *Settings) bool {
	a, b := *s, *o
	a.Origin, b.Origin = Origin{}, Origin{}
	return reflect.DeepEqual(a, b)
}

// DroppedFamilyWarnings names, for --config.check, each family the account
// drops that the shipped alerts or dashboard read (the running exporter
// logs the same when it builds the account).
func (s *Settings) DroppedFamilyWarnings() []string {
	var out []string
	for _, u := range s.Collector.DroppedInUse() {
		out = append(out, fmt.Sprintf("account %q: %s", s.Name, u))
	}
	return out
}

// Where names the account's API for people: the platform, or the URL.
func (s *Settings) Where() string {
	if s.Platform != "" {
		return s.Platform + " (" + s.URL + ")"
	}
	return s.URL
}

// A FieldError is what is wrong with one field of Settings, named as the
// configuration file names it ("page_size", "registration.states"). It
// never repeats a value that could be a key. The caller says where the
// field came from: a flag, or a line of the file.
type FieldError struct {
	Field string
	Other string // the other field, when two fields exclude each other
	Msg   string // what is wrong, without the field's name
}

// Describe renders the error with the caller's name for each field: the
// field, sep, and what is wrong ("--dasha.page-size 0 is out of range").
func (e *FieldError) Describe(name func(field string) string, sep string) string {
	if e.Other != "" {
		return name(e.Field) + " and " + name(e.Other) + " " + e.Msg
	}
	return name(e.Field) + sep + e.Msg
}

func (e *FieldError) Error() string {
	return e.Describe(func(f string) string { return f }, ": ")
}

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Validate checks every field and normalises the URL (a platform's URL
// filled in, no trailing slash). Every range and URL rule of the exporter
// is here, once, for the flags and the file alike. Errors are *FieldError.
func (s *Settings) Validate() error {
	if !ValidName(s.Name) {
		return fieldErr("name", "%q is not valid: letters, digits, _ . - (not first), at most %d characters", cut(s.Name, 64), maxNameLen)
	}
	if err := s.validateURL(); err != nil {
		return err
	}
	if err := s.validateKeySource(); err != nil {
		return err
	}
	switch f := s.Filters; {
	case f.ProviderID != "" && !client.IsUUID(f.ProviderID):
		return fieldErr("provider_id", "%q is not a uuid", cut(f.ProviderID, 64))
	case f.UnlinkedOnly && f.LinkedAgentID != "":
		return &FieldError{Field: "unlinked_only", Other: "linked_agent_id", Msg: "contradict each other; use one"}
	}
	switch {
	case s.PageSize < 1 || s.PageSize > client.MaxPageSize:
		return fieldErr("page_size", "%d is out of range 1..%d", s.PageSize, client.MaxPageSize)
	case s.Concurrency < 1 || s.Concurrency > client.MaxConcurrency:
		return fieldErr("concurrency", "%d is out of range 1..%d", s.Concurrency, client.MaxConcurrency)
	case s.CacheTTL < 0:
		return fieldErr("cache_ttl", "%v must not be negative", s.CacheTTL)
	case s.Timeout <= 0 || s.Timeout > maxTimeout:
		return fieldErr("timeout", "%v is out of range: more than 0, at most %v (the longest a listing may take)", s.Timeout, maxTimeout)
	case s.TimeoutOffset < 0:
		return fieldErr("timeout_offset", "%v must not be negative", s.TimeoutOffset)
	}
	// An empty selection and none are the same account.
	if len(s.Collector.MetricAllowlist) == 0 {
		s.Collector.MetricAllowlist = nil
	}
	if len(s.Collector.MetricDenylist) == 0 {
		s.Collector.MetricDenylist = nil
	}
	if err := s.Collector.Validate(); err != nil {
		var oe *collector.OptionError
		if errors.As(err, &oe) {
			return &FieldError{Field: fieldOfOption(oe.Option), Other: fieldOfOption(oe.Other), Msg: oe.Msg}
		}
		return fieldErr("registration", "%v", err)
	}
	if err := s.TLS.Validate(); err != nil {
		return fieldErr("tls_config", "%v", err)
	}
	if s.ProxyURL != "" {
		u, err := url.Parse(s.ProxyURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "socks5") || u.Host == "" {
			return fieldErr("proxy_url", "is not an absolute http://, https:// or socks5:// URL (the value is not repeated: it may carry a password)")
		}
		if err := checkPort(u); err != nil {
			return fieldErr("proxy_url", "%v", err)
		}
	}
	return nil
}

// fieldOfOption names a collector option as the file does.
func fieldOfOption(option string) string {
	switch option {
	case "":
		return ""
	case "metric_allowlist":
		return "metrics.allowlist"
	case "metric_denylist":
		return "metrics.denylist"
	}
	return "registration." + option
}

// validateURL checks the platform or URL and normalises the URL.
func (s *Settings) validateURL() error {
	if s.Platform != "" {
		base, ok := Platforms[s.Platform]
		switch {
		case !ok:
			return fieldErr("platform", "is not a platform: us (%s) or ru (%s); for another address use url", Platforms["us"], Platforms["ru"])
		case s.URL != "" && s.URL != base:
			return &FieldError{Field: "platform", Other: "url", Msg: "are both set; give exactly one"}
		}
		s.URL = base
		return nil
	}
	if s.URL == "" {
		return fieldErr("url", "is empty: give the API's base URL")
	}
	// The URL is never repeated: it may carry credentials or a key in
	// its query.
	u, err := url.Parse(s.URL)
	if err != nil && strings.Contains(err.Error(), "invalid port") {
		return fieldErr("url", "has a port that is not a number 1..65535")
	}
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fieldErr("url", "is not an absolute http:// or https:// URL")
	case u.User != nil:
		return fieldErr("url", "must not carry credentials (not repeated here); the API key has a setting of its own")
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return fieldErr("url", "must be a base URL without query or fragment")
	}
	if err := checkPort(u); err != nil {
		return fieldErr("url", "%v", err)
	}
	s.URL = strings.TrimRight(u.String(), "/") // every trailing slash: Validate is idempotent
	return nil
}

// checkPort accepts no port (the scheme's) or a port of 1..65535; the URL
// parser takes 0 and 65536 and anything after a bare colon.
func checkPort(u *url.URL) error {
	if strings.HasSuffix(u.Host, ":") {
		return errors.New("has an empty port")
	}
	p := u.Port()
	if p == "" {
		return nil
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %s is out of range 1..65535", cut(p, 16))
	}
	return nil
}

// validateKeySource checks the key source's shape; never its value in a
// message (a key may have been pasted in its place). Whether there is a
// key source at all is the caller's rule (a demo needs none).
func (s *Settings) validateKeySource() error {
	switch {
	case s.KeyFile != "" && s.KeyEnv != "":
		return &FieldError{Field: "api_key_file", Other: "api_key_env", Msg: "are both set; use one"}
	case s.KeyEnv != "" && !envNameRE.MatchString(s.KeyEnv):
		return fieldErr("api_key_env", "the value is not the name of an environment variable (letters, digits and _, not starting with a digit); give the variable's name, never the key itself (the value is not repeated here)")
	}
	return nil
}

// cut shortens s for an error message.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
