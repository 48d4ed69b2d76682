package accounts

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/config"
	"go.yaml.in/yaml/v3"

	"github.com/dasha-exporter/dasha_exporter/client"
	"github.com/dasha-exporter/dasha_exporter/collector"
)

func effective(t *testing.T, settings []Settings, src Provenance) string {
	t.Helper()
	out, err := EffectiveYAML(settings, src)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestEffectiveYAMLRoundTrip: a file whose key sources may be shown
// parses, renders and parses back to the same accounts, in the same order,
// every field the decoder knows set somewhere; parsed from elsewhere, as
// the paths are absolute.
func TestEffectiveYAMLRoundTrip(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "us.key"), "k\n")
	writeFile(t, filepath.Join(dir, "lab.key"), "k\n")
	file := `accounts:
  acme-us:
    platform: us
    api_key_file: us.key
  acme-ru:
    platform: ru
    api_key_env: ACME_RU_KEY
    provider_id: 0b6f3b5e-8f0c-4b8a-9a51-7d1f2c3e4aee
    phone_number: "+14155550100"
    linked_agent_id: agent-7
  "true":
    url: http://127.0.0.1:8080/api/
    api_key_env: K
    unlinked_only: true
    metrics:
      allowlist: [dasha_sip_registration_healthy, 'dasha_sip_registration_(state|error)']
  lab:
    url: https://dasha-proxy.internal:8443
    api_key_file: lab.key
    page_size: 500
    concurrency: 2
    cache_ttl: 24h
    timeout: 1m30s
    timeout_offset: 0s
    registration:
      states: [Registered, "yes", Failed]
      healthy_states: ["yes"]
    tls_config:
      ca_file: ca.pem
      cert_file: /etc/ssl/c.pem
      key_file: c.key
      server_name: api.internal
      insecure_skip_verify: true
      min_version: TLS12
    proxy_url: socks5://proxy.internal:1080
    metrics:
      denylist: ['dasha_sip_registration_.*_info', dasha_sip_phone_number_info]
`
	first, err := Parse([]byte(file), dir, testDefaults)
	if err != nil {
		t.Fatal(err)
	}
	out := effective(t, first, Provenance{File: filepath.Join(dir, "dasha.yml"), Loaded: time.Now()})
	again, err := Parse([]byte(out), t.TempDir(), testDefaults)
	if err != nil {
		t.Fatalf("the effective configuration does not parse: %v\n%s", err, out)
	}
	if len(again) != len(first) {
		t.Fatalf("%d accounts back, want %d:\n%s", len(again), len(first), out)
	}
	for i := range first {
		if !first[i].Equal(&again[i]) {
			t.Errorf("account %d:\n got %+v\nwant %+v\n%s", i, again[i], first[i], out)
		}
	}
	for _, want := range []string{
		"platform: us # https://blackbox.dasha.ai\n",
		"api_key_file: " + filepath.Join(dir, "us.key") + "\n",
		"api_key_env: ACME_RU_KEY\n",
		"cache_ttl: 0s\n", // a default, filled in
		"states: [Registered, Registering, Failed, Disabled]\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
}

