package collector

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/dasha-exporter/dasha_exporter/client"
)

// runStub is a Runner handing out the runs it is given, in turn.
type runStub struct {
	runs  []*client.Run
	calls int
}

func (s *runStub) List(ctx context.Context) (*client.Listing, error) {
	r := s.Run(ctx)
	return r.Listing, r.Err
}

func (s *runStub) Run(context.Context) *client.Run {
	r := s.runs[min(s.calls, len(s.runs)-1)]
	s.calls++
	return r
}

// The exporter keeps the record of its last listing, with the health
// rule's count and the listing's log: the landing page reads it there.
func TestExporterRecordsTheLastListing(t *testing.T) {
	numbers := []client.PhoneNumber{
		{ID: "1", Registration: true, RegistrationStatus: &client.RegistrationStatus{State: "Registered"}},
		{ID: "2", Registration: true, RegistrationStatus: &client.RegistrationStatus{State: "Failed"}},
		{ID: "3", Registration: false},
	}
	log := client.NewListingLog(nil)
	log.Write([]byte("msg=\"API request\"\n"))
	taken := scrapeTime.Add(-time.Minute)
	listing := client.NewListing(numbers)
	listing.Requests, listing.Time = 2, taken
	stub := &runStub{runs: []*client.Run{
		{Listing: listing, Log: log, How: client.Started},
		{Listing: listing, Log: log, How: client.Cached},
		{Err: errors.New("401 Unauthorized"), Log: client.NewListingLog(nil), How: client.Joined},
	}}
	e := newTestExporter(t, stub, Options{})
	if !e.Last().Time.IsZero() {
		t.Fatal("a record before the first listing")
	}
	s := e.Scrape(context.Background())
	r := e.Last()
	if r.Err != "" || r.Numbers != 3 || r.Unhealthy != 1 || r.Requests != 2 || r.Log != log || r.How != client.Started || s.Log != log {
		t.Errorf("record of the first listing: %+v", r)
	}
	e.Scrape(context.Background())
	if r2 := e.Last(); r2 != r {
		t.Errorf("a cached listing changed the record: %+v, was %+v", r2, r)
	}
	e.Scrape(context.Background())
	if r3 := e.Last(); r3.Err != "401 Unauthorized" || r3.Numbers != 0 || r3.How != client.Joined || r3.Log == log {
		t.Errorf("record of a failed listing: %+v", r3)
	}
}

// syncBuffer is a log buffer a listing's goroutines may still write to
// while the test reads it: a request the scrape stopped waiting for logs
// when it ends.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
