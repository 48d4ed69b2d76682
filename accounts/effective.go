package accounts

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/config"
)

// Provenance is where the settings shown by EffectiveYAML came from.
type Provenance struct {
	File   string    // the configuration file; "" for the command-line flags
	Loaded time.Time // when File was loaded (the running configuration)
	Demo   bool      // the flags' --demo: a simulated fleet, no key
}

// EffectiveYAML renders settings as the configuration file that would
// give them, every default filled in, in the given order, under a header
// that says where they came from. It never shows a key, and shows a key
// source only under the contract's naming rule (ShowableKeyFile,
// ShowableEnvName); a source that may not be shown reads "<hidden: why>",
// which cannot be mistaken for a path or a variable name. proxy_url and
// url lose their userinfo. Paths are made absolute, so that the text is a
// configuration file valid in any directory.
func EffectiveYAML(settings []Settings, src Provenance) ([]byte, error) {
	wd, err := os.Getwd()
	if err != nil {
		wd = "" // paths stay as they are: relative to the working directory
	}
	var e blockEmitter
	for _, line := range strings.Split(header(src), "\n") {
		e.b.WriteString("# " + line + "\n")
	}
	e.b.WriteString("\naccounts:\n")
	for i := range settings {
		v, comments := viewOf(&settings[i], src, wd)
		e.b.WriteString("  " + plainOrQuoted(settings[i].Name) + ":\n")
		if err := e.mapping(reflect.ValueOf(v), 4, comments); err != nil {
			return nil, fmt.Errorf("account %q: %w", settings[i].Name, err)
		}
	}
	return e.b.Bytes(), nil
}

// header is the comment above the YAML: where it came from and the rule
// for key sources. The file's path is quoted: a newline in it would end
// the comment.
func header(src Provenance) string {
	var b strings.Builder
	b.WriteString("The effective configuration of dasha_exporter: every account, every default filled in.\n")
	switch {
	case src.File != "":
		fmt.Fprintf(&b, "Source: the configuration file %s", strconv.Quote(src.File))
		if !src.Loaded.IsZero() {
			fmt.Fprintf(&b, ", loaded %s", src.Loaded.UTC().Format(time.RFC3339))
		}
		b.WriteString(".\n")
	case src.Demo:
		b.WriteString("Source: the command-line flags with --demo: a simulated fleet on a loopback address.\n")
	default:
		b.WriteString("Source: the command-line flags, as the account \"default\": api_key_env is DASHA_API_KEY,\n")
		b.WriteString("api_key_file is --dasha.api-key-file.\n")
	}
	b.WriteString("Keys are never shown. A key source is shown only when it cannot be a pasted key: api_key_file\n")
	b.WriteString("once it names an existing regular file, api_key_env when it is a variable name shorter than\n")
	b.WriteString("32 characters; otherwise it reads \"<hidden: why>\". proxy_url is shown without user and password.\n")
	b.WriteString("Paths are absolute. Filters that are not set are left out.")
	return b.String()
}

// The views below mirror the decoder's tables (accountFields,
// registrationFields, tlsFields): the same names in the same order, so
// that the text reads as the file a user writes and parses back.

type accountView struct {
	Platform      string           `yaml:"platform,omitempty"`
	URL           string           `yaml:"url,omitempty"`
	APIKeyFile    string           `yaml:"api_key_file,omitempty"`
	APIKeyEnv     string           `yaml:"api_key_env,omitempty"`
	PhoneNumber   string           `yaml:"phone_number,omitempty"`
	ProviderID    string           `yaml:"provider_id,omitempty"`
	LinkedAgentID string           `yaml:"linked_agent_id,omitempty"`
	UnlinkedOnly  bool             `yaml:"unlinked_only,omitempty"`
	PageSize      int              `yaml:"page_size"`
	Concurrency   int              `yaml:"concurrency"`
	CacheTTL      string           `yaml:"cache_ttl"`
	Timeout       string           `yaml:"timeout"`
	TimeoutOffset string           `yaml:"timeout_offset"`
	Registration  registrationView `yaml:"registration"`
	Metrics       *metricsView     `yaml:"metrics,omitempty"`
	TLSConfig     *tlsView         `yaml:"tls_config,omitempty"`
	ProxyURL      string           `yaml:"proxy_url,omitempty"`
}

type registrationView struct {
	States        []string `yaml:"states,flow"`
	HealthyStates []string `yaml:"healthy_states,flow"`
}

// metricsView is the family selection; absent when every family is
// exported.
type metricsView struct {
	Allowlist []string `yaml:"allowlist,flow,omitempty"`
	Denylist  []string `yaml:"denylist,flow,omitempty"`
}

