package client

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"
)

// PhoneNumber is one item of GET /api/v1/sip-phone-numbers. A JSON null in
// any string field decodes as "", which the collector exports as an empty
// label.
type PhoneNumber struct {
	ID                   string              `json:"id"`
	OrgID                string              `json:"orgId"`
	PhoneNumber          string              `json:"phoneNumber"`
	CredentialsID        string              `json:"credentialsId"`
	DisplayName          string              `json:"displayName"`
	Registration         bool                `json:"registration"`
	ProviderID           string              `json:"providerId"`
	IncomingCallsAgentID string              `json:"incomingCallsAgentId"`
	RegistrationStatus   *RegistrationStatus `json:"registrationStatus"`
	// CreatedTime lets alert rules tell a number created moments ago (not
	// registered yet) from one that stopped registering.
	CreatedTime Time `json:"createdTime"`
	// description and lastUpdateTime are not decoded: the exporter never
	// exports free text or the record's edit times.
}

// RegistrationStatus is the SIP registration as the platform last saw it.
// Every field, and the status itself, may be null.
type RegistrationStatus struct {
	State              string `json:"state"`
	ErrorDescription   string `json:"errorDescription"`
	SIPResponseMessage string `json:"sipResponseMessage"`
	LastUpdated        Time   `json:"lastUpdated"`
	ExpiresAt          Time   `json:"expiresAt"`
}

// page is the envelope of one listing page.
type page struct {
	Items      []PhoneNumber `json:"items"`
	TotalCount *int          `json:"totalCount"`

	// escapedIDs marks the items whose id was escaped (see escapeIDs);
	// nil when none was.
	escapedIDs []bool
}

// Time is an API timestamp. The zero Time stands for null.
//
// The API documents ISO-8601 UTC ("2023-11-07T05:31:56Z"); an ASP.NET
// backend may also send 7-digit fractions, "+00:00" offsets, or no offset
// at all (taken as UTC).
type Time struct{ time.Time }

// layouts are tried in order; RFC 3339 with any fraction covers most.
var layouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999", // no offset: UTC
}

// UnmarshalJSON parses an API timestamp or null.
func (t *Time) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		t.Time = time.Time{}
		return nil
	}
	var s string
	switch {
	case len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' && bytes.IndexByte(b, '\\') < 0:
		s = string(b[1 : len(b)-1]) // the common case: no escapes to undo
	default:
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("timestamp %s is not a JSON string", truncate(b, 64))
		}
	}
	if s == "" {
		t.Time = time.Time{}
		return nil
	}
	for _, layout := range layouts {
		if v, err := time.Parse(layout, s); err == nil {
			t.Time = v.UTC()
			return nil
		}
	}
	return fmt.Errorf("timestamp %q is not ISO-8601", truncate([]byte(s), 64))
}

// IsSet reports whether the timestamp was present (not null).
func (t Time) IsSet() bool { return !t.Time.IsZero() }

// truncate shortens text quoted into error messages to at most n bytes,
// never splitting a UTF-8 character.
func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return string(b[:n]) + "…"
}
