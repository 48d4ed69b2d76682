package fakeapi

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"time"
)

// Fleet returns n numbers that look like a real large fleet at now: most
// registered with an hour's registration, 5% failing with an error and a SIP
// answer, 2% with registration off, 1% with no status at all. Benchmarks and
// load runs use it.
func Fleet(n int, now time.Time) []Number {
	now = now.UTC().Truncate(time.Second)
	out := make([]Number, n)
	org := Ptr("3f1c2a9e-6b7d-4e21-9a8b-5c4d3e2f1a00")
	providers := []*string{Ptr("0b6f3b5e-8f0c-4b8a-9a51-7d1f2c3e4a01"), Ptr("0b6f3b5e-8f0c-4b8a-9a51-7d1f2c3e4a02")}
	for i := range out {
		num := Number{
			ID:             fmt.Sprintf("8d0e9c1a-0000-4000-8000-%012d", i),
			OrgID:          org,
			PhoneNumber:    fmt.Sprintf("+1415%07d", i),
			CredentialsID:  Ptr(fmt.Sprintf("c7a1f0e2-0000-4000-8000-%012d", i)),
			CreatedTime:    "2024-03-01T10:11:12.1234567Z",
			LastUpdateTime: "2025-06-01T10:00:00.1234567Z",
			RegistrationStatus: &Status{State: Ptr("Registered"), SIPResponseMessage: Ptr("200 OK"),
				LastUpdated: Timestamp(now.Add(-30 * time.Minute)), ExpiresAt: Timestamp(now.Add(30 * time.Minute))},
			Description:  Ptr(fmt.Sprintf("number %d of the fleet, used by team %d", i, i%40)),
			DisplayName:  Ptr(fmt.Sprintf("line %d", i)),
			Registration: true,
			ProviderID:   providers[i%2],
		}
		switch {
		case i%20 == 0:
			num.RegistrationStatus = &Status{State: Ptr("Failed"), ErrorDescription: Ptr("Registration rejected by the registrar: authentication failed"),
				SIPResponseMessage: Ptr("SIP/2.0 403 Forbidden"), LastUpdated: Timestamp(now.Add(-time.Hour))}
		case i%50 == 1:
			num.Registration = false
			num.RegistrationStatus = &Status{State: Ptr("Disabled")}
		case i%97 == 2:
			num.RegistrationStatus = nil
		}
		if i%3 == 0 {
			num.IncomingCallsAgentID = Ptr(fmt.Sprintf("agent-%d", i%17))
		}
		out[i] = num
	}
	return out
}

// Pages is an http.RoundTripper that answers listing requests with pages
// encoded once in advance, so that a benchmark measures the client and not
// the fake's JSON encoding or a network. It serves the unfiltered list only.
type Pages struct {
	pages map[string][]byte // by skip
	total int64             // bytes of the pages that hold numbers
}

// NewPages encodes every page of numbers (and two empty pages past the end,
// for a client that guessed too many) as the fake API sends them.
func NewPages(numbers []Number, take int) *Pages {
	fake := New("", numbers)
	p := &Pages{pages: map[string][]byte{}}
	for skip := 0; skip < max(len(numbers), 1)+2*take; skip += take {
		rec := httptest.NewRecorder()
		fake.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, fmt.Sprintf("/api/v1/sip-phone-numbers?skip=%d&take=%d", skip, take), nil))
		p.pages[strconv.Itoa(skip)] = rec.Body.Bytes()
		if skip < len(numbers) {
			p.total += int64(rec.Body.Len())
		}
	}
	return p
}

// Page returns the encoded page at skip.
func (p *Pages) Page(skip int) []byte { return p.pages[strconv.Itoa(skip)] }

// Bytes is the size of all pages that hold numbers.
func (p *Pages) Bytes() int64 { return p.total }

// RoundTrip answers with the page the request's skip names.
func (p *Pages) RoundTrip(r *http.Request) (*http.Response, error) {
	b, ok := p.pages[r.URL.Query().Get("skip")]
	if !ok {
		return nil, fmt.Errorf("no page at %s", r.URL.RawQuery)
	}
	return &http.Response{
		StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/json; charset=utf-8"}},
		Body:          io.NopCloser(bytes.NewReader(b)),
		ContentLength: int64(len(b)),
		Request:       r,
	}, nil
}
