// Package accounts serves several Dasha accounts (organisations, on either
// platform) from one exporter: it reads the --config.file, owns each
// account's client, key source, shared listing and collector, swaps them on
// reload, and answers /probe?target=<account>.
package accounts

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/config"
	"go.yaml.in/yaml/v3"

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
	// keyLikeRE matches a file name that is more likely a pasted key than
	// a path: long, without a dot or a directory.
	keyLikeRE = regexp.MustCompile(`^[A-Za-z0-9_+=-]{32,}$`)
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
// and normalised, so that two loads of an unchanged account compare equal.
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
}

// Equal reports whether two settings describe the same account.
func (s *Settings) Equal(o *Settings) bool {
	return s.Name == o.Name && s.Platform == o.Platform && s.URL == o.URL && s.KeyFile == o.KeyFile &&
		s.KeyEnv == o.KeyEnv && s.Filters == o.Filters && s.PageSize == o.PageSize &&
		s.Concurrency == o.Concurrency && s.CacheTTL == o.CacheTTL && s.Timeout == o.Timeout &&
		s.TimeoutOffset == o.TimeoutOffset && slices.Equal(s.Collector.States, o.Collector.States) &&
		slices.Equal(s.Collector.HealthyStates, o.Collector.HealthyStates) && s.TLS == o.TLS && s.ProxyURL == o.ProxyURL
}

// Where names the account's API for people: the platform, or the URL.
func (s *Settings) Where() string {
	if s.Platform != "" {
		return s.Platform + " (" + s.URL + ")"
	}
	return s.URL
}

