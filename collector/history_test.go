package collector

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/dasha-exporter/dasha_exporter/client"
)

func ids(ps []Past) string {
	var s []string
	for _, p := range ps {
		s = append(s, fmt.Sprint(p.ID))
	}
	return strings.Join(s, " ")
}

// withLog is a record whose listing logged n bytes (whole lines of 100).
func withLog(n int) Record {
	log := client.NewListingLog(nil)
	line := strings.Repeat("x", 99) + "\n"
	for range n / 100 {
		log.Write([]byte(line))
	}
	return Record{Log: log}
}

// Each account keeps its last perAccount listings, whatever the others
// do; a removed account's go.
func TestHistoryCaps(t *testing.T) {
	h := NewHistory(3, 1<<20)
	a, b := h.Journal(), h.Journal()
	for range 4 {
		a.add(Record{})
	}
	if got := ids(a.Recent()); got != "4 3 2" {
		t.Fatalf("a keeps %s, want 4 3 2 (newest first, 3 per account)", got)
	}
	for range 5 {
		b.add(Record{}) // 5 to 9
	}
	if got := ids(a.Recent()); got != "4 3 2" {
		t.Errorf("a keeps %s after b listed, want 4 3 2", got)
	}
	if got := ids(b.Recent()); got != "9 8 7" {
		t.Errorf("b keeps %s, want 9 8 7", got)
	}
	if _, ok := a.Get(1); ok {
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
	b.add(Record{})
	if len(b.Recent()) != 0 {
		t.Error("a removed account's probe in flight stored a listing")
	}
	for range 3 {
		a.add(Record{})
	}
	if got := ids(a.Recent()); got != "12 11 10" {
		t.Errorf("after b left, a keeps %s", got)
	}
}

// The records are cheap, so every account keeps its last 8 whatever the
// number of accounts: at 10,000 accounts all 80,000 are kept (the old
// global cap of 2,000 listings left most accounts with none).
func TestTenThousandAccountsKeepTheirListings(t *testing.T) {
	h := NewHistory(DefaultListingsPerAccount, DefaultLogBytesInAll)
	js := make([]*Journal, 10000)
	for i := range js {
		js[i] = h.Journal()
	}
	for range DefaultListingsPerAccount + 2 {
		for _, j := range js {
			j.add(Record{})
		}
	}
	for i, j := range js {
		if got := j.Recent(); len(got) != DefaultListingsPerAccount || got[0].ID != uint64(9*10000+i+1) {
			t.Fatalf("account %d keeps %d listings, the newest %d", i, len(got), got[0].ID)
		}
	}
}

// The logs of all accounts are bounded in bytes: beyond the cap the
// oldest logs go first, across accounts, and their records stay, saying
// so. A listing dropped from its account, or a removed account, gives its
// log's bytes back.
func TestLogBytesCapDropsTheOldestLogsFirst(t *testing.T) {
	const logSize = 1000
	h := NewHistory(3, 3500)
	a, b := h.Journal(), h.Journal()
	check := func(step string) {
		t.Helper()
		if h.logBytes > 3500 {
			t.Fatalf("%s: the logs hold %d bytes, beyond the cap of 3500", step, h.logBytes)
		}
	}
	a.add(withLog(logSize)) // 1
	b.add(withLog(logSize)) // 2
	a.add(withLog(logSize)) // 3
	check("3 logs")
	b.add(withLog(logSize)) // 4: 1's log goes
	check("4 logs")
	b.add(Record{})         // 5: no log
	a.add(withLog(logSize)) // 6: 2's log goes
	check("5 logs")
	logs := func(j *Journal) string {
		var s []string
		for _, p := range j.Recent() {
			switch {
			case p.LogDropped:
				s = append(s, fmt.Sprintf("%d:dropped", p.ID))
			case len(p.Log) == logSize:
				s = append(s, fmt.Sprintf("%d:log", p.ID))
			default:
				s = append(s, fmt.Sprintf("%d:none", p.ID))
			}
		}
		return strings.Join(s, " ")
	}
	if got := logs(a); got != "6:log 3:log 1:dropped" {
		t.Errorf("a holds %s", got)
	}
	if got := logs(b); got != "5:none 4:log 2:dropped" {
		t.Errorf("b holds %s", got)
	}
	if p, ok := a.Get(1); !ok || !p.LogDropped || !p.HasLog || p.Log != "" {
		t.Errorf("a's listing 1: %+v %v, want its record without its log", p, ok)
	}
	a.add(Record{}) // 7: a's 1 goes, its log already did
	a.add(Record{}) // 8: a's 3 goes with its log
	if h.logBytes != 2*logSize {
		t.Errorf("the logs hold %d bytes, want 4's and 6's", h.logBytes)
	}
	b.Forget()
	if h.logBytes != logSize || h.logsHeld != 1 {
		t.Errorf("after b left, %d logs of %d bytes are held, want 6's", h.logsHeld, h.logBytes)
	}
	h.Journal().add(withLog(3 * logSize)) // 9: a's 6 loses its log
	if got := logs(a); got != "8:none 7:none 6:dropped" || h.logBytes != 3*logSize {
		t.Errorf("a holds %s, %d bytes held", got, h.logBytes)
	}
}

// A log larger than the whole cap is dropped at once: the cap holds.
func TestLogLargerThanTheCap(t *testing.T) {
	h := NewHistory(2, 500)
	j := h.Journal()
	j.add(withLog(1000))
	if p := j.Recent()[0]; !p.LogDropped || h.logBytes != 0 || len(h.logs) != 0 {
		t.Errorf("%+v, %d bytes held", p, h.logBytes)
	}
}

// One busy account among quiet ones: the queue of logs stays within
// twice the logs held (and a constant).
func TestHistoryQueueStaysBounded(t *testing.T) {
	h := NewHistory(2, 1<<20)
	for range 4 {
		h.Journal().add(withLog(100))
	}
	busy := h.Journal()
	for range 1000 {
		busy.add(withLog(100))
	}
	if len(h.logs) > 2*6+64 || h.logsHeld != 6 || h.logBytes != 600 {
		t.Errorf("queue %d, held %d logs of %d bytes; want at most 76 and 6 of 600", len(h.logs), h.logsHeld, h.logBytes)
	}
}

// An error text is cut to MaxStoredErr bytes of valid UTF-8, and not
// held through a longer string.
func TestStoredErrIsBounded(t *testing.T) {
	h := NewHistory(2, 1<<20)
	j := h.Journal()
	long := strings.Repeat("é", 1000) // 2,000 bytes
	j.add(Record{Err: long})
	j.add(Record{Err: "503 Service Unavailable"})
	got := j.Recent()
	if e := got[1].Err; len(e) > MaxStoredErr || !utf8.ValidString(e) || !strings.HasSuffix(e, "é…") {
		t.Errorf("stored error: %d bytes, valid %v, ending %q", len(e), utf8.ValidString(e), e[len(e)-10:])
	}
	if unsafe.StringData(got[1].Err) == unsafe.StringData(long) {
		t.Error("the stored error shares the long text's memory")
	}
	if got[0].Err != "503 Service Unavailable" {
		t.Errorf("a short error became %q", got[0].Err)
	}
}

func TestStoredLogIsBounded(t *testing.T) {
	h := NewHistory(1, DefaultLogBytesInAll)
	j := h.Journal()
	j.add(withLog(30000))
	p := j.Recent()[0]
	if !p.HasLog || len(p.Log) > MaxStoredLog || !strings.HasSuffix(p.Log, "(the stored log keeps the first 16300 bytes; 13700 more were cut)\n") {
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

// The memory the history holds at 10,000 accounts × 8 listings, logged
// (not asserted: the figure depends on the Go version), as the README
// states it. A one-page listing logs one line, so that 80,000 logs fit
// in the cap; the worst case is every listing
// failed with an error beyond MaxStoredErr, each different, and a log
// beyond MaxStoredLog.
func TestHistoryMemoryAtTenThousandAccounts(t *testing.T) {
	onePage := client.NewListingLog(nil) // as a real one-page listing logs it, ~160 bytes
	onePage.Write([]byte(`time=2026-12-02T23:38:53.212Z level=DEBUG msg="API request" method=GET path="/api/v1/sip-phone-numbers?skip=0&take=1000" status=200 took=2.219362ms attempt=1` + "\n"))
	huge := withLog(MaxStoredLog + 1000).Log
	longErr := strings.Repeat("listing page 3: 503 Service Unavailable; ", 20) // 800 bytes
	for _, c := range []struct {
		name     string
		rec      Record
		distinct bool // each listing's error differs from the one before
	}{
		{"one-page listings", Record{Numbers: 1000, Requests: 1, How: client.Started, Log: onePage}, false},
		{"every listing failed, the same error", Record{Err: longErr, Requests: 9, How: client.Started, Log: huge}, false},
		{"worst case", Record{Err: longErr, Requests: 9, How: client.Started, Log: huge}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := heapInUse()
			h := NewHistory(DefaultListingsPerAccount, DefaultLogBytesInAll)
			js := make([]*Journal, 10000) // as the accounts hold them
			for i := range js {
				j := h.Journal()
				js[i] = j
				for k := range DefaultListingsPerAccount {
					r := c.rec
					r.Time, r.Took = scrapeTime, time.Second
					if c.distinct {
						r.Err = fmt.Sprint(k, ": ", r.Err)
					}
					j.add(r)
				}
				if len(j.Recent()) != DefaultListingsPerAccount {
					t.Fatalf("an account keeps %d listings", len(j.Recent()))
				}
			}
			held := heapInUse() - before
			if h.logBytes > DefaultLogBytesInAll {
				t.Errorf("the logs hold %d bytes, beyond the cap", h.logBytes)
			}
			records := held - int64(h.logBytes)
			t.Logf("10,000 accounts × %d listings: heap held %.1f MiB: logs %.1f MiB (%d kept of %d), records %.1f MiB (%d bytes each)",
				DefaultListingsPerAccount, float64(held)/(1<<20), float64(h.logBytes)/(1<<20), h.logsHeld, 10000*DefaultListingsPerAccount,
				float64(records)/(1<<20), records/int64(10000*DefaultListingsPerAccount))
			runtime.KeepAlive(js)
		})
	}
}

func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// A failure that repeats holds its error text once per account.
func TestRepeatedErrorIsHeldOnce(t *testing.T) {
	j := NewHistory(8, 1<<20).Journal()
	for range 3 {
		j.add(Record{Err: strings.Clone("401 Unauthorized: the API key was refused")})
	}
	got := j.Recent()
	if unsafe.StringData(got[0].Err) != unsafe.StringData(got[2].Err) || got[0].Err != "401 Unauthorized: the API key was refused" {
		t.Errorf("a repeated error is held %q and %q apart", got[0].Err, got[2].Err)
	}
}

// Logs that fill the bound on all logs exactly are all kept: only a byte
// more drops the oldest.
func TestLogsFillingTheBoundExactlyAreKept(t *testing.T) {
	h := NewHistory(8, 300)
	j := h.Journal()
	for range 3 {
		j.add(withLog(100))
	}
	for _, p := range j.Recent() {
		if p.Log == "" || p.LogDropped {
			t.Fatalf("a log dropped with 300 bytes held under a bound of 300: %+v", p)
		}
	}
	j.add(withLog(100))
	if got := j.Recent(); !got[3].LogDropped || got[2].LogDropped {
		t.Errorf("past the bound: want only the oldest log dropped: %+v", got)
	}
}

// The index of the logs held keeps the listings whose log went with their
// record until they outnumber the held ones by more than 64 (twice the
// held, plus 64): then it is compacted, a copy amortized over those adds.
func TestLogIndexIsCompactedOnlyPastItsBound(t *testing.T) {
	h := NewHistory(1, 1<<20) // each add drops the previous record, and its log
	j := h.Journal()
	const bound = 2*1 + 64
	for range bound {
		j.add(withLog(100))
	}
	if len(h.logs) != bound || h.logsHeld != 1 {
		t.Fatalf("after %d adds the index holds %d, %d of them held; want %d, 1 held (not compacted yet)", bound, len(h.logs), h.logsHeld, bound)
	}
	j.add(withLog(100))
	if len(h.logs) != 1 || h.logs[0].Log == "" {
		t.Errorf("past its bound the index holds %d; want it compacted to the one log held", len(h.logs))
	}
}

// cutLog and cutErr keep a text at exactly their bound whole, and cut a
// longer one even when no line end or rune start leaves anything to keep.
func TestStoredTextsAtTheirBounds(t *testing.T) {
	log := strings.Repeat("x", MaxStoredLog-1) + "\n"
	if got := cutLog(log); got != log {
		t.Errorf("a log of exactly MaxStoredLog bytes was cut to %d bytes", len(got))
	}
	oneLine := strings.Repeat("x", MaxStoredLog+1) // no line end: no whole line fits
	if got, want := cutLog(oneLine), fmt.Sprintf("(the stored log keeps the first 0 bytes; %d more were cut)\n", len(oneLine)); got != want {
		t.Errorf("a single line over the bound became %q, want %q", got, want)
	}
	errText := strings.Repeat("e", MaxStoredErr)
	if got := cutErr(errText); got != errText {
		t.Errorf("an error of exactly MaxStoredErr bytes was cut to %q", got)
	}
	// Continuation bytes only (not UTF-8): no rune starts before the cut.
	if got := cutErr(strings.Repeat("\x80", MaxStoredErr+1)); got != "…" {
		t.Errorf("an error of continuation bytes became %q, want the ellipsis alone", got)
	}
}
