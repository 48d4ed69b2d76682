package client

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"

	"github.com/dasha-exporter/dasha_exporter/internal/fakeapi"
)

// bnFleet is a fleet of n numbers that looks like a real one: most
// registered, some failing with an error and a SIP answer, some with
// registration off or no status at all.
func bnFleet(n int) []fakeapi.Number {
	out := make([]fakeapi.Number, n)
	orgs := fakeapi.Ptr("3f1c2a9e-6b7d-4e21-9a8b-5c4d3e2f1a00")
	providers := []*string{fakeapi.Ptr("0b6f3b5e-8f0c-4b8a-9a51-7d1f2c3e4a01"), fakeapi.Ptr("0b6f3b5e-8f0c-4b8a-9a51-7d1f2c3e4a02")}
	for i := range out {
		n := ftNumber(i)
		n.OrgID = orgs
		n.ProviderID = providers[i%2]
		n.Description = fakeapi.Ptr(fmt.Sprintf("number %d of the fleet, used by team %d", i, i%40))
		n.CreatedTime = "2024-03-01T10:11:12.1234567Z"
		n.LastUpdateTime = "2025-06-01T10:00:00.1234567Z"
		switch {
		case i%20 == 0:
			n.RegistrationStatus = &fakeapi.Status{State: fakeapi.Ptr("Failed"), ErrorDescription: fakeapi.Ptr("Registration rejected by the registrar: authentication failed"),
				SIPResponseMessage: fakeapi.Ptr("SIP/2.0 403 Forbidden"), LastUpdated: fakeapi.Ptr("2025-06-01T10:00:00.1234567Z")}
		case i%50 == 1:
			n.Registration = false
			n.RegistrationStatus = &fakeapi.Status{State: fakeapi.Ptr("Disabled")}
		case i%97 == 2:
			n.RegistrationStatus = nil
		}
		if i%3 == 0 {
			n.IncomingCallsAgentID = fakeapi.Ptr(fmt.Sprintf("agent-%d", i%17))
		}
		out[i] = n
	}
	return out
}

// bnPages serves pre-encoded pages from memory, so that a benchmark
// measures the client and not the fake's JSON encoding or a network.
type bnPages struct {
	pages map[string][]byte // by skip
	total int64             // bytes of the pages
}

// newBNPages encodes every page of a fleet of n numbers once, as the fake
// API sends them.
func newBNPages(n, take int) *bnPages {
	fake := fakeapi.New("", bnFleet(n))
	p := &bnPages{pages: map[string][]byte{}}
	for skip := 0; skip < max(n, 1)+2*take; skip += take {
		rec := httptest.NewRecorder()
		fake.ServeHTTP(rec, httptest.NewRequest("GET", fmt.Sprintf("/api/v1/sip-phone-numbers?skip=%d&take=%d", skip, take), nil))
		p.pages[strconv.Itoa(skip)] = rec.Body.Bytes()
		if skip < n {
			p.total += int64(rec.Body.Len())
		}
	}
	return p
}

func (p *bnPages) RoundTrip(r *http.Request) (*http.Response, error) {
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

var bnSizes = []int{1000, 10000, 100000}

// BenchmarkList measures one listing (fetch and decode of every page, the
// checks, de-duplication) through the real client. Later listings guess
// the page count from the one before, as in a running exporter.
func BenchmarkList(b *testing.B) {
	for _, n := range bnSizes {
		b.Run(fmt.Sprintf("numbers=%d", n), func(b *testing.B) {
			pages := newBNPages(n, 1000)
			u, _ := url.Parse("http://fake.invalid")
			c, err := New(Config{BaseURL: u, Key: StaticKey("k"), PageSize: 1000, Concurrency: 4, HTTPClient: &http.Client{Transport: pages}})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := c.List(b.Context()); err != nil { // learn the page count
				b.Fatal(err)
			}
			b.SetBytes(pages.total)
			b.ReportAllocs()
			for b.Loop() {
				l, err := c.List(b.Context())
				if err != nil || len(l.Numbers) != n {
					b.Fatalf("listing: %v", err)
				}
			}
		})
	}
}

// BenchmarkDecodePage measures decoding one full page of 1000 numbers.
func BenchmarkDecodePage(b *testing.B) {
	body := newBNPages(1000, 1000).pages["0"]
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodePage(bytes.NewReader(body)); err != nil {
			b.Fatal(err)
		}
	}
}