// TestEffectiveYAMLNamingRule: under the contract's rule a key source is
// shown only when it cannot be a pasted key, and proxy_url and url never
// with their userinfo. The value that may be a key appears nowhere in the
// text, not even in a comment.
func TestEffectiveYAMLNamingRule(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name   string
		set    func(*Settings)
		want   string   // in the account's text
		secret []string // nowhere in the text
	}{
		{"key pasted into api_key_file", func(s *Settings) { s.KeyFile = pastedKey },
			`api_key_file: "<hidden: no such file>" # see line 4 of the file`, []string{pastedKey}},
		{"key pasted into api_key_file as a path", func(s *Settings) { s.KeyFile = filepath.Join(dir, pastedKey) },
			`api_key_file: "<hidden: no such file>"`, []string{pastedKey}},
		{"api_key_file is a directory", func(s *Settings) { s.KeyFile = dir },
			`api_key_file: "<hidden: not a regular file>"`, []string{dir}},
		{"key pasted into api_key_env", func(s *Settings) { s.KeyEnv = pastedKey },
			`api_key_env: "<hidden: not a short variable name>" # see line 4 of the file`, []string{pastedKey}},
		{"key with dashes in api_key_env", func(s *Settings) { s.KeyEnv = "ab-cd-ef" },
			`api_key_env: "<hidden: not a short variable name>"`, []string{"ab-cd-ef"}},
		{"api_key_env of 32 characters", func(s *Settings) { s.KeyEnv = strings.Repeat("A", 32) },
			`api_key_env: "<hidden: not a short variable name>"`, []string{strings.Repeat("A", 32)}},
		{"api_key_env of 31 characters", func(s *Settings) { s.KeyEnv = strings.Repeat("A", 31) },
			"api_key_env: " + strings.Repeat("A", 31) + "\n", nil},
		{"proxy_url with user and password", func(s *Settings) { s.ProxyURL = "http://bob:hunter2@proxy.internal:3128/" },
			"proxy_url: http://proxy.internal:3128/\n", []string{"bob", "hunter2"}},
		{"proxy_url with a token as user", func(s *Settings) { s.ProxyURL = "https://" + pastedKey + "@proxy.internal" },
			"proxy_url: https://proxy.internal\n", []string{pastedKey}},
		{"url with userinfo (Validate refuses it)", func(s *Settings) { s.URL = "https://bob:hunter2@api.internal" },
			"url: https://api.internal\n", []string{"bob", "hunter2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := validSettings() // api_key_env K
			s.Origin = Origin{Line: 2, Lines: map[string]int{"api_key_file": 4, "api_key_env": 4}}
			if c.set(&s); s.KeyFile != "" {
				s.KeyEnv = ""
			}
			out := effective(t, []Settings{s}, Provenance{File: "/etc/dasha.yml"})
			if !strings.Contains(out, c.want) {
				t.Errorf("no %q in\n%s", c.want, out)
			}
			for _, secret := range c.secret {
				if strings.Contains(out, secret) {
					t.Errorf("%q shown:\n%s", secret, out)
				}
			}
			// The text stays a configuration file; a hidden variable
			// name is refused by the decoder rather than taken for one.
			_, err := Parse([]byte(out), "", testDefaults)
			switch hiddenEnv := strings.Contains(out, "api_key_env: \"<hidden"); {
			case hiddenEnv && err == nil:
				t.Errorf("a hidden api_key_env parses:\n%s", out)
			case !hiddenEnv && err != nil && !strings.Contains(c.name, "Validate refuses"):
				t.Errorf("does not parse: %v\n%s", err, out)
			}
		})
	}
}

