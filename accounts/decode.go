// Package accounts serves several Dasha accounts (organisations, on either
// platform) from one exporter: it reads the --config.file, owns each
// account's client, key source, shared listing and collector, swaps them on
// reload, and answers /probe?target=<account>.
package accounts

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/config"
	"go.yaml.in/yaml/v3"

	"github.com/dasha-exporter/dasha_exporter/collector"
)

// MaxAccounts bounds the accounts of one file: each holds an HTTP client
// and a collector, and 10,000 (ten times the largest fleet of accounts
// seen) still loads in well under a second.
const MaxAccounts = 10_000

// keyLikeRE matches a file name that is more likely a pasted key than a
// path: long, without a dot or a directory.
var keyLikeRE = regexp.MustCompile(`^[A-Za-z0-9_+=-]{32,}$`)

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
		return nil, syntaxError(data, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, errors.New("the file is empty; it needs an accounts: mapping")
	}
	root := resolve(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		return nil, errAt(root, "the file must be a mapping with accounts:")
	}
	var accounts *yaml.Node
	err := eachField(root, "", func(k, v *yaml.Node) error {
		if k.Value != "accounts" {
			return errAt(k, "unknown field %q (the file has only accounts:)", cut(k.Value, 64))
		}
		accounts = v
		return nil
	})
	switch {
	case err != nil:
		return nil, err
	case accounts == nil || accounts.Kind == yaml.ScalarNode && accounts.Tag == "!!null":
		return nil, errors.New("no accounts: the file needs accounts: with at least one account")
	case accounts.Kind != yaml.MappingNode:
		return nil, errAt(accounts, "accounts: must be a mapping of account names to their settings")
	case len(accounts.Content) == 0:
		return nil, errAt(accounts, "accounts: is empty; name at least one account")
	case len(accounts.Content)/2 > MaxAccounts:
		return nil, errAt(accounts, "accounts: names %d accounts; at most %d are allowed", len(accounts.Content)/2, MaxAccounts)
	}
	seen := map[string]int{}
	var out []Settings
	for pair := range slices.Chunk(accounts.Content, 2) { // a mapping's key and value
		k, v := resolve(pair[0]), resolve(pair[1])
		name := k.Value
		if k.Kind != yaml.ScalarNode || !ValidName(name) {
			return nil, errAt(k, "account name %q is not valid: letters, digits, _ . - (not first), at most %d characters", cut(name, 64), maxNameLen)
		}
		if first, dup := seen[name]; dup {
			return nil, errAt(k, "account %q is defined twice (first at line %d)", name, first)
		}
		seen[name] = k.Line
		s, err := decodeAccount(name, k, v, dir, d)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// decodeAccount reads one account's mapping through the accountFields
// table, fills in the defaults and validates the result.
func decodeAccount(name string, key, v *yaml.Node, dir string, d Defaults) (Settings, error) {
	s := Settings{
		Name: name, PageSize: d.PageSize, Concurrency: d.Concurrency, CacheTTL: d.CacheTTL,
		Timeout: d.Timeout, TimeoutOffset: d.TimeoutOffset,
		Collector: d.Collector, // registration: and metrics: override it
		Origin:    Origin{Line: key.Line, Lines: map[string]int{}},
	}
	ctx := fmt.Sprintf("account %q: ", name)
	if v.Kind != yaml.MappingNode {
		return s, errAt(key, "%sits settings must be a mapping (platform: or url:, and api_key_file: or api_key_env:)", ctx)
	}
	err := eachField(v, ctx, func(k, n *yaml.Node) error {
		s.Origin.Lines[k.Value] = k.Line
		f := lookup(accountFields, k.Value)
		if f == nil {
			if slices.Contains(inlineKeyFields, k.Value) {
				return errAt(k, "%s%s: keys never go in this file (they would be in every copy of it); use api_key_file or api_key_env", ctx, k.Value)
			}
			return errAt(k, "%s%s: unknown field (known: %s)", ctx, cut(k.Value, 64), names(accountFields))
		}
		return f.decode(&decoding{s: &s, dir: dir, ctx: ctx, field: k.Value}, n)
	})
	if err != nil {
		return s, err
	}

	lines := s.Origin.Lines
	_, hasPlatform := lines["platform"]
	_, hasURL := lines["url"]
	_, hasKeyFile := lines["api_key_file"]
	_, hasKeyEnv := lines["api_key_env"]
	_, hasStates := lines["registration.states"]
	_, hasHealthy := lines["registration.healthy_states"]
	switch {
	case hasPlatform && hasURL:
		return s, &lineError{lines["url"], ctx + "platform and url are both set; give exactly one"}
	case !hasPlatform && !hasURL:
		return s, errAt(key, "%sno platform or url: set platform: us, platform: ru, or url:", ctx)
	case !hasKeyFile && !hasKeyEnv:
		return s, errAt(key, "%sno API key source: set api_key_file or api_key_env", ctx)
	}
	if hasStates && !hasHealthy {
		// Healthy states chosen for the flags' state list may not be in
		// this account's; keep the flags' ones that are.
		s.Collector.HealthyStates = slices.DeleteFunc(slices.Clone(s.Collector.HealthyStates), func(h string) bool {
			return !slices.Contains(s.Collector.States, h)
		})
	}
	if err := s.Validate(); err != nil {
		var fe *FieldError
		if !errors.As(err, &fe) {
			return s, &lineError{key.Line, ctx + err.Error()}
		}
		line := s.Origin.LineOf(fe.Field)
		if fe.Other != "" {
			line = max(line, s.Origin.LineOf(fe.Other))
		}
		return s, &lineError{line, ctx + fe.Error()}
	}
	return s, nil
}

// decoding is what a field's decoder needs: the settings it fills in, the
// file's directory (relative paths) and the prefix of its errors.
type decoding struct {
	s     *Settings
	dir   string
	ctx   string // `account "x": `
	field string // its name in the file: "registration.states"
}

// fail is an error at n in the field being decoded.
func (d *decoding) fail(n *yaml.Node, err error) error {
	return errAt(n, "%s%s: %v", d.ctx, d.field, err)
}

// field is one entry of a table of fields: its name in the file and how
// its value is decoded. Decoders only convert; Settings.Validate judges
// the values.
type field struct {
	name   string
	decode func(d *decoding, n *yaml.Node) error
}

// inlineKeyFields are names under which a key itself might be written.
var inlineKeyFields = []string{"api_key", "key", "token", "bearer_token"}

// accountFields are the fields of one account, in the README's order.
var accountFields = []field{
	{"platform", text(func(s *Settings) *string { return &s.Platform })},
	{"url", text(func(s *Settings) *string { return &s.URL })},
	{"api_key_file", func(d *decoding, n *yaml.Node) error {
		v, err := str(n)
		if err != nil {
			return d.fail(n, err)
		}
		if keyLikeRE.MatchString(v) {
			// Never repeat it: it may be the key itself.
			return d.fail(n, errors.New("the value does not look like a file path (is it the key itself? keys never go in this file); give the path of a file holding the key"))
		}
		d.s.KeyFile = join(d.dir, v)
		return nil
	}},
	{"api_key_env", text(func(s *Settings) *string { return &s.KeyEnv })},
	{"phone_number", text(func(s *Settings) *string { return &s.Filters.PhoneNumber })},
	{"provider_id", text(func(s *Settings) *string { return &s.Filters.ProviderID })},
	{"linked_agent_id", text(func(s *Settings) *string { return &s.Filters.LinkedAgentID })},
	{"unlinked_only", boolean(func(s *Settings) *bool { return &s.Filters.UnlinkedOnly })},
	{"page_size", integer(func(s *Settings) *int { return &s.PageSize })},
	{"concurrency", integer(func(s *Settings) *int { return &s.Concurrency })},
	{"cache_ttl", duration(func(s *Settings) *time.Duration { return &s.CacheTTL })},
	{"timeout", duration(func(s *Settings) *time.Duration { return &s.Timeout })},
	{"timeout_offset", duration(func(s *Settings) *time.Duration { return &s.TimeoutOffset })},
	{"registration", nested("states, healthy_states", registrationFields)},
	{"metrics", func(d *decoding, n *yaml.Node) error {
		// An account's selection replaces the flags' one whole: an
		// allowlist here must not meet the flags' denylist.
		d.s.Collector.MetricAllowlist, d.s.Collector.MetricDenylist = nil, nil
		return nested("allowlist, denylist", metricsFields)(d, n)
	}},
	{"tls_config", func(d *decoding, n *yaml.Node) error {
		if err := nested("ca_file, cert_file, key_file, server_name, insecure_skip_verify, min_version", tlsFields)(d, n); err != nil {
			return err
		}
		d.s.TLS.SetDirectory(d.dir)
		return nil
	}},
	{"proxy_url", text(func(s *Settings) *string { return &s.ProxyURL })},
}

// registrationFields are the fields under registration:.
var registrationFields = []field{
	{"states", stateList(func(s *Settings) *[]string { return &s.Collector.States })},
	{"healthy_states", stateList(func(s *Settings) *[]string { return &s.Collector.HealthyStates })},
}

// metricsFields are the fields under metrics:, the family selection.
var metricsFields = []field{
	{"allowlist", selectionList(func(s *Settings) *[]string { return &s.Collector.MetricAllowlist })},
	{"denylist", selectionList(func(s *Settings) *[]string { return &s.Collector.MetricDenylist })},
}

// tlsFields are the fields of prometheus/common's tls_config that make
// sense here: no inline certificates or keys, no secret references.
var tlsFields = []field{
	{"ca_file", text(func(s *Settings) *string { return &s.TLS.CAFile })},
	{"cert_file", text(func(s *Settings) *string { return &s.TLS.CertFile })},
	{"key_file", text(func(s *Settings) *string { return &s.TLS.KeyFile })},
	{"server_name", text(func(s *Settings) *string { return &s.TLS.ServerName })},
	{"insecure_skip_verify", boolean(func(s *Settings) *bool { return &s.TLS.InsecureSkipVerify })},
	{"min_version", func(d *decoding, n *yaml.Node) error {
		var v config.TLSVersion
		if n.Kind != yaml.ScalarNode || n.Decode(&v) != nil {
			return d.fail(n, errors.New("not a TLS version: TLS10, TLS11, TLS12 or TLS13"))
		}
		d.s.TLS.MinVersion = v
		return nil
	}},
}

func lookup(table []field, name string) *field {
	for i := range table {
		if table[i].name == name {
			return &table[i]
		}
	}
	return nil
}

func names(table []field) string {
	out := make([]string, len(table))
	for i, f := range table {
		out[i] = f.name
	}
	return strings.Join(out, ", ")
}

// nested decodes a mapping of sub-fields through table; their lines are
// recorded as "parent.child".
func nested(known string, table []field) func(d *decoding, n *yaml.Node) error {
	return func(d *decoding, n *yaml.Node) error {
		if n.Kind != yaml.MappingNode {
			return d.fail(n, fmt.Errorf("must be a mapping (%s)", known))
		}
		return eachField(n, d.ctx+d.field+".", func(k, v *yaml.Node) error {
			field := d.field + "." + k.Value
			d.s.Origin.Lines[field] = k.Line
			f := lookup(table, k.Value)
			if f == nil {
				return errAt(k, "%s%s.%s: unknown field (known: %s)", d.ctx, d.field, cut(k.Value, 64), known)
			}
			return f.decode(&decoding{s: d.s, dir: d.dir, ctx: d.ctx, field: field}, v)
		})
	}
}

// eachField calls f for every key and value of mapping m, in order, and
// refuses a key given twice (YAML says keys are unique; the library keeps
// the last one silently). ctx prefixes the error.
func eachField(m *yaml.Node, ctx string, f func(k, v *yaml.Node) error) error {
	seen := map[string]int{}
	for pair := range slices.Chunk(m.Content, 2) { // a mapping's key and value
		k, v := resolve(pair[0]), resolve(pair[1])
		if first, dup := seen[k.Value]; dup {
			return errAt(k, "%s%s: given twice (first at line %d)", ctx, cut(k.Value, 64), first)
		}
		seen[k.Value] = k.Line
		if err := f(k, v); err != nil {
			return err
		}
	}
	return nil
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func join(dir, path string) string {
	if path == "" || filepath.IsAbs(path) || dir == "" {
		return path
	}
	return filepath.Join(dir, path)
}

// text decodes a non-empty string into the field to returns. Its errors
// never depend on the value (a key may have been pasted in).
func text(to func(*Settings) *string) func(*decoding, *yaml.Node) error {
	return func(d *decoding, n *yaml.Node) error {
		v, err := str(n)
		if err != nil {
			return d.fail(n, err)
		}
		*to(d.s) = v
		return nil
	}
}

func integer(to func(*Settings) *int) func(*decoding, *yaml.Node) error {
	return func(d *decoding, n *yaml.Node) error {
		v, err := strconv.Atoi(n.Value)
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil {
			return d.fail(n, fmt.Errorf("%q is not a whole number", cut(n.Value, 64)))
		}
		*to(d.s) = v
		return nil
	}
}

func boolean(to func(*Settings) *bool) func(*decoding, *yaml.Node) error {
	return func(d *decoding, n *yaml.Node) error {
		var v bool
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&v) != nil {
			return d.fail(n, fmt.Errorf("%q is not true or false", cut(n.Value, 64)))
		}
		*to(d.s) = v
		return nil
	}
}

func duration(to func(*Settings) *time.Duration) func(*decoding, *yaml.Node) error {
	return func(d *decoding, n *yaml.Node) error {
		v, err := time.ParseDuration(n.Value)
		if n.Kind != yaml.ScalarNode || err != nil {
			return d.fail(n, fmt.Errorf("%q is not a duration such as 30s, 1m or 500ms", cut(n.Value, 64)))
		}
		*to(d.s) = v
		return nil
	}
}

// stateList decodes a list of states, refusing more than
// collector.MaxStates before looking at any.
func stateList(to func(*Settings) *[]string) func(*decoding, *yaml.Node) error {
	return list("must be a list, e.g. [Registered, Failed]", "states", collector.MaxStates, to)
}

// selectionList decodes a list of family names or regexps, refusing more
// than collector.MaxSelection before looking at any.
func selectionList(to func(*Settings) *[]string) func(*decoding, *yaml.Node) error {
	return list("must be a list of family names or regexps, e.g. [dasha_sip_registration_state]", "entries", collector.MaxSelection, to)
}

// list decodes a list of up to most strings; shape says what is expected
// when the value is not a list, items what the items are called.
func list(shape, items string, most int, to func(*Settings) *[]string) func(*decoding, *yaml.Node) error {
	return func(d *decoding, n *yaml.Node) error {
		switch {
		case n.Kind != yaml.SequenceNode:
			return d.fail(n, errors.New(shape))
		case len(n.Content) > most:
			return d.fail(n, fmt.Errorf("lists %d %s; at most %d are allowed", len(n.Content), items, most))
		}
		out := make([]string, 0, len(n.Content))
		for _, item := range n.Content {
			s, err := str(resolve(item))
			if err != nil {
				return d.fail(item, fmt.Errorf("an item %v", err))
			}
			out = append(out, s)
		}
		*to(d.s) = out
		return nil
	}
}

// str reads a scalar as written; YAML's typing of 0123 or +1555 as numbers
// does not matter for strings. Its errors never depend on the value.
func str(n *yaml.Node) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", errors.New("must be a single value")
	}
	if n.Tag == "!!null" || n.Value == "" {
		return "", errors.New("is empty")
	}
	return n.Value, nil
}
