package collector

import (
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/dasha-exporter/dasha_exporter/client"
)

// Defaults of the history of listings. Every account keeps the records
// of its last DefaultListingsPerAccount listings, whatever the number of
// accounts: a record is small (~200 bytes with its error text, which is
// cut to MaxStoredErr). What is big is the listings' logs: each is cut to
// MaxStoredLog, and all accounts' logs together to DefaultLogBytesInAll,
// the oldest logs dropped first across accounts (their records stay).
const (
	DefaultListingsPerAccount = 8
	DefaultLogBytesInAll      = 32 << 20
	MaxStoredLog              = 16 << 10
	MaxStoredErr              = 512
	// DefaultFailingInAll bounds the failing numbers the records of all
	// accounts keep for the page: 200 accounts' worth of MaxFailingKept.
	DefaultFailingInAll = 20000
	// MinFailingPerAccount are kept for every account whatever the
	// others hold.
	MinFailingPerAccount = 10
)

// History keeps the recent listings of every account, as
// blackbox_exporter keeps its recent probes: each account's last few
// (perAccount) records, always; their logs up to logBytesTotal bytes in
// all, the oldest logs dropped first across accounts. A listing is stored
// once whoever got it (started, joined or reused from the cache), with a
// copy of its log cut to MaxStoredLog bytes.
//
// It also bounds the failing numbers the accounts' records keep
// (failingTotal, see Journal.keepFailing).
type History struct {
	perAccount    int
	logBytesTotal int
	failingTotal  int

	mu          sync.Mutex
	nextID      uint64
	logs        []*Past // the listings stored with a log, oldest first; those whose log went since are skipped and compacted away
	logsHeld    int     // listings of logs whose log is still held
	logBytes    int     // bytes of the logs held
	failingHeld int     // failing numbers the accounts' records hold
}

// Past is a stored listing: its record without the failing numbers, and
// its log while the history keeps it.
type Past struct {
	ID         uint64 // unique within the History, from 1
	Time       time.Time
	Took       time.Duration
	Err        string // cut to MaxStoredErr bytes
	Numbers    int
	Unhealthy  int
	Requests   int
	How        client.How
	Log        string // the listing's log, cut to MaxStoredLog; "" when it kept none or it was dropped
	HasLog     bool   // the listing kept a log (a scrape that stopped waiting has none)
	LogDropped bool   // its log was dropped to bound the logs' memory (see History)

	owner   *Journal
	holding bool // its log counts in logBytes
}

// NewHistory keeps perAccount listings per account (at least 1) and at
// most logBytesInAll bytes of their logs in all.
func NewHistory(perAccount, logBytesInAll int) *History {
	return &History{perAccount: max(perAccount, 1), logBytesTotal: max(logBytesInAll, 0), failingTotal: DefaultFailingInAll}
}

// WithFailingInAll sets the bound on the failing numbers kept across
// accounts (DefaultFailingInAll). Call it before the first listing.
func (h *History) WithFailingInAll(n int) *History {
	h.failingTotal = n
	return h
}

// Caps returns the listings kept per account and the bytes of logs kept
// in all.
func (h *History) Caps() (perAccount, logBytesInAll int) { return h.perAccount, h.logBytesTotal }

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

// add stores a record: the account's oldest goes beyond perAccount, and
// the oldest logs of all beyond logBytesTotal.
func (j *Journal) add(r Record) {
	p := &Past{Time: r.Time, Took: r.Took, Err: cutErr(r.Err), Numbers: r.Numbers, Unhealthy: r.Unhealthy, Requests: r.Requests, How: r.How, owner: j}
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
	if n := len(j.recs); n > 0 && j.recs[n-1].Err == p.Err {
		p.Err = j.recs[n-1].Err // a failure that repeats holds its text once
	}
	j.recs = append(j.recs, p)
	if len(j.recs) > h.perAccount {
		h.drop(j.recs[0])
	}
	if p.Log != "" {
		p.holding = true
		h.logs = append(h.logs, p)
		h.logsHeld++
		h.logBytes += len(p.Log)
	}
	for h.logBytes > h.logBytesTotal {
		h.dropOldestLog()
	}
	if len(h.logs) > 2*h.logsHeld+64 {
		h.compact()
	}
}

// dropOldestLog drops the oldest log held, across accounts, to bound the
// logs' memory; its record stays, saying so.
func (h *History) dropOldestLog() {
	for !h.logs[0].holding {
		h.logs[0] = nil
		h.logs = h.logs[1:]
	}
	p := h.logs[0]
	h.logs[0] = nil
	h.logs = h.logs[1:]
	h.release(p)
	p.Log, p.LogDropped = "", true
}

// release stops counting p's log.
func (h *History) release(p *Past) {
	if p.holding {
		p.holding = false
		h.logsHeld--
		h.logBytes -= len(p.Log)
	}
}

// drop removes a listing, log and record; it is its account's oldest.
func (h *History) drop(p *Past) {
	h.release(p)
	j := p.owner
	j.recs[0] = nil
	j.recs = j.recs[1:]
}

// compact removes from logs the listings whose log went with their
// record, which keeps it within twice the logs held whatever the
// accounts' pace.
func (h *History) compact() {
	q := make([]*Past, 0, h.logsHeld)
	for _, p := range h.logs {
		if p.holding {
			q = append(q, p)
		}
	}
	h.logs = q
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

// cutLog keeps at most MaxStoredLog bytes of a listing's log, whole lines
// and a line saying how much was cut, so that a stored log fits the
// allocator's 16 KiB size class exactly.
func cutLog(s string) string {
	if len(s) <= MaxStoredLog {
		return s
	}
	const cutLine = 80 // "(the stored log keeps … more were cut)\n" is at most ~70 bytes
	keep := MaxStoredLog - cutLine
	for keep > 0 && s[keep-1] != '\n' {
		keep--
	}
	return s[:keep] + fmt.Sprintf("(the stored log keeps the first %d bytes; %d more were cut)\n", keep, len(s)-keep)
}

// cutErr keeps at most MaxStoredErr bytes of an error text, whole UTF-8
// characters ending in "…", copied so that a long text is not held.
func cutErr(s string) string {
	if len(s) <= MaxStoredErr {
		return s
	}
	const more = "…"
	i := MaxStoredErr - len(more)
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + more
}
