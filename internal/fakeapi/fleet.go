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

// The providers of ProviderFleet, by index.
var fleetProviders = []string{
	"0b6f3b5e-8f0c-4b8a-9a51-7d1f2c3e4a01",
	"0b6f3b5e-8f0c-4b8a-9a51-7d1f2c3e4a02",
	"0b6f3b5e-8f0c-4b8a-9a51-7d1f2c3e4a03",
}

// FleetProvider returns the id of provider p (0, 1 or 2) of ProviderFleet.
func FleetProvider(p int) string { return fleetProviders[p] }

// unrelatedFailures are the registrar answers of ProviderFleet's failing
// numbers, taken in turn, so that no cause is shared.
var unrelatedFailures = []struct{ state, sip, why string }{
	{"Failed", "SIP/2.0 403 Forbidden", "Registration rejected by registrar: 403 Forbidden"},
	{"Failed", "SIP/2.0 408 Request Timeout", "No answer from registrar"},
	{"Registering", "SIP/2.0 480 Temporarily Unavailable", "Registrar temporarily unavailable"},
	{"Failed", "SIP/2.0 401 Unauthorized", "Authentication failed"},
	{"Failed", "", "Registration failed"},
}

// ProviderFleet returns n registered numbers spread over three providers
// (numbers i%5 of 0 and 1 on provider 0, 2 and 3 on provider 1, 4 on
// provider 2: 40/40/20 %), every one with credentials of its own, as real
// fleets are. One number in every failEvery (none if failEvery is 0) fails
// for reasons of its own, on every provider in turn: the registrar answers
// rotate through 403, 408, 480, 401 and none, and such numbers hold no
// valid registration. The last
// newNumbers numbers were created minutes ago and have no registration
// status yet. The fleet e2e test and the demo stack use it to show paging
// at scale; FailProvider then takes one provider down.
func ProviderFleet(n, failEvery, newNumbers int, now time.Time) []Number {
	now = now.UTC().Truncate(time.Second)
	out := make([]Number, n)
	org := Ptr("3f1c2a9e-6b7d-4e21-9a8b-5c4d3e2f1a00")
	for i := range out {
		p := []int{0, 0, 1, 1, 2}[i%5]
		num := Number{
			ID:             fmt.Sprintf("9e1f0c2b-0000-4000-8000-%012d", i),
			OrgID:          org,
			PhoneNumber:    fmt.Sprintf("+1628%07d", i),
			CredentialsID:  Ptr(fmt.Sprintf("c7a1f0e2-0000-4000-8000-%012d", i)),
			CreatedTime:    "2024-03-01T10:11:12Z",
			LastUpdateTime: "2025-06-01T10:00:00Z",
			RegistrationStatus: &Status{State: Ptr("Registered"), SIPResponseMessage: Ptr("SIP/2.0 200 OK"),
				LastUpdated: Timestamp(now.Add(-10 * time.Minute)), ExpiresAt: Timestamp(now.Add(50 * time.Minute))},
			DisplayName:  Ptr(fmt.Sprintf("Line %d", i)),
			Registration: true,
			ProviderID:   Ptr(fleetProviders[p]),
		}
		switch {
		case i >= n-newNumbers:
			num.CreatedTime = *Timestamp(now.Add(-5 * time.Minute))
			num.RegistrationStatus = nil
		case failEvery > 0 && i%failEvery == (i/failEvery)%5%failEvery:
			// The k-th failing number is number k*failEvery + k%5: the
			// providers take turns (for a failEvery that is a multiple of
			// 5), and the answers too.
			k := i / failEvery
			f := unrelatedFailures[(k+k/5)%len(unrelatedFailures)]
			num.RegistrationStatus = &Status{State: Ptr(f.state), ErrorDescription: Ptr(f.why),
				LastUpdated: Timestamp(now.Add(-20 * time.Minute))}
			if f.sip != "" {
				num.RegistrationStatus.SIPResponseMessage = Ptr(f.sip)
			}
		}
		out[i] = num
	}
	return out
}

// FailProvider makes every number of the provider with that id fail at once,
// as in a provider outage (503, no valid registration), and returns the ids
// it changed, in order. Numbers without a status (not registered yet) stay
// as they are.
func FailProvider(s *Server, providerID string, now time.Time) []string {
	numbers := s.Numbers()
	var ids []string
	for i, n := range numbers {
		if n.ProviderID == nil || *n.ProviderID != providerID || n.RegistrationStatus == nil {
			continue
		}
		numbers[i].RegistrationStatus = &Status{State: Ptr("Failed"), SIPResponseMessage: Ptr("SIP/2.0 503 Service Unavailable"),
			ErrorDescription: Ptr("Registrar unavailable"), LastUpdated: Timestamp(now)}
		ids = append(ids, n.ID)
	}
	s.SetNumbers(numbers)
	return ids
}