// lineError is an error at a line of the file.
type lineError struct {
	line int
	msg  string
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

func errAt(n *yaml.Node, format string, args ...any) error {
	return &lineError{line: n.Line, msg: fmt.Sprintf(format, args...)}
}

// Parse reads a configuration file's contents. Relative file paths are
// taken relative to dir, as Prometheus does. Every error is one line that
// names the line, the account and the field, and never repeats a value
// that could be a key.
func Parse(data []byte, dir string, d Defaults) ([]Settings, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, errors.New(strings.ReplaceAll(strings.TrimPrefix(err.Error(), "yaml: "), "\n", "; "))
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, errors.New("the file is empty; it needs an accounts: mapping")
	}
	root := resolve(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		return nil, errAt(root, "the file must be a mapping with accounts:")
	}
	var accounts *yaml.Node
	for i := 0; i < len(root.Content); i += 2 {
		k, v := root.Content[i], resolve(root.Content[i+1])
		switch k.Value {
		case "accounts":
			if accounts != nil {
				return nil, errAt(k, "accounts: is given twice")
			}
			accounts = v
		default:
			return nil, errAt(k, "unknown field %q (the file has only accounts:)", k.Value)
		}
	}
	if accounts == nil || accounts.Kind == yaml.ScalarNode && accounts.Tag == "!!null" {
		return nil, errors.New("no accounts: the file needs accounts: with at least one account")
	}
	if accounts.Kind != yaml.MappingNode {
		return nil, errAt(accounts, "accounts: must be a mapping of account names to their settings")
	}
	if len(accounts.Content) == 0 {
		return nil, errAt(accounts, "accounts: is empty; name at least one account")
	}
	seen := map[string]int{}
	var out []Settings
	for i := 0; i < len(accounts.Content); i += 2 {
		k, v := accounts.Content[i], resolve(accounts.Content[i+1])
		name := k.Value
		if k.Kind != yaml.ScalarNode || !ValidName(name) {
			return nil, errAt(k, "account name %q is not valid: letters, digits, _ . - (not first), at most %d characters", cut(name, 64), maxNameLen)
		}
		if first, dup := seen[name]; dup {
			return nil, errAt(k, "account %q is defined twice (first at line %d)", name, first)
		}
		seen[name] = k.Line
		s, err := parseAccount(name, k, v, dir, d)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// parseAccount reads one account's mapping and fills in the defaults.
func parseAccount(name string, key, v *yaml.Node, dir string, d Defaults) (Settings, error) {
	s := Settings{
		Name: name, PageSize: d.PageSize, Concurrency: d.Concurrency, CacheTTL: d.CacheTTL,
		Timeout: d.Timeout, TimeoutOffset: d.TimeoutOffset,
		Collector: collector.Options{States: d.Collector.States, HealthyStates: d.Collector.HealthyStates, Renders: d.Collector.Renders},
	}
	fail := func(n *yaml.Node, field, format string, args ...any) error {
		return errAt(n, "account %q: %s: %s", name, field, fmt.Sprintf(format, args...))
	}
	if v.Kind != yaml.MappingNode {
		return s, errAt(key, "account %q: its settings must be a mapping (platform: or url:, and api_key_file: or api_key_env:)", name)
	}
	var rawURL string
	var urlNode, keyFileNode, keyEnvNode, unlinkedNode, linkedNode *yaml.Node
	statesSet, healthySet := false, false
	fields := map[string]int{}
	for i := 0; i < len(v.Content); i += 2 {
		k, n := v.Content[i], resolve(v.Content[i+1])
		field := k.Value
		if first, dup := fields[field]; dup {
			return s, fail(k, field, "given twice (first at line %d)", first)
		}
		fields[field] = k.Line
		var err error
		switch field {
		case "platform":
			var p string
			if p, err = str(n); err == nil {
				if _, ok := Platforms[p]; !ok {
					err = fmt.Errorf("not a platform: us (%s) or ru (%s); for another address use url", Platforms["us"], Platforms["ru"])
				}
				s.Platform = p
			}
		case "url":
			urlNode = n
			rawURL, err = str(n)
		case "api_key_file":
			keyFileNode = n
			if s.KeyFile, err = str(n); err == nil {
				if keyLikeRE.MatchString(s.KeyFile) {
					// Never repeat it: it may be the key itself.
					err = errors.New("the value does not look like a file path (is it the key itself? keys never go in this file); give the path of a file holding the key")
				}
				s.KeyFile = join(dir, s.KeyFile)
			}
		case "api_key_env":
			keyEnvNode = n
			if s.KeyEnv, err = secretStr(n); err == nil && !envNameRE.MatchString(s.KeyEnv) {
				// Never repeat it: it may be the key itself.
				err = errors.New("the value is not the name of an environment variable (letters, digits and _, not starting with a digit); give the variable's name, never the key itself (the value is not repeated here)")
			}
		case "api_key", "key", "token", "bearer_token":
			return s, fail(k, field, "keys never go in this file (they would be in every copy of it); use api_key_file or api_key_env")
		case "phone_number":
			s.Filters.PhoneNumber, err = str(n)
		case "provider_id":
			if s.Filters.ProviderID, err = str(n); err == nil && !client.IsUUID(s.Filters.ProviderID) {
				err = fmt.Errorf("%q is not a uuid", cut(s.Filters.ProviderID, 64))
			}
		case "linked_agent_id":
			linkedNode = n
			s.Filters.LinkedAgentID, err = str(n)
		case "unlinked_only":
			unlinkedNode = n
			s.Filters.UnlinkedOnly, err = boolean(n)
		case "page_size":
			if s.PageSize, err = integer(n); err == nil && (s.PageSize < 1 || s.PageSize > client.MaxPageSize) {
				err = fmt.Errorf("%d is out of range 1..%d", s.PageSize, client.MaxPageSize)
			}
		case "concurrency":
			if s.Concurrency, err = integer(n); err == nil && (s.Concurrency < 1 || s.Concurrency > client.MaxConcurrency) {
				err = fmt.Errorf("%d is out of range 1..%d", s.Concurrency, client.MaxConcurrency)
			}
		case "cache_ttl":
			if s.CacheTTL, err = duration(n); err == nil && s.CacheTTL < 0 {
				err = fmt.Errorf("%v must not be negative", s.CacheTTL)
			}
		case "timeout":
			if s.Timeout, err = duration(n); err == nil && (s.Timeout <= 0 || s.Timeout > maxTimeout) {
				err = fmt.Errorf("%v is out of range: more than 0, at most %v (the longest a listing may take)", s.Timeout, maxTimeout)
			}
		case "timeout_offset":
			if s.TimeoutOffset, err = duration(n); err == nil && s.TimeoutOffset < 0 {
				err = fmt.Errorf("%v must not be negative", s.TimeoutOffset)
			}
		case "registration":
			if n.Kind != yaml.MappingNode {
				return s, fail(n, field, "must be a mapping with states: and/or healthy_states:")
			}
			for j := 0; j < len(n.Content); j += 2 {
				rk, rv := n.Content[j], resolve(n.Content[j+1])
				var list []string
				switch rk.Value {
				case "states":
					list, err = strList(rv)
					s.Collector.States, statesSet = list, true
				case "healthy_states":
					list, err = strList(rv)
					s.Collector.HealthyStates, healthySet = list, true
				default:
					err = fmt.Errorf("unknown field %q (states, healthy_states)", rk.Value)
					rv = rk
				}
				if err != nil {
					return s, fail(rv, "registration."+rk.Value, "%v", err)
				}
			}
		case "tls_config":
			var at *yaml.Node
			if s.TLS, at, err = tlsConfig(n, dir); err != nil {
				return s, errAt(at, "account %q: tls_config%v", name, err)
			}
		case "proxy_url":
			var p string
			if p, err = secretStr(n); err == nil {
				u, perr := url.Parse(p)
				if perr != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "socks5") || u.Host == "" {
					// The proxy URL may carry a password: not repeated.
					err = errors.New("not an absolute http://, https:// or socks5:// URL (the value is not repeated: it may carry a password)")
				}
				s.ProxyURL = p
			}
		default:
			return s, fail(k, field, "unknown field (known: platform, url, api_key_file, api_key_env, phone_number, provider_id, linked_agent_id, unlinked_only, page_size, concurrency, cache_ttl, timeout, timeout_offset, registration, tls_config, proxy_url)")
		}
		if err != nil {
			return s, fail(n, field, "%v", err)
		}
	}

	switch {
	case s.Platform != "" && urlNode != nil:
		return s, fail(urlNode, "url", "platform and url are both set; give exactly one")
	case s.Platform != "":
		s.URL = Platforms[s.Platform]
	case urlNode != nil:
		u, err := url.Parse(rawURL)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			return s, fail(urlNode, "url", "not an absolute http:// or https:// URL")
		case u.User != nil:
			return s, fail(urlNode, "url", "must not carry credentials (not repeated here); the key comes from api_key_file or api_key_env")
		case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
			return s, fail(urlNode, "url", "must be a base URL without query or fragment")
		}
		s.URL = strings.TrimSuffix(u.String(), "/")
	default:
		return s, errAt(key, "account %q: no platform or url: set platform: us, platform: ru, or url:", name)
	}
	switch {
	case keyFileNode != nil && keyEnvNode != nil:
		return s, fail(keyEnvNode, "api_key_env", "api_key_file and api_key_env are both set; use one")
	case keyFileNode == nil && keyEnvNode == nil:
		return s, errAt(key, "account %q: no API key source: set api_key_file or api_key_env", name)
	}
	if s.Filters.UnlinkedOnly && linkedNode != nil {
		return s, fail(unlinkedNode, "unlinked_only", "contradicts linked_agent_id; use one")
	}
	if statesSet && !healthySet {
		// Healthy states chosen for the flags' state list may not be in
		// this account's; keep the flags' ones that are.
		s.Collector.HealthyStates = slices.DeleteFunc(slices.Clone(s.Collector.HealthyStates), func(h string) bool {
			return !slices.Contains(s.Collector.States, h)
		})
	}
	if err := s.Collector.Validate(); err != nil {
		msg := strings.NewReplacer("--registration.healthy-state", "healthy_states", "--registration.state", "states").Replace(err.Error())
		return s, errAt(key, "account %q: registration: %s", name, msg)
	}
	return s, nil
}

