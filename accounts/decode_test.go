package accounts

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dasha-exporter/dasha_exporter/client"
	"github.com/dasha-exporter/dasha_exporter/collector"
)

var testDefaults = Defaults{
	Timeout:       10 * time.Second,
	TimeoutOffset: 500 * time.Millisecond,
	PageSize:      1000,
	Concurrency:   4,
	Collector:     collector.Options{States: collector.DefaultStates, HealthyStates: collector.DefaultHealthyStates},
}

// pastedKey is what a user might paste where a name or path belongs.
const pastedKey = "dk_live_9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e"

func TestParseContractExample(t *testing.T) {
	in := `accounts:
  acme-us:                      # the name Prometheus asks for
    platform: us
    api_key_file: /etc/dasha_exporter/acme-us.key
  acme-ru:
    platform: ru
    api_key_env: ACME_RU_KEY
    provider_id: 0b6f3b5e-8f0c-4b8a-9a51-7d1f2c3e4aee
  lab:
    url: https://dasha-proxy.internal:8443/
    api_key_file: secrets/lab
    page_size: 500
    concurrency: 2
    cache_ttl: 30s
    timeout: 20s
    timeout_offset: 1s
    phone_number: +15550100004
    unlinked_only: true
    registration:
      states: [Registered, Failed]
    tls_config:
      ca_file: ca.pem
      server_name: dasha-proxy
    proxy_url: http://proxy.internal:3128
`
	got, err := Parse([]byte(in), "/etc/dasha", testDefaults)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("got %d accounts, want 3", len(got))
	}
	us, ru, lab := got[0], got[1], got[2]
	if us.Name != "acme-us" || us.URL != "https://blackbox.dasha.ai" || us.KeyFile != "/etc/dasha_exporter/acme-us.key" || us.PageSize != 1000 || us.Timeout != 10*time.Second {
		t.Errorf("acme-us = %+v", us)
	}
	if ru.URL != "https://blackbox.ru.dasha.ai" || ru.KeyEnv != "ACME_RU_KEY" || ru.Filters.ProviderID != "0b6f3b5e-8f0c-4b8a-9a51-7d1f2c3e4aee" {
		t.Errorf("acme-ru = %+v", ru)
	}
	want := Settings{
		Name: "lab", URL: "https://dasha-proxy.internal:8443", KeyFile: "/etc/dasha/secrets/lab",
		Filters:  client.Filters{PhoneNumber: "+15550100004", UnlinkedOnly: true},
		PageSize: 500, Concurrency: 2, CacheTTL: 30 * time.Second, Timeout: 20 * time.Second, TimeoutOffset: time.Second,
		Collector: collector.Options{States: []string{"Registered", "Failed"}, HealthyStates: []string{"Registered"}},
		ProxyURL:  "http://proxy.internal:3128",
	}
	want.TLS.CAFile, want.TLS.ServerName = "/etc/dasha/ca.pem", "dasha-proxy"
	if !lab.Equal(&want) {
		t.Errorf("lab =\n%+v\nwant\n%+v", lab, want)
	}
	// Parsing the same file twice gives equal settings: an unchanged
	// account keeps its objects on reload.
	again, _ := Parse([]byte(in), "/etc/dasha", testDefaults)
	for i := range got {
		if !got[i].Equal(&again[i]) {
			t.Errorf("account %s differs between two parses", got[i].Name)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty file", ``, "the file is empty"},
		{"no accounts", "accounts:\n", "no accounts"},
		{"empty accounts", "accounts: {}\n", "line 1: accounts: is empty"},
		{"not a mapping", "- a\n", "line 1: the file must be a mapping"},
		{"unknown top-level field", "accounts:\n  a: {platform: us, api_key_env: K}\nglobal: {}\n", `line 3: unknown field "global"`},
		{"syntax error", "accounts:\n  a: [\n", "line 2: did not find expected node content"},
		{"bad name", "accounts:\n  -bad: {platform: us, api_key_env: K}\n", `line 2: account name "-bad" is not valid`},
		{"name with slash", "accounts:\n  a/b: {platform: us, api_key_env: K}\n", `line 2: account name "a/b" is not valid`},
		{"duplicate name", "accounts:\n  a:\n    platform: us\n    api_key_env: K\n  a:\n    platform: ru\n    api_key_env: K\n", `line 5: account "a" is defined twice (first at line 2)`},
		{"duplicate field", "accounts:\n  a:\n    platform: us\n    platform: ru\n    api_key_env: K\n", `line 4: account "a": platform: given twice (first at line 3)`},
		{"unknown field", "accounts:\n  a:\n    platform: us\n    api_key_env: K\n    pagesize: 5\n", `line 5: account "a": pagesize: unknown field`},
		{"inline key", "accounts:\n  a:\n    platform: us\n    api_key: " + pastedKey + "\n", `line 4: account "a": api_key: keys never go in this file`},
		{"no platform or url", "accounts:\n  a:\n    api_key_env: K\n", `line 2: account "a": no platform or url`},
		{"both platform and url", "accounts:\n  a:\n    platform: us\n    url: https://x.example\n    api_key_env: K\n", `line 4: account "a": platform and url are both set`},
		{"bad platform", "accounts:\n  a:\n    platform: eu\n    api_key_env: K\n", `line 3: account "a": platform: is not a platform: us`},
		{"relative url", "accounts:\n  a:\n    url: dasha.example\n    api_key_env: K\n", `line 3: account "a": url: is not an absolute http:// or https:// URL`},
		{"url with credentials", "accounts:\n  a:\n    url: https://u:" + pastedKey + "@x.example\n    api_key_env: K\n", `line 3: account "a": url: must not carry credentials`},
		{"url with query", "accounts:\n  a:\n    url: https://x.example/?key=" + pastedKey + "\n    api_key_env: K\n", `line 3: account "a": url: must be a base URL without query`},
		{"no key source", "accounts:\n  a:\n    platform: us\n", `line 2: account "a": no API key source`},
		{"both key sources", "accounts:\n  a:\n    platform: us\n    api_key_file: /k\n    api_key_env: K\n", `line 5: account "a": api_key_file and api_key_env are both set`},
		{"key pasted into api_key_env", "accounts:\n  a:\n    platform: us\n    api_key_env: " + pastedKey[:8] + "-" + pastedKey[9:] + "\n", `line 4: account "a": api_key_env: the value is not the name of an environment variable`},
		{"key pasted into api_key_file", "accounts:\n  a:\n    platform: us\n    api_key_file: " + pastedKey + "\n", `line 4: account "a": api_key_file: the value does not look like a file path`},
		{"empty api_key_file", "accounts:\n  a:\n    platform: us\n    api_key_file:\n", `line 4: account "a": api_key_file: is empty`},
		{"page size 0", "accounts:\n  a:\n    platform: us\n    api_key_env: K\n    page_size: 0\n", `line 5: account "a": page_size: 0 is out of range 1..1000`},
		{"page size float", "accounts:\n  a:\n    platform: us\n    api_key_env: K\n    page_size: 1.9\n", `line 5: account "a": page_size: "1.9" is not a whole number`},
		{"concurrency too high", "accounts:\n  a:\n    platform: us\n    api_key_env: K\n    concurrency: 65\n", `line 5: account "a": concurrency: 65 is out of range 1..64`},
		{"bad duration", "accounts:\n  a:\n    platform: us\n    api_key_env: K\n    cache_ttl: 5\n", `line 5: account "a": cache_ttl: "5" is not a duration`},
		{"negative cache", "accounts:\n  a:\n    platform: us\n    api_key_env: K\n    cache_ttl: -1s\n", `line 5: account "a": cache_ttl: -1s must not be negative`},
		{"zero timeout", "accounts:\n  a:\n    platform: us\n    api_key_env: K\n    timeout: 0s\n", `line 5: account "a": timeout: 0s is out of range`},
		{"long timeout", "accounts:\n  a:\n    platform: us\n    api_key_env: K\n    timeout: 3m\n", `line 5: account "a": timeout: 3m0s is out of range: more than 0, at most 2m0s`},
		{"provider not uuid", "accounts:\n  a:\n    platform: us\n    api_key_env: K\n    provider_id: acme\n", `line 5: account "a": provider_id: "acme" is not a uuid`},
		{"unlinked and linked", "accounts:\n  a:\n    platform: us\n    api_key_env: K\n    linked_agent_id: x\n    unlinked_only: true\n", `line 6: account "a": unlinked_only and linked_agent_id contradict each other`},
		{"unlinked not bool", "accounts:\n  a:\n    platform: us\n    api_key_env: K\n    unlinked_only: yes please\n", `line 5: account "a": unlinked_only: "yes please" is not true or false`},
		{"healthy not a state", "accounts:\n  a:\n    platform: us\n    api_key_env: K\n    registration:\n      healthy_states: [registered]\n", `line 6: account "a": registration.healthy_states: "registered" is not one of the states`},
		{"registration unknown", "accounts:\n  a:\n    platform: us\n    api_key_env: K\n    registration:\n      healthy: [Registered]\n", `line 6: account "a": registration.healthy: unknown field`},
		{"states not a list", "accounts:\n  a:\n    platform: us\n    api_key_env: K\n    registration:\n      states: Registered\n", `line 6: account "a": registration.states: must be a list`},
		{"tls unknown field", "accounts:\n  a:\n    platform: us\n    api_key_env: K\n    tls_config:\n      ca: inline\n", `line 6: account "a": tls_config.ca: unknown field`},
		{"tls cert without key", "accounts:\n  a:\n    platform: us\n    api_key_env: K\n    tls_config:\n      cert_file: c.pem\n", `line 5: account "a": tls_config: exactly one of key or key_file`},
		{"tls field error line", "accounts:\n  a:\n    platform: us\n    api_key_env: K\n    tls_config:\n      server_name: x\n      insecure_skip_verify: maybe\n", `line 7: account "a": tls_config.insecure_skip_verify: "maybe" is not true or false`},
		{"proxy not a URL", "accounts:\n  a:\n    platform: us\n    api_key_env: K\n    proxy_url: proxy:3128\n", `line 5: account "a": proxy_url: is not an absolute http://`},
		{"settings not a mapping", "accounts:\n  a: us\n", `line 2: account "a": its settings must be a mapping`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in), "/etc/dasha", testDefaults)
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q\nwant it to contain %q", msg, tc.want)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			for _, secret := range []string{pastedKey, pastedKey[9:]} {
				if strings.Contains(msg, secret) {
					t.Errorf("error repeats a value that could be a key: %q", msg)
				}
			}
		})
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dasha.yml")
	if err := os.WriteFile(path, []byte("accounts:\n  a:\n    platform: us\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, testDefaults)
	if want := path + `: line 2: account "a": no API key source`; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Load: %v, want %q...", err, want)
	}
	if _, err := Load(path+".missing", testDefaults); err == nil || !strings.Contains(err.Error(), "dasha.yml.missing") {
		t.Errorf("Load of a missing file: %v", err)
	}
}

