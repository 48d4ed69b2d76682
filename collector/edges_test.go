package collector

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// The edges of the SIP code rule: the ends of the range and of each
// character class, and a point or a digit on either side of the code.
func TestSIPCodeEdges(t *testing.T) {
	for in, want := range map[string]int{
		"699 Custom":             699, // the top of the range
		".403 at the start":      403, // a point with nothing before it
		"Error.403":              403, // a point after a letter, not between digits
		"rejected with 403. Bye": 403, // a point after the code, then no digit
		"403 0 retries":          403, // a digit after a space is another word
		"a403":                   0, "abc403": 0, "z403": 0, "A403": 0, "Z403": 0, "_403": 0,
		"Ѐ403": 0, // U+0400 ends in the byte 0x80: part of a letter
	} {
		got, ok := SIPCode(in)
		if want == 0 && ok {
			t.Errorf("SIPCode(%q) = %d, want none", in, got)
		}
		if want != 0 && (!ok || got != want) {
			t.Errorf("SIPCode(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
}

// A cut identity never splits a character, wherever the cut falls in it.
func TestCutIDNeverSplitsACharacter(t *testing.T) {
	for lead := range 3 {
		s := strings.Repeat("x", lead) + strings.Repeat("€", 150) // 3-byte runes
		got := cutID(s)
		if !utf8.ValidString(got) || len(got) != maxLabelBytes+1 {
			t.Errorf("lead %d: cutID gave %d bytes, valid UTF-8 %v", lead, len(got), utf8.ValidString(got))
		}
		if want := s[:strings.LastIndex(got, "€")+len("€")]; !strings.HasPrefix(got, want) {
			t.Errorf("lead %d: cutID does not keep the text up to its last whole character", lead)
		}
	}
}

// The recovery line is written once for each return to success, not for
// every success after a failure.
func TestRecoveryLoggedOncePerRecovery(t *testing.T) {
	var logs bytes.Buffer
	l := fixtureListing(t)
	lister := &stubLister{results: []stubResult{{err: errors.New("503")}, {listing: l}, {listing: l}, {listing: l}, {err: errors.New("503")}, {listing: l}, {listing: l}}}
	e, err := New(lister, Options{States: DefaultStates, HealthyStates: DefaultHealthyStates}, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for range len(lister.results) {
		e.Scrape(context.Background())
	}
	if got := strings.Count(logs.String(), "works again"); got != 2 {
		t.Errorf("%d recovery lines for two recoveries:\n%s", got, logs.String())
	}
}

// failingGatherer is an exporter registry whose gathering fails.
type failingGatherer struct{}

func (failingGatherer) Gather() ([]*dto.MetricFamily, error) {
	return nil, errors.New("collector broke")
}

// The exporter's own metrics failing to gather is logged at error level,
// and the scrape still answers with the listing.
func TestGatherErrorLoggedAndAnswered(t *testing.T) {
	for _, tc := range []struct {
		name     string
		gatherer prometheus.Gatherer
		logged   bool
	}{
		{"failing", failingGatherer{}, true},
		{"working", prometheus.NewRegistry(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			h := NewHandler(HandlerOpts{Exporter: newTestExporter(t, &stubLister{results: []stubResult{{listing: fixtureListing(t)}}}, Options{}),
				Gatherer: tc.gatherer, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			resp, text := scrapeOnce(t, h, nil)
			if resp.StatusCode != http.StatusOK || !strings.Contains(text, "dasha_up 1") || !strings.Contains(text, "dasha_sip_phone_number_info{") {
				t.Errorf("answer %d without the listing:\n%.500s", resp.StatusCode, text)
			}
			if logged := strings.Contains(logs.String(), "level=ERROR") && strings.Contains(logs.String(), "collector broke"); logged != tc.logged {
				t.Errorf("error logged %v, want %v:\n%s", logged, tc.logged, logs.String())
			}
		})
	}
}

// brokenConn is a scraper whose connection fails on the first write.
type brokenConn struct{ h http.Header }

func (b *brokenConn) Header() http.Header       { return b.h }
func (b *brokenConn) WriteHeader(int)           {}
func (b *brokenConn) Write([]byte) (int, error) { return 0, errors.New("connection reset by peer") }

// A scraper that went away is logged at debug level only, and a scrape
// that was written is not logged at all.
func TestWriteErrorLoggedAtDebug(t *testing.T) {
	for _, tc := range []struct {
		name   string
		w      http.ResponseWriter
		logged bool
	}{
		{"gone", &brokenConn{h: http.Header{}}, true},
		{"read", httptest.NewRecorder(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			h := NewHandler(HandlerOpts{Exporter: newTestExporter(t, &stubLister{results: []stubResult{{listing: fixtureListing(t)}}}, Options{}),
				Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			h.ServeHTTP(tc.w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
			line := strings.Contains(logs.String(), `msg="writing metrics"`)
			if line != tc.logged || line && !strings.Contains(logs.String(), "level=DEBUG") {
				t.Errorf("write error logged %v, want %v at debug:\n%s", line, tc.logged, logs.String())
			}
		})
	}
}

// A dropped family's warning names only what reads it: no empty list of
// alerts for a family only panels read, nor of panels.
func TestFamilyUseNamesOnlyWhatReadsIt(t *testing.T) {
	uses := Options{MetricDenylist: []string{"dasha_sip_registration_state"}}.DroppedInUse()
	if len(uses) != 1 {
		t.Fatalf("%d uses, want the state family's", len(uses))
	}
	if got := uses[0].String(); strings.Contains(got, "alerts") || !strings.Contains(got, `the dashboard panels "Numbers by registration state"`) {
		t.Errorf("%q", got)
	}
	alertsOnly := FamilyUse{Family: "f", Alerts: []string{"A", "B"}}
	if got, want := alertsOnly.String(), "f is dropped, but the alerts A, B read it: they may stay silent or empty"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
	// The log warning's attributes, the same way.
	if got, want := fmt.Sprint(alertsOnly.logAttrs()), "[family f alerts A, B]"; got != want {
		t.Errorf("attributes %s, want %s", got, want)
	}
	panelsOnly := FamilyUse{Family: "f", Panels: []string{"P"}}
	if got, want := fmt.Sprint(panelsOnly.logAttrs()), `[family f panels "P"]`; got != want {
		t.Errorf("attributes %s, want %s", got, want)
	}
}

// Two options that exclude each other are named together, one option
// alone with a colon.
func TestOptionErrorNamesBothOptions(t *testing.T) {
	both := &OptionError{Option: "metric_allowlist", Other: "metric_denylist", Msg: "are both set"}
	if got := both.Error(); got != "metric_allowlist and metric_denylist are both set" {
		t.Errorf("%q", got)
	}
	one := &OptionError{Option: "states", Msg: "is empty"}
	if got := one.Error(); got != "states: is empty" {
		t.Errorf("%q", got)
	}
}
