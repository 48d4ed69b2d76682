package accounts

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

const metricsHead = "accounts:\n  a:\n    platform: us\n    api_key_env: K\n"

func TestMetricsSelectionFromTheFile(t *testing.T) {
	flags := testDefaults
	flags.Collector.MetricDenylist = []string{"dasha_sip_registration_state"}
	for _, tc := range []struct {
		name        string
		in          string
		allow, deny []string
	}{
		{"the flags' selection by default", metricsHead, nil, []string{"dasha_sip_registration_state"}},
		{"a denylist replaces the flags'", metricsHead + "    metrics:\n      denylist: [dasha_sip_registration_error_info, '.*_timestamp_seconds']\n",
			nil, []string{"dasha_sip_registration_error_info", ".*_timestamp_seconds"}},
		{"an allowlist replaces the flags' denylist", metricsHead + "    metrics:\n      allowlist: [dasha_sip_registration_healthy]\n",
			[]string{"dasha_sip_registration_healthy"}, nil},
		{"an empty mapping keeps every family", metricsHead + "    metrics: {}\n", nil, nil},
		{"an empty list keeps every family", metricsHead + "    metrics:\n      denylist: []\n", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse([]byte(tc.in), "/etc/dasha", flags)
			if err != nil {
				t.Fatal(err)
			}
			c := got[0].Collector
			if !slices.Equal(c.MetricAllowlist, tc.allow) || !slices.Equal(c.MetricDenylist, tc.deny) {
				t.Errorf("allowlist %q, denylist %q; want %q, %q", c.MetricAllowlist, c.MetricDenylist, tc.allow, tc.deny)
			}
			again, _ := Parse([]byte(tc.in), "/etc/dasha", flags)
			if !got[0].Equal(&again[0]) {
				t.Error("two parses differ: a reload would rebuild the account")
			}
		})
	}
}

func TestMetricsSelectionChangesTheAccount(t *testing.T) {
	a, b := validSettings(), validSettings()
	b.Collector.MetricDenylist = []string{"dasha_sip_registration_state"}
	if a.Equal(&b) {
		t.Error("a denylist does not change the account: a reload would keep the old selection")
	}
	c := validSettings()
	c.Collector.MetricDenylist = []string{}
	if err := c.Validate(); err != nil || !a.Equal(&c) {
		t.Errorf("an empty denylist (%v) differs from none", err)
	}
}

func TestMetricsSelectionErrors(t *testing.T) {
	sixtyFive := "[" + strings.Repeat("dasha_sip_registration_state, ", 64) + "dasha_sip_registration_state]"
	for _, tc := range []struct{ name, in, want string }{
		{"typo", metricsHead + "    metrics:\n      denylist:\n        - dasha_sip_registration_state\n        - dasha_sip_registration_stat\n",
			`line 6: account "a": metrics.denylist: "dasha_sip_registration_stat" matches no per-number family`},
		{"never dropped", metricsHead + "    metrics:\n      allowlist: [dasha_up]\n",
			`line 6: account "a": metrics.allowlist: "dasha_up" matches no per-number family`},
		{"both", metricsHead + "    metrics:\n      allowlist: [dasha_sip_registration_state]\n      denylist: [dasha_sip_registration_error]\n",
			`line 7: account "a": metrics.allowlist and metrics.denylist are both set; they exclude each other`},
		{"bad regexp", metricsHead + "    metrics:\n      denylist: ['dasha_(']\n",
			`line 6: account "a": metrics.denylist: "dasha_(" is not a family name or a regular expression`},
		{"not a list", metricsHead + "    metrics:\n      denylist: dasha_sip_registration_state\n",
			`line 6: account "a": metrics.denylist: must be a list of family names or regexps`},
		{"too many", metricsHead + "    metrics:\n      denylist: " + sixtyFive + "\n",
			`line 6: account "a": metrics.denylist: lists 65 entries; at most 64 are allowed`},
		{"unknown", metricsHead + "    metrics:\n      drop: [dasha_sip_registration_state]\n",
			`line 6: account "a": metrics.drop: unknown field (known: allowlist, denylist)`},
		{"not a mapping", metricsHead + "    metrics: [dasha_sip_registration_state]\n",
			`line 5: account "a": metrics: must be a mapping (allowlist, denylist)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in), "/etc/dasha", testDefaults)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("Parse = %v\nwant %s...", err, tc.want)
			}
		})
	}
}

func TestValidateNamesTheSelectionField(t *testing.T) {
	s := validSettings()
	s.Collector.MetricAllowlist = []string{"nope"}
	var fe *FieldError
	if err := s.Validate(); !errors.As(err, &fe) || fe.Field != "metrics.allowlist" || fe.Other != "" {
		t.Errorf("Validate = %v", err)
	}
	s.Collector.MetricDenylist = []string{"dasha_sip_registration_state"}
	if err := s.Validate(); !errors.As(err, &fe) || fe.Field != "metrics.allowlist" || fe.Other != "metrics.denylist" {
		t.Errorf("Validate = %v", err)
	}
	s.Collector.MetricAllowlist = nil
	if err := s.Validate(); err != nil {
		t.Errorf("a denylist: %v", err)
	}
	if got := s.Collector.Dropped(); !slices.Equal(got, []string{"dasha_sip_registration_state"}) {
		t.Errorf("Dropped = %v", got)
	}
}