// TestSyntaxErrorsNameTheLineOfTheFault: the YAML library says "line 1:
// did not find expected key" for a mis-indented line 4 and "line 3" for a
// tab on line 4.
func TestSyntaxErrorsNameTheLineOfTheFault(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"mis-indented key", "accounts:\n  a:\n    platform: us\n   api_key_env: K\n", "line 4: this line is indented by 3 spaces, which matches no enclosing block (0, 2 or 4 spaces)"},
		{"tab in the indentation", "accounts:\n  a:\n    platform: us\n\tapi_key_env: K\n", "line 4: a tab in the indentation"},
		{"tab after spaces", "accounts:\n  a:\n    platform: us\n    \tapi_key_env: K\n", "line 4: a tab in the indentation"},
		{"key under a value", "accounts:\n  a:\n    platform: us\n      api_key_env: K\n", "line 4:"},
		{"mis-indented after a list", "accounts:\n  a:\n    platform: us\n    api_key_env: K\n    registration:\n      states:\n        - Registered\n        - Failed\n     healthy_states: [Failed]\n", "line 9: this line is indented by 5 spaces"},
		{"unclosed flow list", "accounts:\n  a: [\n", "line 2: did not find expected node content"},
		// Where the library is right, its line and words stay.
		{"unclosed quote", "accounts:\n  a:\n    platform: us\n    api_key_env: \"K\n    page_size: 5\n", "line 4: found unexpected end of stream"},
		{"after lists and a flow map over two lines", "accounts:\n  a:\n    registration:\n      states:\n      - A\n      - B\n    platform: us\n    api_key_env: K\n  b: {platform: us,\n      api_key_env: K}\n  c: [\n", "line 11: did not find expected node content"},
		{"after a continued plain scalar", "accounts:\n  a:\n    platform: us\n    api_key_env: K\n    phone_number: +1\n      555\n  b: x: y\n", "line 7: mapping values are not allowed in this context"},
		{"after a block scalar", "accounts:\n  a:\n    phone_number: |\n      +1555\n\n        text\n    platform: us\n   api_key_env: K\n", "line 8: this line is indented by 3 spaces"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in), "/etc/dasha", testDefaults)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("Parse = %v\nwant %q...", err, tc.want)
			}
		})
	}
}

