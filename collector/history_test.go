package collector

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/dasha-exporter/dasha_exporter/client"
)

func ids(ps []Past) string {
	var s []string
	for _, p := range ps {
		s = append(s, fmt.Sprint(p.ID))
	}
	return strings.Join(s, " ")
}

// Each account keeps its last perAccount listings, and all accounts
// together at most total: beyond it the oldest of all goes first.
func TestHistoryCaps(t *testing.T) {
	h := NewHistory(3, 5)
	a, b := h.Journal(), h.Journal()
	for range 4 {
		a.add(Record{})
	}
	if got := ids(a.Recent()); got != "4 3 2" {
		t.Fatalf("a keeps %s, want 4 3 2 (newest first, 3 per account)", got)
	}
	b.add(Record{}) // 5
	b.add(Record{}) // 6: 5 in all
	b.add(Record{}) // 7: 6 in all, a's 2 goes
	if got := ids(a.Recent()); got != "4 3" {
		t.Errorf("a keeps %s after the global cap, want 4 3", got)
	}
	if got := ids(b.Recent()); got != "7 6 5" {
		t.Errorf("b keeps %s, want 7 6 5", got)
	}
	if _, ok := a.Get(2); ok {
		t.Error("a dropped listing is still found")
	}
	if p, ok := a.Get(4); !ok || p.ID != 4 {
		t.Error("a kept listing is not found")
	}
	if _, ok := b.Get(4); ok {
		t.Error("an account finds another's listing")
	}
	b.Forget()
	if len(b.Recent()) != 0 {
		t.Error("a removed account keeps listings")
	}
	for range 3 {
		a.add(Record{})
	}
	if got := ids(a.Recent()); got != "10 9 8" {
		t.Errorf("after b left, a keeps %s", got)
	}
}

// One busy account among quiet ones: the queue of all listings stays
// within twice the cap.
func TestHistoryQueueStaysBounded(t *testing.T) {
	h := NewHistory(2, 10)
	for range 4 {
		h.Journal().add(Record{})
	}
	busy := h.Journal()
	for range 1000 {
		busy.add(Record{})
	}
	if len(h.queue) > 20 || h.live != 6 {
		t.Errorf("queue %d, live %d; want at most 20 and 6", len(h.queue), h.live)
	}
}

func TestStoredLogIsBounded(t *testing.T) {
	log := client.NewListingLog(nil)
	line := strings.Repeat("x", 99) + "\n"
	for range 300 { // 30,000 bytes
		log.Write([]byte(line))
	}
	h := NewHistory(1, 1)
	j := h.Journal()
	j.add(Record{Log: log})
	p := j.Recent()[0]
	if !p.HasLog || len(p.Log) > MaxStoredLog+200 || !strings.HasSuffix(p.Log, "(the stored log keeps the first 16300 bytes; 13700 more were cut)\n") {
		t.Errorf("stored log: %d bytes, ending %q", len(p.Log), p.Log[len(p.Log)-100:])
	}
}

// A listing that several scrapes got (started, joined, reused from the
// cache) is one listing: recorded once, and walked once.
func TestJoinedAndCachedAreRecordedOnce(t *testing.T) {
	listing := client.NewListing([]client.PhoneNumber{{ID: "1", Registration: true, RegistrationStatus: &client.RegistrationStatus{State: "Failed"}}})
	listing.Time = scrapeTime
	first, second := client.NewListingLog(nil), client.NewListingLog(nil)
	first.Write([]byte("msg=first\n"))
	stub := &runStub{runs: []*client.Run{
		{Listing: listing, Log: first, How: client.Started},
		{Listing: listing, Log: first, How: client.Joined},
		{Listing: listing, Log: first, How: client.Cached},
		{Err: context.DeadlineExceeded, How: client.Joined}, // stopped waiting: no log
		{Err: errors.New("503"), Log: second, How: client.Started},
		{Err: errors.New("503"), Log: second, How: client.Joined},
	}}
	e := newTestExporter(t, stub, Options{})
	h := NewHistory(8, 100)
	e.KeepHistoryIn(h.Journal())
	for range len(stub.runs) {
		e.Scrape(context.Background())
	}
	got := e.journal.Recent()
	if len(got) != 3 {
		t.Fatalf("recorded %d listings, want 3: %+v", len(got), got)
	}
	if p := got[2]; p.How != client.Started || p.Err != "" || p.Numbers != 1 || p.Unhealthy != 1 || p.Log != "msg=first\n" {
		t.Errorf("the shared listing: %+v", p)
	}
	if p := got[1]; p.HasLog || !strings.Contains(p.Err, "deadline") {
		t.Errorf("the scrape that stopped waiting: %+v", p)
	}
	if p := got[0]; p.Err != "503" || !p.HasLog {
		t.Errorf("the failed listing: %+v", p)
	}
	if f := e.Last().Failing; f == nil || len(f.Numbers) != 1 || !f.At.Equal(scrapeTime) {
		t.Errorf("after a failed listing the record shows %+v, want the failing numbers of the last complete one", f)
	}
}

// The failing numbers kept across accounts are bounded: an account keeps
// what it holds, takes what the others leave, and always
// MinFailingPerAccount; a removed account gives its share back.
func TestFailingNumbersHaveAGlobalBound(t *testing.T) {
	list := func(n int) *FailingList {
		f := &FailingList{More: 7}
		for i := range n {
			f.Numbers = append(f.Numbers, FailingNumber{ID: fmt.Sprint(i)})
		}
		return f
	}
	h := NewHistory(8, 100).WithFailingInAll(150)
	a, b, c := h.Journal(), h.Journal(), h.Journal()
	if got := a.keepFailing(list(100)); len(got.Numbers) != 100 || got.More != 7 {
		t.Errorf("a keeps %d, more %d", len(got.Numbers), got.More)
	}
	if got := b.keepFailing(list(100)); len(got.Numbers) != 50 || got.More != 57 || got.Numbers[49].ID != "49" {
		t.Errorf("b keeps %d (more %d), want the 50 left, the worst first", len(got.Numbers), got.More)
	}
	if got := c.keepFailing(list(100)); len(got.Numbers) != MinFailingPerAccount {
		t.Errorf("c keeps %d, want the minimum %d", len(got.Numbers), MinFailingPerAccount)
	}
	if got := a.keepFailing(list(100)); len(got.Numbers) != 100 {
		t.Errorf("a's next listing keeps %d, want the 100 it held", len(got.Numbers))
	}
	a.Forget()
	if got := b.keepFailing(list(100)); len(got.Numbers) != 100 {
		t.Errorf("after a left, b keeps %d, want 100", len(got.Numbers))
	}
	if h.failingHeld != 110 {
		t.Errorf("held %d, want 110 (b 100, c 10)", h.failingHeld)
	}
}