// TestEffectiveYAMLFlags: the flags' account reads as a file's account
// named default, its key source under the same rule; --demo says so.
func TestEffectiveYAMLFlags(t *testing.T) {
	flags := Settings{Name: "default", URL: "https://blackbox.dasha.ai", KeyEnv: "DASHA_API_KEY", PageSize: 1000,
		Concurrency: 4, Timeout: 10 * time.Second, TimeoutOffset: 500 * time.Millisecond,
		Collector: collector.Options{States: collector.DefaultStates, HealthyStates: collector.DefaultHealthyStates}}
	out := effective(t, []Settings{flags}, Provenance{})
	for _, want := range []string{"Source: the command-line flags", "accounts:\n  default:\n", "url: https://blackbox.dasha.ai\n", "api_key_env: DASHA_API_KEY\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, "--demo") {
		t.Errorf("--demo without it:\n%s", out)
	}
	parsed, err := Parse([]byte(out), "", testDefaults)
	if err != nil || !parsed[0].Equal(&flags) {
		t.Errorf("does not parse back to the flags' account (%v):\n%s", err, out)
	}

	keyFile := writeFile(t, filepath.Join(t.TempDir(), "key"), "k")
	flags.KeyEnv, flags.KeyFile = "", keyFile
	if out := effective(t, []Settings{flags}, Provenance{}); !strings.Contains(out, "api_key_file: "+keyFile+"\n") {
		t.Errorf("no api_key_file %s in\n%s", keyFile, out)
	}
	flags.KeyFile = "missing.key"
	if out := effective(t, []Settings{flags}, Provenance{}); !strings.Contains(out, `api_key_file: "<hidden: no such file>" # not shown: it may be a key`+"\n") {
		t.Errorf("a missing flags' key file is not hidden:\n%s", out)
	}

	// --demo: main's getenv gives DASHA_API_KEY the fake API's key.
	demo := flags
	demo.KeyFile, demo.KeyEnv, demo.URL = "", "DASHA_API_KEY", "http://127.0.0.1:41234"
	out = effective(t, []Settings{demo}, Provenance{Demo: true})
	for _, want := range []string{"Source: the command-line flags with --demo", "url: http://127.0.0.1:41234 # --demo: the simulated fleet\n",
		"api_key_env: DASHA_API_KEY # --demo sets it to the simulated API's key\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
}

// TestEffectiveYAMLHeaderQuotesThePath: a newline in the file's path
// cannot end the header's comment and inject YAML.
func TestEffectiveYAMLHeaderQuotesThePath(t *testing.T) {
	s := validSettings()
	out := effective(t, []Settings{s}, Provenance{File: "/tmp/x\naccounts: {}\n#", Loaded: time.Unix(0, 0)})
	if !strings.Contains(out, `"/tmp/x\naccounts: {}\n#", loaded 1970-01-01T00:00:00Z.`) {
		t.Errorf("the path is not quoted:\n%s", out)
	}
	if got, err := Parse([]byte(out), "", testDefaults); err != nil || len(got) != 1 {
		t.Errorf("Parse = %v, %v:\n%s", got, err, out)
	}
}

// showAll is an account with every field set to a value that is shown.
func showAll(t *testing.T) Settings {
	keyFile := writeFile(t, filepath.Join(t.TempDir(), "key"), "k")
	return Settings{
		Name: "a", Platform: "us", URL: "https://blackbox.dasha.ai", KeyFile: keyFile,
		Filters:  client.Filters{PhoneNumber: "+1", ProviderID: "p", LinkedAgentID: "l"},
		PageSize: 1, Concurrency: 1, CacheTTL: time.Second, Timeout: time.Second, TimeoutOffset: time.Second,
		Collector: collector.Options{States: []string{"Registered"}, HealthyStates: []string{"Registered"}},
		TLS: config.TLSConfig{
			CA: "SECRET-CA", Cert: "SECRET-CERT", Key: "SECRET-KEY", CARef: "SECRET-CAREF", CertRef: "SECRET-CERTREF", KeyRef: "SECRET-KEYREF",
			CAFile: "/ca", CertFile: "/cert", KeyFile: "/key", ServerName: "s",
			MinVersion: config.TLSVersions["TLS12"], MaxVersion: config.TLSVersions["TLS12"], // change() makes them TLS13
		},
		ProxyURL: "http://proxy.internal",
	}
}

// TestEffectiveYAMLShowsEveryField changes each field of Settings in
// turn, down to the fields of nested structs (prometheus/common's
// tls_config included), and expects the text to change: a field added to
// Settings, or to tls_config by an upgrade, is never silently left out.
// Only Origin (where the account was written) is not shown as such.
// Inline TLS values are shown only as "<hidden: inline value>".
func TestEffectiveYAMLShowsEveryField(t *testing.T) {
	base := showAll(t)
	before := effective(t, []Settings{base}, Provenance{})
	if strings.Contains(before, "SECRET") {
		t.Fatalf("an inline TLS value is shown:\n%s", before)
	}
	n := 0
	leaves(reflect.ValueOf(&base).Elem(), "Settings", func(_ reflect.Value, path string) {
		if strings.HasPrefix(path, "Settings.Origin") || path == "Settings.Collector.Renders" {
			return // where it was written; a counter the exporter shares
		}
		n++
		s := showAll(t)
		s.KeyFile = base.KeyFile
		var field reflect.Value
		leaves(reflect.ValueOf(&s).Elem(), "Settings", func(v reflect.Value, p string) {
			if p == path {
				field = v
			}
		})
		if path == "Settings.TLS.CA" || strings.HasSuffix(path, "Ref") || path == "Settings.TLS.Cert" || path == "Settings.TLS.Key" {
			field.SetString("") // from hidden to absent: the text must still change
		} else {
			change(t, field, path)
		}
		after, err := EffectiveYAML([]Settings{s}, Provenance{})
		if err != nil {
			t.Errorf("%s: %v", path, err)
			return
		}
		if string(after) == before {
			t.Errorf("%s changed but the effective configuration did not: add it to accountView", path)
		}
		if strings.Contains(string(after), "SECRET") {
			t.Errorf("%s: an inline TLS value is shown:\n%s", path, after)
		}
	})
	if n < 20 {
		t.Fatalf("only %d fields walked", n)
	}
}

// yamlNames lists the names of a view's fields as the YAML writes them.
func yamlNames(v any) []string {
	var out []string
	rt := reflect.TypeOf(v)
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("yaml"), ",")
		out = append(out, name)
	}
	return out
}