// TestDuplicateKeysAtEveryDepth: YAML keys are unique; the library keeps
// the last of two silently, so insecure_skip_verify: false, then true,
// was true (issue: duplicate keys inside a nested map were accepted).
func TestDuplicateKeysAtEveryDepth(t *testing.T) {
	const head = "accounts:\n  a:\n    platform: us\n    api_key_env: K\n"
	for _, tc := range []struct{ name, in, want string }{
		{"tls_config", head + "    tls_config:\n      insecure_skip_verify: false\n      insecure_skip_verify: true\n", `line 7: account "a": tls_config.insecure_skip_verify: given twice (first at line 6)`},
		{"registration", head + "    registration:\n      states: [A]\n      states: [B]\n", `line 7: account "a": registration.states: given twice (first at line 6)`},
		{"account field", head + "    api_key_env: L\n", `line 5: account "a": api_key_env: given twice (first at line 4)`},
		{"top level", head + "accounts: {}\n", `line 5: accounts: given twice (first at line 1)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in), "/etc/dasha", testDefaults)
			if err == nil || err.Error() != tc.want {
				t.Errorf("Parse = %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestURLPortOutOfRange(t *testing.T) {
	for port, want := range map[string]string{
		"0":     "port 0 is out of range 1..65535",
		"65536": "port 65536 is out of range 1..65535",
		"http":  "has a port that is not a number 1..65535",
		"":      "has an empty port",
	} {
		in := "accounts:\n  a:\n    url: \"http://127.0.0.1:" + port + "\"\n    api_key_env: K\n"
		_, err := Parse([]byte(in), "/etc/dasha", testDefaults)
		if err == nil || err.Error() != `line 3: account "a": url: `+want {
			t.Errorf("port %q: %v", port, err)
		}
	}
}

// TestListBounds: 1,000,000 states were accepted; the lists are bounded.
func TestListBounds(t *testing.T) {
	const head = "accounts:\n  a:\n    platform: us\n    api_key_env: K\n    registration:\n"
	var m strings.Builder // distinct states: a repeated one is refused as given twice
	m.WriteString("[S")
	for i := range 999_999 {
		fmt.Fprintf(&m, ",S%d", i)
	}
	million := m.String() + "]"
	sixtyFive := "[" + strings.Repeat("S, ", 64) + "S]"
	for field, tc := range map[string]struct{ list, n string }{"states": {million, "1000000"}, "healthy_states": {sixtyFive, "65"}} {
		_, err := Parse([]byte(head+"      "+field+": "+tc.list+"\n"), "/etc/dasha", testDefaults)
		if want := `line 6: account "a": registration.` + field + `: lists ` + tc.n + ` states; at most 64 are allowed`; err == nil || err.Error() != want {
			t.Errorf("%s: %v", field, err)
		}
	}
	states := make([]string, 64)
	for i := range states {
		states[i] = fmt.Sprint("S", i)
	}
	if _, err := Parse([]byte(head+"      states: ["+strings.Join(states, ", ")+"]\n      healthy_states: [S0]\n"), "/etc/dasha", testDefaults); err != nil {
		t.Errorf("64 states: %v", err)
	}

	var b strings.Builder
	b.WriteString("accounts:\n")
	for i := range MaxAccounts + 1 {
		fmt.Fprintf(&b, "  a%d: {platform: us, api_key_env: K}\n", i)
	}
	if _, err := Parse([]byte(b.String()), "/etc/dasha", testDefaults); err == nil || err.Error() != "line 2: accounts: names 10001 accounts; at most 10000 are allowed" {
		t.Errorf("10,001 accounts: %v", err)
	}
	all := b.String()
	all = all[:strings.LastIndex(all[:len(all)-1], "\n")+1]
	got, err := Parse([]byte(all), "/etc/dasha", testDefaults)
	if err != nil || len(got) != MaxAccounts {
		t.Errorf("10,000 accounts: %d, %v", len(got), err)
	}
}

// TestParseNeverRepeatsAKeySource: a key pasted into api_key_file or
// api_key_env, whatever its shape, is never in an error of the file.
func TestParseNeverRepeatsAKeySource(t *testing.T) {
	for _, value := range []string{
		"Zm9vYmFy/YmF6cXV4+c2VjcmV0a2V5MTIzNDU2Nzg5MA==",
		"sk_live_5hT9xQ2mV8",
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
	} {
		for _, field := range []string{"api_key_file", "api_key_env"} {
			for _, rest := range []string{"", "    page_size: 0\n", "    api_key_file: /k\n", "    " + field + ": again\n"} {
				in := "accounts:\n  a:\n    platform: us\n    " + field + ": " + value + "\n" + rest
				_, err := Parse([]byte(in), "/etc/dasha", testDefaults)
				if err != nil && strings.Contains(err.Error(), value) {
					t.Errorf("%s: %s: the error repeats it: %v", field, value, err)
				}
			}
		}
	}
}