// tlsConfig reads the fields of prometheus/common's tls_config that make
// sense here: no inline certificates or keys, no secret references.
// The node returned is where an error is.
func tlsConfig(n *yaml.Node, dir string) (config.TLSConfig, *yaml.Node, error) {
	var c config.TLSConfig
	if n.Kind != yaml.MappingNode {
		return c, n, errors.New(": must be a mapping (ca_file, cert_file, key_file, server_name, insecure_skip_verify, min_version)")
	}
	for i := 0; i < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		var err error
		switch k.Value {
		case "ca_file":
			c.CAFile, err = str(v)
		case "cert_file":
			c.CertFile, err = str(v)
		case "key_file":
			c.KeyFile, err = str(v)
		case "server_name":
			c.ServerName, err = str(v)
		case "insecure_skip_verify":
			c.InsecureSkipVerify, err = boolean(v)
		case "min_version":
			err = v.Decode(&c.MinVersion)
		default:
			return c, k, fmt.Errorf(".%s: unknown field (known: ca_file, cert_file, key_file, server_name, insecure_skip_verify, min_version)", k.Value)
		}
		if err != nil {
			return c, v, fmt.Errorf(".%s: %v", k.Value, err)
		}
	}
	c.SetDirectory(dir)
	if err := c.Validate(); err != nil {
		return c, n, fmt.Errorf(": %v", err)
	}
	return c, nil, nil
}

func join(dir, path string) string {
	if path == "" || filepath.IsAbs(path) || dir == "" {
		return path
	}
	return filepath.Join(dir, path)
}

// str reads a scalar as written; YAML's typing of 0123 or +1555 as numbers
// does not matter for strings.
func str(n *yaml.Node) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", errors.New("must be a single value")
	}
	if n.Tag == "!!null" || n.Value == "" {
		return "", errors.New("is empty")
	}
	return n.Value, nil
}

// secretStr is str for fields that may hold a secret by mistake: its
// errors do not depend on the value.
func secretStr(n *yaml.Node) (string, error) { return str(n) }

func integer(n *yaml.Node) (int, error) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		return 0, fmt.Errorf("%q is not a whole number", cut(n.Value, 64))
	}
	v, err := strconv.Atoi(n.Value)
	if err != nil {
		return 0, fmt.Errorf("%q is not a whole number", cut(n.Value, 64))
	}
	return v, nil
}

func boolean(n *yaml.Node) (bool, error) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		return false, fmt.Errorf("%q is not true or false", cut(n.Value, 64))
	}
	var b bool
	err := n.Decode(&b)
	return b, err
}

func duration(n *yaml.Node) (time.Duration, error) {
	if n.Kind != yaml.ScalarNode {
		return 0, errors.New("must be a duration such as 30s, 1m or 500ms")
	}
	d, err := time.ParseDuration(n.Value)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as 30s, 1m or 500ms", cut(n.Value, 64))
	}
	return d, nil
}

func strList(n *yaml.Node) ([]string, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, errors.New("must be a list, e.g. [Registered, Failed]")
	}
	out := make([]string, 0, len(n.Content))
	for _, item := range n.Content {
		s, err := str(resolve(item))
		if err != nil {
			return nil, fmt.Errorf("item at line %d %v", item.Line, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// cut shortens s for an error message.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
