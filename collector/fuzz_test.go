package collector

import (
	"bytes"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/dasha-exporter/dasha_exporter/client"
	"github.com/dasha-exporter/dasha_exporter/internal/fakeapi"
)

// FuzzSIPCode: SIPCode never panics, and any code it finds is 100..699 and
// stands in the message as three digits not joined to other digits.
func FuzzSIPCode(f *testing.F) {
	for _, seed := range []string{
		"200 OK", "403 Forbidden", "SIP/2.0 403 Forbidden", "SIP/2.0 408 Request Timeout",
		"(401) Unauthorized", "rejected with 403.", "version 1.403 build", "code 099 or 700",
		"ABC403", "Ошибка 486 Busy Here", "Ошибка403", "12345 then 603 Decline", "\xff403\xfe",
		"403\x00", "1.2.3 404", "603", "60", "", "SIP/2.0 100 Trying; 183 Session Progress",
		"4O3", "+403", "-403", "403-", "٤٠٣ Arabic digits", "503\n", "\"403\"",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		code, ok := SIPCode(msg)
		if !ok {
			if code != 0 {
				t.Fatalf("SIPCode(%q) = %d, false", msg, code)
			}
			return
		}
		if code < 100 || code > 699 {
			t.Fatalf("SIPCode(%q) = %d, outside 100..699", msg, code)
		}
		digits := strconv.Itoa(code)
		for i := 0; i+3 <= len(msg); i++ {
			if msg[i:i+3] == digits && (i == 0 || !isDigit(msg[i-1])) && (i+3 == len(msg) || !isDigit(msg[i+3])) {
				return
			}
		}
		t.Fatalf("SIPCode(%q) = %d, which does not stand in it as 3 digits", msg, code)
	})
}

// FuzzWriteText: for any number the API might send, the text fast path's
// output parses with prometheus/common's text parser and says exactly what
// the const-metric Collect path says.
func FuzzWriteText(f *testing.F) {
	type seed struct {
		id, phone, display, org, state, errDesc, sip, lastUpdated, expiresAt string
		registration, nullStatus                                             bool
	}
	for _, s := range []seed{
		{"8d0e9c1a-0000-4000-8000-000000000001", "+14155550101", "Support", "org-1", "Registered", "", "200 OK", "2026-11-28T11:00:00Z", "2026-11-28T12:30:00Z", true, false},
		{"a", "+1", `Acme "Gold" \ line` + "\nLondon", "", "Failed", "Authentication failed: \"bad\" \\ creds\n", "SIP/2.0 403 Forbidden", "2023-11-07T05:31:56.1234567Z", "2023-11-07T05:31:56+00:00", true, false},
		{"b", "", "", "", "", "", "", "", "", false, true},
		{"c", "+2", "\xff\xfe bad \xc3\x28 utf8", "\x00", "SomethingNew", "x", "", "2023-11-07T05:31:56", "9999-12-31T23:59:59.9999999Z", true, false},
		{"d", "+3", strings.Repeat("é", 200), "o", "Unknown", strings.Repeat("\"", 300), strings.Repeat("ж", 300), "0001-01-01T00:00:00Z", "1970-01-01T00:00:00Z", true, false},
		{"e{}=,", "#", "# HELP x", "}", "Registered Registered", "{", "} 1", "2000-02-29T00:00:00.000000001Z", "2262-04-11T23:47:16.854775808Z", false, false},
	} {
		f.Add(s.id, s.phone, s.display, s.org, s.state, s.errDesc, s.sip, s.lastUpdated, s.expiresAt, s.registration, s.nullStatus)
	}
	scrapeAt := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, id, phone, display, org, state, errDesc, sip, lastUpdated, expiresAt string, registration, nullStatus bool) {
		if id == "" {
			id = "x" // the client rejects items without an id
		}
		// Through JSON and the client's own types, as the API's answers
		// come: invalid UTF-8 becomes U+FFFD on the way.
		n := fakeapi.Number{ID: id, PhoneNumber: phone, DisplayName: &display, OrgID: &org, Registration: registration}
		if !nullStatus {
			n.RegistrationStatus = &fakeapi.Status{State: &state, ErrorDescription: &errDesc, SIPResponseMessage: &sip,
				LastUpdated: &lastUpdated, ExpiresAt: &expiresAt}
		}
		body, err := json.Marshal([]fakeapi.Number{n, func() fakeapi.Number { m := n; m.ID += "-2"; m.PhoneNumber += "2"; return m }()})
		if err != nil {
			t.Fatal(err)
		}
		var numbers []client.PhoneNumber
		if err := json.Unmarshal(body, &numbers); err != nil {
			return // a timestamp the client rejects: the listing fails
		}
		s := &Scrape{Time: scrapeAt, Listing: client.NewListing(numbers), rules: newRules(DefaultStates, DefaultHealthyStates)}

		var text bytes.Buffer
		if err := s.WriteText(&text); err != nil {
			t.Fatal(err)
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		parsed, err := parser.TextToMetricFamilies(bytes.NewReader(text.Bytes()))
		if err != nil {
			t.Fatalf("WriteText's output does not parse: %v\n%s", err, text.Bytes())
		}
		var fast []string
		for _, mf := range parsed {
			fast = append(fast, fzLines(t, mf)...)
		}

		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(s)
		gathered, err := reg.Gather()
		if err != nil {
			t.Fatalf("the const-metric path fails: %v", err)
		}
		var ref []string
		for _, mf := range gathered {
			switch mf.GetName() {
			case "dasha_up", "dasha_sip_phone_numbers", "dasha_scrape_duration_seconds", "dasha_last_success_timestamp_seconds":
				continue
			}
			ref = append(ref, fzLines(t, mf)...)
		}
		sort.Strings(fast)
		sort.Strings(ref)
		if got, want := strings.Join(fast, "\n"), strings.Join(ref, "\n"); got != want {
			t.Fatalf("WriteText differs from Collect:\n--- WriteText (parsed)\n%s\n--- Collect\n%s", got, want)
		}
	})
}

// fzLines renders one family as text lines.
func fzLines(t *testing.T, mf *dto.MetricFamily) []string {
	t.Helper()
	var buf bytes.Buffer
	if _, err := expfmt.MetricFamilyToText(&buf, mf); err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(buf.String()), "\n")
}
