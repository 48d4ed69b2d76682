package collector

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
	"unicode/utf8"

	"github.com/dasha-exporter/dasha_exporter/client"
)

// UnknownState stands for a null registrationStatus or state.
const UnknownState = "Unknown"

// maxLabelBytes bounds label values that come from the API as text (error
// texts, display names, states).
const maxLabelBytes = 256

// sink receives one sample of the family being written: the number it
// belongs to, its value, and the values of the family's own labels (after
// id and phone_number), in the family's label order.
type sink interface {
	add(n *client.PhoneNumber, v float64, lv labelValues)
}

// labelValues holds a family's own label values. An array rather than a
// variadic slice: passed by value through the sink interface it costs no
// allocation, which at a million series a scrape matters.
type labelValues [maxFamilyLabels]string

// maxFamilyLabels is the most labels a family has besides id and
// phone_number (dasha_sip_phone_number_info's five).
const maxFamilyLabels = 5

// family is one per-number metric family. Both the const-metric collector
// and the text writer are driven by the same table, so the two ways of
// exposing a listing cannot drift apart.
type family struct {
	name   string
	help   string
	labels []string
	// timed marks a family whose values depend on the scrape's time (now),
	// not only on the listing: answers of one listing share its rendering
	// only when they share the time.
	timed bool
	emit  func(s sink, n *client.PhoneNumber, r *rules, now time.Time)
}

// rules are the state-set options, compiled for lookups.
type rules struct {
	states     []string
	configured map[string]bool
	healthy    map[string]bool
}

// isHealthy is dasha_sip_registration_healthy's rule: a healthy state and
// no error.
func (r *rules) isHealthy(n *client.PhoneNumber) bool {
	return r.healthy[stateOf(n)] && errorOf(n) == ""
}

func newRules(states, healthy []string) *rules {
	r := &rules{states: states, configured: map[string]bool{}, healthy: map[string]bool{}}
	for _, s := range states {
		r.configured[s] = true
	}
	for _, s := range healthy {
		r.healthy[s] = true
	}
	return r
}

// families lists the per-number metrics of the contract. Every series
// carries id and phone_number first.
var families = []family{
	{
		name:   "dasha_sip_phone_number_info",
		help:   "Information about a SIP phone number; always 1. A null field is an empty label.",
		labels: []string{"display_name", "org_id", "provider_id", "credentials_id", "incoming_calls_agent_id"},
		emit: func(s sink, n *client.PhoneNumber, _ *rules, _ time.Time) {
			s.add(n, 1, labelValues{cut(n.DisplayName), cutID(n.OrgID), cutID(n.ProviderID), cutID(n.CredentialsID), cutID(n.IncomingCallsAgentID)})
		},
	},
	{
		name: "dasha_sip_registration_enabled",
		help: "1 if the platform performs SIP registration for the number (registration=true), else 0.",
		emit: func(s sink, n *client.PhoneNumber, _ *rules, _ time.Time) {
			s.add(n, boolValue(n.Registration), labelValues{})
		},
	},
	{
		name:   "dasha_sip_registration_state",
		help:   "SIP registration state as a state set: 1 on the current state, 0 on the other configured states. A state outside --registration.state gets its own series; a null state is Unknown.",
		labels: []string{"state"},
		emit: func(s sink, n *client.PhoneNumber, r *rules, _ time.Time) {
			current := stateOf(n)
			for _, st := range r.states {
				s.add(n, boolValue(st == current), labelValues{st})
			}
			if !r.configured[current] {
				s.add(n, 1, labelValues{current})
			}
		},
	},
	{
		name: "dasha_sip_registration_healthy",
		help: "For numbers with registration enabled: 1 if the state is one of --registration.healthy-state and there is no error, else 0.",
		emit: func(s sink, n *client.PhoneNumber, r *rules, _ time.Time) {
			if n.Registration {
				s.add(n, boolValue(r.isHealthy(n)), labelValues{})
			}
		},
	},
	{
		name: "dasha_sip_registration_error",
		help: "1 if the registration status carries an error description, else 0.",
		emit: func(s sink, n *client.PhoneNumber, _ *rules, _ time.Time) {
			s.add(n, boolValue(errorOf(n) != ""), labelValues{})
		},
	},
	{
		name:   "dasha_sip_registration_error_info",
		help:   "The registration error and the registrar's last answer, each cut to 256 bytes; 1, present only while there is an error.",
		labels: []string{"error_description", "sip_response_message"},
		emit: func(s sink, n *client.PhoneNumber, _ *rules, _ time.Time) {
			if e := errorOf(n); e != "" {
				s.add(n, 1, labelValues{cut(e), cut(n.RegistrationStatus.SIPResponseMessage)})
			}
		},
	},
	{
		name: "dasha_sip_registration_sip_response_code",
		help: "SIP status code of the registrar's last answer (from sipResponseMessage); absent when it holds none.",
		emit: func(s sink, n *client.PhoneNumber, _ *rules, _ time.Time) {
			if n.RegistrationStatus == nil {
				return
			}
			if code, ok := SIPCode(n.RegistrationStatus.SIPResponseMessage); ok {
				s.add(n, float64(code), labelValues{})
			}
		},
	},
	{
		name:  "dasha_sip_registration_expiry_seconds",
		help:  "Seconds from the scrape until the registration expires (expiresAt); negative once expired, absent when unknown.",
		timed: true,
		emit: func(s sink, n *client.PhoneNumber, _ *rules, now time.Time) {
			if st := n.RegistrationStatus; st != nil && st.ExpiresAt.IsSet() {
				s.add(n, secondsBetween(now, st.ExpiresAt.Time), labelValues{})
			}
		},
	},
	{
		name: "dasha_sip_registration_expires_timestamp_seconds",
		help: "When the registration expires (expiresAt), in Unix seconds; absent when unknown.",
		emit: func(s sink, n *client.PhoneNumber, _ *rules, _ time.Time) {
			if st := n.RegistrationStatus; st != nil && st.ExpiresAt.IsSet() {
				s.add(n, unixSeconds(st.ExpiresAt.Time), labelValues{})
			}
		},
	},
	{
		name: "dasha_sip_registration_last_updated_timestamp_seconds",
		help: "When the platform last updated the registration status (lastUpdated), in Unix seconds; absent when unknown.",
		emit: func(s sink, n *client.PhoneNumber, _ *rules, _ time.Time) {
			if st := n.RegistrationStatus; st != nil && st.LastUpdated.IsSet() {
				s.add(n, unixSeconds(st.LastUpdated.Time), labelValues{})
			}
		},
	},
	{
		name: "dasha_sip_phone_number_created_timestamp_seconds",
		help: "When the number was created in Dasha (createdTime), in Unix seconds; absent when unknown.",
		emit: func(s sink, n *client.PhoneNumber, _ *rules, _ time.Time) {
			if n.CreatedTime.IsSet() {
				s.add(n, unixSeconds(n.CreatedTime.Time), labelValues{})
			}
		},
	},
}

