package accounts

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// FuzzParse feeds the configuration decoder arbitrary files: it never
// panics, every error is one line and never repeats an api_key_file value
// or an api_key_env value that fails the naming rule, and every file it
// accepts gives settings that pass Validate again unchanged.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"accounts:\n  a:\n    platform: us\n    api_key_env: K\n",
		"accounts:\n  a: &x\n    url: https://x.example/base/\n    api_key_file: k\n  b: *x\n",
		"accounts:\n  a:\n    platform: ru\n    api_key_file: /k\n    page_size: 7\n    registration:\n      states: [A, B]\n      healthy_states: [B]\n    tls_config:\n      ca_file: ca.pem\n    proxy_url: socks5://p:1080\n",
		"accounts:\n  a:\n    <<: {platform: us}\n",
		"accounts: [1, 2]\n",
		"{accounts: {a: {platform: us, api_key_env: K, cache_ttl: 1h, timeout_offset: 0s}}}\n",
		"accounts:\n  a:\n    platform: us\n    api_key_file: Zm9vYmFy/YmF6cXV4+c2VjcmV0a2V5MTIzNDU2Nzg5MA==\n    page_size: 0\n",
		"accounts:\n  a:\n    platform: us\n    api_key_env: sk_live_5hT9xQ2mV8\n    api_key_env: again\n",
		"accounts:\n  a:\n    url: http://127.0.0.1:65536\n    api_key_env: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl\n",
		"accounts:\n  a:\n    platform: us\n   api_key_env: K\n",
		"accounts:\n  a:\n    platform: us\n\tapi_key_env: K\n",
		"accounts:\n  a:\n    platform: us\n    api_key_env: K\n    tls_config:\n      insecure_skip_verify: false\n      insecure_skip_verify: true\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		settings, err := Parse([]byte(in), "/etc/dasha", testDefaults)
		if err != nil {
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Fatalf("error is not one line: %q", msg)
			}
			for _, v := range hiddenValues(in) {
				if strings.Contains(msg, v) {
					t.Fatalf("error repeats a key source that may not be shown, %q: %q", v, msg)
				}
			}
			return
		}
		for _, s := range settings {
			again := s
			if err := again.Validate(); err != nil || !again.Equal(&s) {
				t.Fatalf("accepted settings that do not validate again unchanged: %+v: %v", s, err)
			}
			if (s.KeyFile == "") == (s.KeyEnv == "") || s.URL == "" {
				t.Fatalf("accepted an account without exactly one key source or without a URL: %+v", s)
			}
		}
	})
}

// hiddenValues returns the api_key_file values, and the api_key_env
// values that fail the naming rule, of a document: long enough (6 bytes)
// to be told apart from the rest of a message, and not also written
// elsewhere as a key (an account's name may be shown).
func hiddenValues(in string) []string {
	var doc yaml.Node
	if yaml.Unmarshal([]byte(in), &doc) != nil {
		return nil
	}
	keys := map[string]bool{}
	var values []string
	var walk func(n *yaml.Node, depth int)
	walk = func(n *yaml.Node, depth int) {
		if n == nil || depth > 50 {
			return
		}
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				keys[k.Value] = true
				if v.Kind == yaml.ScalarNode && len(v.Value) >= 6 &&
					(k.Value == "api_key_file" || k.Value == "api_key_env" && !ShowableEnvName(v.Value)) {
					values = append(values, v.Value)
				}
			}
		}
		for _, c := range n.Content {
			walk(c, depth+1)
		}
	}
	walk(&doc, 0)
	out := values[:0]
	for _, v := range values {
		if !keys[v] {
			out = append(out, v)
		}
	}
	return out
}