// TestViewsMirrorTheDecoder: the views write exactly the names the
// decoder reads, in its order; tls_config may show more (what the decoder
// never sets, hidden or as is).
func TestViewsMirrorTheDecoder(t *testing.T) {
	names := func(table []field) []string {
		var out []string
		for _, f := range table {
			out = append(out, f.name)
		}
		return out
	}
	if got, want := fmt.Sprint(yamlNames(accountView{})), fmt.Sprint(names(accountFields)); got != want {
		t.Errorf("accountView writes %s, the decoder reads %s", got, want)
	}
	if got, want := fmt.Sprint(yamlNames(registrationView{})), fmt.Sprint(names(registrationFields)); got != want {
		t.Errorf("registrationView writes %s, the decoder reads %s", got, want)
	}
	if got, want := fmt.Sprint(yamlNames(metricsView{})), fmt.Sprint(names(metricsFields)); got != want {
		t.Errorf("metricsView writes %s, the decoder reads %s", got, want)
	}
	tls := yamlNames(tlsView{})
	for _, name := range names(tlsFields) {
		if !slices.Contains(tls, name) {
			t.Errorf("tlsView does not write %s, which the decoder reads", name)
		}
	}
}

// TestEffectiveYAMLIsYAML: whatever the names and values, the text is
// one YAML document whose accounts are the settings' names, in order.
func TestEffectiveYAMLIsYAML(t *testing.T) {
	var settings []Settings
	for _, name := range []string{"true", "null", "1e3", "0x1F", "a.b-c_d", "~", "no"} {
		if !ValidName(name) {
			continue
		}
		s := validSettings()
		s.Name = name
		s.Collector.States = []string{"yes", "Registered: 1", "- x", "#"}
		settings = append(settings, s)
	}
	out := effective(t, settings, Provenance{})
	var doc struct {
		Accounts yaml.Node `yaml:"accounts"`
	}
	if err := yaml.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	for i, s := range settings {
		if k := doc.Accounts.Content[2*i]; k.Value != s.Name {
			t.Errorf("account %d is %q, want %q", i, k.Value, s.Name)
		}
	}
}

// BenchmarkEffectiveYAML renders the largest file there may be: 10,000
// accounts, half with key files (each one stat), half with variables.
func BenchmarkEffectiveYAML(b *testing.B) {
	keyFile := filepath.Join(b.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte("k"), 0o600); err != nil {
		b.Fatal(err)
	}
	settings := make([]Settings, MaxAccounts)
	for i := range settings {
		s := validSettings()
		s.Name = fmt.Sprintf("account-%05d", i)
		if i%2 == 0 {
			s.KeyEnv, s.KeyFile = "", keyFile
		}
		settings[i] = s
	}
	b.ReportAllocs()
	for b.Loop() {
		out, err := EffectiveYAML(settings, Provenance{File: "/etc/dasha.yml"})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(out)), "bytes")
	}
}