// stateOf returns the number's registration state, Unknown for null. The
// API's states are an open set; one is a label value, so it is cut like
// the other texts.
func stateOf(n *client.PhoneNumber) string {
	if n.RegistrationStatus == nil || n.RegistrationStatus.State == "" {
		return UnknownState
	}
	return cut(n.RegistrationStatus.State)
}

// errorOf returns the number's error description, "" for none.
func errorOf(n *client.PhoneNumber) string {
	if n.RegistrationStatus == nil {
		return ""
	}
	return n.RegistrationStatus.ErrorDescription
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unixSeconds(t time.Time) float64 {
	return float64(t.Unix()) + float64(t.Nanosecond())/1e9 // UnixNano overflows past 2262
}

// secondsBetween is to - from in seconds. A time.Duration would saturate
// at ±292 years (t.Sub), where the API's "9999-12-31" is far beyond.
func secondsBetween(from, to time.Time) float64 {
	return float64(to.Unix()-from.Unix()) + float64(to.Nanosecond()-from.Nanosecond())/1e9
}

// cutID bounds an identity label (id, phone_number, org_id, provider_id,
// credentials_id, incoming_calls_agent_id) while keeping distinct values
// distinct: a value longer than maxLabelBytes keeps its start, padded with
// "~" and ended by the 64 hex digits of its SHA-256, to exactly
// maxLabelBytes+1 bytes. A cut value is thus longer than any value left
// whole and can never equal one, and two cut values are equal only if
// their SHA-256 are. Real values are uuids and E.164 numbers far below the
// bound; a longer one is a broken API, and cutting it keeps every other
// number of the fleet monitored, where failing the listing would blind
// on-call to all of them.
func cutID(s string) string {
	if len(s) <= maxLabelBytes {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	b := make([]byte, 0, cutIDBytes)
	i := cutIDBytes - 1 - 2*len(sum) // room for at least one "~"
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	b = append(b, s[:i]...)
	for len(b) < cutIDBytes-2*len(sum) {
		b = append(b, '~')
	}
	return string(hex.AppendEncode(b, sum[:]))
}

// cutIDBytes is the length of every cut identity label: one more than any
// value left whole.
const cutIDBytes = maxLabelBytes + 1

// cut shortens s to at most maxLabelBytes of valid UTF-8, never splitting a
// rune (invalid bytes have already become U+FFFD in JSON decoding).
func cut(s string) string {
	if len(s) <= maxLabelBytes {
		return s
	}
	i := maxLabelBytes
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}
