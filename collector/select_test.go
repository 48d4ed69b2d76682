package collector

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestSelectionResolves(t *testing.T) {
	all := FamilyNames()
	for _, tc := range []struct {
		name        string
		allow, deny []string
		want        []string // dropped
	}{
		{"nothing", nil, nil, nil},
		{"a name", nil, []string{"dasha_sip_registration_state"}, []string{"dasha_sip_registration_state"}},
		{"a name is anchored", nil, []string{"dasha_sip_registration_error"}, []string{"dasha_sip_registration_error"}},
		{"a regexp", nil, []string{".*_timestamp_seconds"}, []string{
			"dasha_sip_registration_expires_timestamp_seconds",
			"dasha_sip_registration_last_updated_timestamp_seconds",
			"dasha_sip_phone_number_created_timestamp_seconds",
		}},
		{"an alternation is anchored as a whole", nil, []string{"dasha_sip_registration_error|dasha_sip_registration_state"}, []string{
			"dasha_sip_registration_state", "dasha_sip_registration_error",
		}},
		{"allowlist", []string{"dasha_sip_registration_healthy", "dasha_sip_phone_number_info"}, nil,
			slices.DeleteFunc(slices.Clone(all), func(n string) bool {
				return n == "dasha_sip_registration_healthy" || n == "dasha_sip_phone_number_info"
			})},
		{"allowlist of everything", []string{"dasha_sip_.*"}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{States: DefaultStates, HealthyStates: DefaultHealthyStates, MetricAllowlist: tc.allow, MetricDenylist: tc.deny}
			if err := o.Validate(); err != nil {
				t.Fatal(err)
			}
			if got := o.Dropped(); !slices.Equal(got, tc.want) {
				t.Errorf("Dropped = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSelectionErrorsNameTheOptionAndEntry(t *testing.T) {
	many := make([]string, MaxSelection+1)
	for i := range many {
		many[i] = "dasha_sip_registration_state"
	}
	for _, tc := range []struct {
		name          string
		allow, deny   []string
		option, other string
		substr        string
	}{
		{"typo", nil, []string{"dasha_sip_registration_stat"}, "metric_denylist", "", `"dasha_sip_registration_stat" matches no per-number family`},
		{"never dropped", nil, []string{"dasha_up"}, "metric_denylist", "", `"dasha_up" matches no per-number family`},
		{"own metrics", []string{"dasha_api_.*"}, nil, "metric_allowlist", "", "matches no per-number family"},
		{"bad regexp", nil, []string{"dasha_(sip"}, "metric_denylist", "", `"dasha_(sip" is not a family name or a regular expression`},
		{"empty", []string{""}, nil, "metric_allowlist", "", "an entry is empty"},
		{"long", nil, []string{strings.Repeat("a", 257)}, "metric_denylist", "", "at most 256"},
		{"too many", nil, many, "metric_denylist", "", "lists 65 entries; at most 64"},
		{"both", []string{"dasha_sip_registration_state"}, []string{"dasha_sip_registration_error"}, "metric_allowlist", "metric_denylist", "exclude each other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{States: DefaultStates, HealthyStates: DefaultHealthyStates, MetricAllowlist: tc.allow, MetricDenylist: tc.deny}
			err := o.Validate()
			var oe *OptionError
			if !errors.As(err, &oe) || oe.Option != tc.option || oe.Other != tc.other || !strings.Contains(oe.Msg, tc.substr) {
				t.Fatalf("Validate = %v (%#v), want %s/%s: ...%s...", err, oe, tc.option, tc.other, tc.substr)
			}
			if _, err := New(&stubLister{}, o, nil); err == nil {
				t.Error("New accepted the options")
			}
		})
	}
	if err := (Options{States: DefaultStates, HealthyStates: DefaultHealthyStates, MetricDenylist: many[:MaxSelection]}).Validate(); err != nil {
		t.Errorf("%d entries: %v", MaxSelection, err)
	}
}

// withoutFamily removes the HELP, TYPE and sample lines of one family.
func withoutFamily(text []byte, name string) []byte {
	var out bytes.Buffer
	for _, line := range strings.SplitAfter(string(text), "\n") {
		rest := strings.TrimPrefix(strings.TrimPrefix(line, "# HELP "), "# TYPE ")
		if strings.HasPrefix(rest, name+" ") || strings.HasPrefix(rest, name+"{") {
			continue
		}
		out.WriteString(line)
	}
	return out.Bytes()
}

// TestDroppedFamilyIsAbsentAndTheRestUnchanged checks both ways of
// exposing a listing: the dropped family is gone and every other byte is
// what an exporter without a selection writes.
func TestDroppedFamilyIsAbsentAndTheRestUnchanged(t *testing.T) {
	listing := fixtureListing(t)
	base := Options{States: DefaultStates, HealthyStates: DefaultHealthyStates}
	full := newTestExporter(t, &stubLister{results: []stubResult{{listing: listing}}}, base).Scrape(context.Background())
	var fullText bytes.Buffer
	if err := full.WriteText(&fullText); err != nil {
		t.Fatal(err)
	}
	fullConst := exposition(t, full)
	answer := func(opts Options) []byte {
		e := newTestExporter(t, &stubLister{results: []stubResult{{listing: listing}}}, opts)
		h := NewHandler(HandlerOpts{Exporter: e, Gatherer: prometheus.Gatherers{}, Timeout: time.Second})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		return rec.Body.Bytes()
	}
	fullAnswer := answer(base)

	for _, name := range FamilyNames() {
		t.Run(name, func(t *testing.T) {
			opts := base
			opts.MetricDenylist = []string{name}
			s := newTestExporter(t, &stubLister{results: []stubResult{{listing: listing}}}, opts).Scrape(context.Background())
			var text bytes.Buffer
			if err := s.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(text.String(), name+"{") {
				t.Errorf("WriteText still writes %s", name)
			}
			if want := withoutFamily(fullText.Bytes(), name); !bytes.Equal(text.Bytes(), want) {
				t.Errorf("WriteText changed more than %s:\n%s", name, text.Bytes())
			}
			if len(withoutFamily(fullText.Bytes(), name)) == fullText.Len() {
				t.Fatalf("the fixture has no %s to drop", name)
			}
			if !bytes.Contains(fullAnswer, []byte("\n"+name+"{")) {
				t.Fatalf("the handler's answer has no %s to drop", name)
			}
			if got, want := answer(opts), withoutFamily(fullAnswer, name); !bytes.Equal(got, want) {
				t.Errorf("the handler's answer changed more than %s:\n%s", name, got)
			}
			got := exposition(t, s)
			if strings.Contains(string(got), name+"{") {
				t.Errorf("Collect still yields %s", name)
			}
			if want := withoutFamily(fullConst, name); !bytes.Equal(got, want) {
				t.Errorf("Collect changed more than %s:\n%s", name, got)
			}
		})
	}
}

func TestWarningNamesTheDroppedFamilyAndItsReaders(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil)).With("account", "acme")
	opts := Options{States: DefaultStates, HealthyStates: DefaultHealthyStates,
		MetricDenylist: []string{"dasha_sip_registration_expiry_seconds", "dasha_sip_registration_sip_response_code"}}
	if _, err := New(&stubLister{}, opts, log); err != nil {
		t.Fatal(err)
	}
	want := `level=WARN msg="a dropped per-number family is read by the shipped alerts or dashboard: they may stay silent or empty" account=acme family=dasha_sip_registration_sip_response_code panels="\"Unhealthy or expiring numbers\""
level=WARN msg="a dropped per-number family is read by the shipped alerts or dashboard: they may stay silent or empty" account=acme family=dasha_sip_registration_expiry_seconds alerts="DashaSIPRegistrationExpired, DashaSIPRegistrationExpiringSoon" panels="\"Expiring < 1h\", \"Soonest registration expiries\", \"Unhealthy or expiring numbers\""
`
	got := logs.String()
	// Drop the time= field, the only one that changes.
	var lines []string
	for _, l := range strings.SplitAfter(got, "\n") {
		if _, rest, ok := strings.Cut(l, " "); ok && strings.HasPrefix(l, "time=") {
			l = rest
		}
		lines = append(lines, l)
	}
	if got = strings.Join(lines, ""); got != want {
		t.Errorf("warnings:\n%s\nwant:\n%s", got, want)
	}

	uses := opts.DroppedInUse()
	if len(uses) != 2 {
		t.Fatalf("DroppedInUse = %v", uses)
	}
	if s, want := uses[1].String(), `dasha_sip_registration_expiry_seconds is dropped, but the alerts DashaSIPRegistrationExpired, DashaSIPRegistrationExpiringSoon and the dashboard panels "Expiring < 1h", "Soonest registration expiries", "Unhealthy or expiring numbers" read it: they may stay silent or empty`; s != want {
		t.Errorf("String = %s\nwant %s", s, want)
	}
}

func TestNoWarningWithoutSelection(t *testing.T) {
	var logs bytes.Buffer
	if _, err := New(&stubLister{}, Options{States: DefaultStates, HealthyStates: DefaultHealthyStates}, slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
		t.Fatal(err)
	}
	if logs.Len() != 0 {
		t.Errorf("logged %s", logs.String())
	}
}