// tlsView is prometheus/common's tls_config as far as the decoder reads it,
// plus max_version and, should they ever be set, its inline certificates
// and secret references as "<hidden: …>" (the decoder refuses them: they
// would put a private key in the file).
type tlsView struct {
	CA                 string            `yaml:"ca,omitempty"`
	Cert               string            `yaml:"cert,omitempty"`
	Key                string            `yaml:"key,omitempty"`
	CAFile             string            `yaml:"ca_file,omitempty"`
	CertFile           string            `yaml:"cert_file,omitempty"`
	KeyFile            string            `yaml:"key_file,omitempty"`
	CARef              string            `yaml:"ca_ref,omitempty"`
	CertRef            string            `yaml:"cert_ref,omitempty"`
	KeyRef             string            `yaml:"key_ref,omitempty"`
	ServerName         string            `yaml:"server_name,omitempty"`
	InsecureSkipVerify bool              `yaml:"insecure_skip_verify,omitempty"`
	MinVersion         config.TLSVersion `yaml:"min_version,omitempty"`
	MaxVersion         config.TLSVersion `yaml:"max_version,omitempty"`
}

// hiddenInline stands for a value that is never shown, whatever it is.
const hiddenInline = "<hidden: inline value>"

// viewOf is one account's settings as the file would write them, and
// the comments of lines where the bare value would not say enough.
func viewOf(s *Settings, src Provenance, wd string) (accountView, map[string]string) {
	v := accountView{
		PhoneNumber:   s.Filters.PhoneNumber,
		ProviderID:    s.Filters.ProviderID,
		LinkedAgentID: s.Filters.LinkedAgentID,
		UnlinkedOnly:  s.Filters.UnlinkedOnly,
		PageSize:      s.PageSize,
		Concurrency:   s.Concurrency,
		CacheTTL:      s.CacheTTL.String(),
		Timeout:       s.Timeout.String(),
		TimeoutOffset: s.TimeoutOffset.String(),
		Registration:  registrationView{States: s.Collector.States, HealthyStates: s.Collector.HealthyStates},
		TLSConfig:     tlsOf(&s.TLS, wd),
		// Collector.Renders is a counter the exporter shares, not
		// configuration.
		ProxyURL: withoutUserinfo(s.ProxyURL),
	}
	if c := s.Collector; len(c.MetricAllowlist) > 0 || len(c.MetricDenylist) > 0 {
		v.Metrics = &metricsView{Allowlist: c.MetricAllowlist, Denylist: c.MetricDenylist}
	}
	comments := map[string]string{}
	if s.Platform != "" {
		v.Platform, comments["platform"] = s.Platform, s.URL
	} else {
		v.URL = withoutUserinfo(s.URL)
		if src.Demo {
			comments["url"] = "--demo: the simulated fleet"
		}
	}
	// A hidden source's comment points at the line of the file that
	// sets it, as the contract's messages do.
	hidden := func(field string) string {
		if line := s.Origin.LineOf(field); line > 0 {
			return fmt.Sprintf("see line %d of the file", line)
		}
		return "not shown: it may be a key"
	}
	switch {
	case s.KeyEnv != "" && ShowableEnvName(s.KeyEnv):
		v.APIKeyEnv = s.KeyEnv
		if src.Demo {
			comments["api_key_env"] = "--demo sets it to the simulated API's key"
		}
	case s.KeyEnv != "":
		v.APIKeyEnv, comments["api_key_env"] = "<hidden: not a short variable name>", hidden("api_key_env")
	case s.KeyFile != "":
		if ShowableKeyFile(s.KeyFile) {
			v.APIKeyFile = absolute(wd, s.KeyFile)
		} else {
			v.APIKeyFile, comments["api_key_file"] = "<hidden: "+whyNotAFile(s.KeyFile)+">", hidden("api_key_file")
		}
	}
	return v, comments
}

// whyNotAFile says why a key file's path fails ShowableKeyFile.
func whyNotAFile(path string) string {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "no such file"
	case err != nil:
		return "cannot be checked"
	case !fi.Mode().IsRegular():
		return "not a regular file"
	}
	return "it changed while being checked"
}

// tlsOf is the view of t, or nil when nothing of it is set.
func tlsOf(t *config.TLSConfig, wd string) *tlsView {
	if *t == (config.TLSConfig{}) {
		return nil
	}
	hide := func(s string) string {
		if s == "" {
			return ""
		}
		return hiddenInline
	}
	return &tlsView{
		CA:                 hide(t.CA),
		Cert:               hide(t.Cert),
		Key:                hide(string(t.Key)),
		CAFile:             absolute(wd, t.CAFile),
		CertFile:           absolute(wd, t.CertFile),
		KeyFile:            absolute(wd, t.KeyFile),
		CARef:              hide(t.CARef),
		CertRef:            hide(t.CertRef),
		KeyRef:             hide(t.KeyRef),
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify,
		MinVersion:         t.MinVersion,
		MaxVersion:         t.MaxVersion,
	}
}

// withoutUserinfo drops user and password from a URL entirely
// (url.URL.Redacted keeps the user name, which may be a token).
func withoutUserinfo(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "<hidden: not a URL>" // Validate refuses it; never repeat it
	}
	u.User = nil
	return u.String()
}

// absolute joins a relative path to wd, the directory it is relative to.
func absolute(wd, path string) string {
	if path == "" || wd == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(wd, path)
}
