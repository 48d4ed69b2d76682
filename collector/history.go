package collector

import (
	"fmt"
	"sync"
	"time"

	"github.com/dasha-exporter/dasha_exporter/client"
)

// Defaults of the history of listings: each account's last
// DefaultListingsPerAccount listings, at most DefaultListingsInAll across
// accounts, each log at most MaxStoredLog bytes. At 2,000 listings of at
// most 16 KiB of log each, the history holds at most ~33 MiB.
const (
	DefaultListingsPerAccount = 8
	DefaultListingsInAll      = 2000
	MaxStoredLog              = 16 << 10
	// DefaultFailingInAll bounds the failing numbers the records of all
	// accounts keep for the page: 200 accounts' worth of MaxFailingKept.
	DefaultFailingInAll = 20000
	// MinFailingPerAccount are kept for every account whatever the
	// others hold.
	MinFailingPerAccount = 10
)

// History keeps the recent listings of every account, as
// blackbox_exporter keeps its recent probes: each account's last few
// (perAccount), and at most total in all, the oldest dropped first across
// accounts. A listing is stored once whoever got it (started, joined or
// reused from the cache), with a copy of its log cut to MaxStoredLog bytes.
//
// It also bounds the failing numbers the accounts' records keep
// (failingTotal, see Journal.keepFailing).
type History struct {
	perAccount, total int
	failingTotal      int

	mu          sync.Mutex
	nextID      uint64
	queue       []*Past // every stored listing in the order stored, oldest first; dropped ones are skipped and compacted away
	live        int     // listings of queue not dropped
	failingHeld int     // failing numbers the accounts' records hold
}

// Past is a stored listing: its record without the failing numbers, and
// its log.
type Past struct {
	ID        uint64 // unique within the History, from 1
	Time      time.Time
	Took      time.Duration
	Err       string
	Numbers   int
	Unhealthy int
	Requests  int
	How       client.How
	Log       string // the listing's log, cut to MaxStoredLog; "" when it kept none
	HasLog    bool   // the listing kept a log (a scrape that stopped waiting has none)

	owner   *Journal
	dropped bool
}

// NewHistory keeps perAccount listings per account (at least 1) and total
// in all (at least perAccount).
func NewHistory(perAccount, total int) *History {
	perAccount = max(perAccount, 1)
	return &History{perAccount: perAccount, total: max(total, perAccount), failingTotal: DefaultFailingInAll}
}

// WithFailingInAll sets the bound on the failing numbers kept across
// accounts (DefaultFailingInAll). Call it before the first listing.
func (h *History) WithFailingInAll(n int) *History {
	h.failingTotal = n
	return h
}

// Caps returns the listings kept per account and in all.
func (h *History) Caps() (perAccount, total int) { return h.perAccount, h.total }

// Journal returns a new account's part of the history.
func (h *History) Journal() *Journal { return &Journal{h: h} }

// Journal is one account's recent listings, newest last.
type Journal struct {
	h       *History
	recs    []*Past
	gone    bool // the account was removed: a probe still in flight stores nothing
	failing int  // failing numbers its record holds (see keepFailing)
}

// keepFailing bounds a new record's failing numbers by what the history
// has left: an account keeps what it held, takes what the others leave,
// and always MinFailingPerAccount. Those cut are counted in More.
func (j *Journal) keepFailing(f *FailingList) *FailingList {
	if j == nil || f == nil {
		return f
	}
	h := j.h
	h.mu.Lock()
	defer h.mu.Unlock()
	if j.gone {
		return f
	}
	left := h.failingTotal - (h.failingHeld - j.failing)
	keep := min(len(f.Numbers), max(left, j.failing, MinFailingPerAccount))
	h.failingHeld += keep - j.failing
	j.failing = keep
	if keep == len(f.Numbers) {
		return f
	}
	return &FailingList{Numbers: append([]FailingNumber(nil), f.Numbers[:keep]...), More: f.More + len(f.Numbers) - keep, At: f.At}
}

// add stores a record: the account's oldest goes beyond perAccount, the
// oldest of all beyond total.
func (j *Journal) add(r Record) {
	p := &Past{Time: r.Time, Took: r.Took, Err: r.Err, Numbers: r.Numbers, Unhealthy: r.Unhealthy, Requests: r.Requests, How: r.How, owner: j}
	if r.Log != nil {
		p.Log, p.HasLog = cutLog(r.Log.Text()), true
	}
	h := j.h
	h.mu.Lock()
	defer h.mu.Unlock()
	if j.gone {
		return
	}
	h.nextID++
	p.ID = h.nextID
	j.recs = append(j.recs, p)
	h.queue = append(h.queue, p)
	h.live++
	if len(j.recs) > h.perAccount {
		h.drop(j.recs[0])
	}
	for h.live > h.total {
		h.drop(h.oldest())
	}
	if len(h.queue) > 2*h.total {
		h.compact()
	}
}

// oldest returns the oldest listing not dropped, removing dropped ones
// from the queue's front. The oldest of all is its account's oldest.
func (h *History) oldest() *Past {
	for h.queue[0].dropped {
		h.queue[0] = nil
		h.queue = h.queue[1:]
	}
	return h.queue[0]
}

// drop removes a listing; it is its account's oldest.
func (h *History) drop(p *Past) {
	p.dropped = true
	h.live--
	j := p.owner
	j.recs[0] = nil
	j.recs = j.recs[1:]
}

// compact removes the dropped listings from the queue, which keeps it
// within 2×total whatever the accounts' pace.
func (h *History) compact() {
	q := make([]*Past, 0, h.live)
	for _, p := range h.queue {
		if !p.dropped {
			q = append(q, p)
		}
	}
	h.queue = q
}

// Forget drops the account's listings: it was removed.
func (j *Journal) Forget() {
	if j == nil {
		return
	}
	h := j.h
	h.mu.Lock()
	defer h.mu.Unlock()
	j.gone = true
	h.failingHeld -= j.failing
	j.failing = 0
	for len(j.recs) > 0 {
		h.drop(j.recs[0])
	}
}

// Recent returns the account's stored listings, newest first.
func (j *Journal) Recent() []Past {
	if j == nil {
		return nil
	}
	j.h.mu.Lock()
	defer j.h.mu.Unlock()
	out := make([]Past, len(j.recs))
	for i, p := range j.recs {
		out[len(out)-1-i] = *p
	}
	return out
}

// Get returns the account's stored listing id, if it is still kept.
func (j *Journal) Get(id uint64) (Past, bool) {
	if j == nil {
		return Past{}, false
	}
	j.h.mu.Lock()
	defer j.h.mu.Unlock()
	for _, p := range j.recs {
		if p.ID == id {
			return *p, true
		}
	}
	return Past{}, false
}

// cutLog keeps at most MaxStoredLog bytes of a listing's log, whole lines,
// and says how much was cut.
func cutLog(s string) string {
	if len(s) <= MaxStoredLog {
		return s
	}
	keep := MaxStoredLog
	for keep > 0 && s[keep-1] != '\n' {
		keep--
	}
	return s[:keep] + fmt.Sprintf("(the stored log keeps the first %d bytes; %d more were cut)\n", keep, len(s)-keep)
}
