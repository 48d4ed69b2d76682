package accounts

import (
	"strings"
	"testing"

	"github.com/dasha-exporter/dasha_exporter/client"
)

// FuzzParse feeds the configuration parser arbitrary files: it never
// panics, every error is one line, and every file it accepts gives settings
// a client can be built from.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"accounts:\n  a:\n    platform: us\n    api_key_env: K\n",
		"accounts:\n  a: &x\n    url: https://x.example/base/\n    api_key_file: k\n  b: *x\n",
		"accounts:\n  a:\n    platform: ru\n    api_key_file: /k\n    page_size: 7\n    registration:\n      states: [A, B]\n      healthy_states: [B]\n    tls_config:\n      ca_file: ca.pem\n    proxy_url: socks5://p:1080\n",
		"accounts:\n  a:\n    <<: {platform: us}\n",
		"accounts: [1, 2]\n",
		"{accounts: {a: {platform: us, api_key_env: K, cache_ttl: 1h, timeout_offset: 0s}}}\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		settings, err := Parse([]byte(in), "/etc/dasha", testDefaults)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		for _, s := range settings {
			if !ValidName(s.Name) || s.URL == "" || (s.KeyFile == "") == (s.KeyEnv == "") ||
				s.PageSize < 1 || s.PageSize > client.MaxPageSize || s.Concurrency < 1 || s.Concurrency > client.MaxConcurrency ||
				s.Timeout <= 0 || s.TimeoutOffset < 0 || s.CacheTTL < 0 || s.Collector.Validate() != nil {
				t.Fatalf("accepted settings that cannot serve: %+v", s)
			}
		}
	})
}
