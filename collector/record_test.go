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

// A record is stamped with the exporter's clock when the scrape waited for
// its listing, and with the listing's own time when it came from the cache
// (it ended then, before this scrape).
func TestRecordTimeOfAFreshAndACachedListing(t *testing.T) {
	taken := scrapeTime.Add(-time.Minute)
	for _, how := range []client.How{client.Started, client.Joined, client.Cached} {
		listing := client.NewListing(nil)
		listing.Time = taken
		e := newTestExporter(t, &runStub{runs: []*client.Run{{Listing: listing, Log: client.NewListingLog(nil), How: how}}}, Options{})
		e.Scrape(context.Background())
		want := scrapeTime // the exporter's clock (newTestExporter)
		if how == client.Cached {
			want = taken
		}
		if got := e.Last().Time; !got.Equal(want) {
			t.Errorf("%s: the record's time is %v, want %v", how, got, want)
		}
	}
}

// gateErr is a listing's error whose first Error() call, which only a
// scrape recording the listing makes, waits for release: it holds that
// scrape between marking the listing being recorded and recording it.
type gateErr struct {
	once              sync.Once
	reached, released chan struct{}
}

func newGateErr() *gateErr {
	return &gateErr{reached: make(chan struct{}), released: make(chan struct{})}
}

func (g *gateErr) Error() string {
	g.once.Do(func() {
		close(g.reached)
		<-g.released
	})
	return "503 Service Unavailable"
}

// A scrape that joins a listing while the scrape that started it is still
// recording it does not record it again, even when another listing is
// being recorded at the same time and that one ends first.
func TestAListingBeingRecordedIsNotRecordedAgain(t *testing.T) {
	first, second := client.NewListingLog(nil), client.NewListingLog(nil)
	gate1, gate2 := newGateErr(), newGateErr()
	stub := &runStub{runs: []*client.Run{
		{Err: gate1, Log: first, How: client.Started},
		{Err: gate2, Log: second, How: client.Started},
		{Err: errors.New("503 Service Unavailable"), Log: first, How: client.Joined},
		{Err: errors.New("503 Service Unavailable"), Log: second, How: client.Joined},
	}}
	e := newTestExporter(t, stub, Options{})
	e.KeepHistoryIn(NewHistory(8, 1<<20).Journal())
	scrapeHeldAt := func(g *gateErr) <-chan struct{} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			e.Scrape(context.Background())
		}()
		select {
		case <-g.reached: // the stub's turn is taken: the next Scrape gets the next run
		case <-done:
			t.Fatal("a scrape that started a listing did not record it")
		}
		return done
	}
	done1 := scrapeHeldAt(gate1)   // records the first listing
	done2 := scrapeHeldAt(gate2)   // records the second one meanwhile
	e.Scrape(context.Background()) // joins the first
	close(gate1.released)
	<-done1
	e.Scrape(context.Background()) // joins the second, still being recorded
	close(gate2.released)
	<-done2
	got := e.journal.Recent()
	if len(got) != 2 {
		t.Fatalf("recorded %d listings, want 2 (each once): %+v", len(got), got)
	}
	if n := len(e.recording); n != 0 {
		t.Errorf("%d listings still marked being recorded, want none", n)
	}
}
