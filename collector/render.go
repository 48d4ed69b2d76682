package collector

import (
	"bufio"
	"sync"
	"time"

	"github.com/dasha-exporter/dasha_exporter/client"
)

// Render once where answers share a listing.
//
// Answers that waited for one listing in flight share its completion time
// (Scrape.Time), so every family of their answers is the same text: the
// first answer that needs a family renders and compresses it into a
// segment, the others wait for it and copy it. An HA partner served from
// the cache (--dasha.cache-ttl) shares every family but the timed ones
// (expiry_seconds counts from its own scrape time); the per-scrape families
// (dasha_up, the exporter's own metrics) are always rendered per answer.
//
// A rendering is kept only while another answer can use it: answers that
// hold the listing and have not written a family yet, answers still
// waiting for a listing that began before it completed (they may get this
// one), or the cache's TTL for the newest listing. A lone scraper keeps
// nothing: it streams family by family, its memory bounded by one family's
// buffers, as before. Renderings are keyed by the listing; entries leave the
// map when the last answer ends and no other can come, no finalizers.

// renderings are an exporter's kept renderings, one per listing.
type renderings struct {
	mu      sync.Mutex
	keepFor time.Duration // the cache TTL: how long the newest listing may be served again
	stats   *RenderStats  // nil: not counted
	now     func() time.Time

	begun   uint64              // answers begun: the ticket of the last
	pending map[uint64]struct{} // answers still waiting for their listing
	kept    map[*client.Listing]*rendering
	newest  *client.Listing // the listing the cache may hold

	onRender func(family int) // tests: a family rendered into a kept segment
}

// rendering holds the segments of one listing's families.
type rendering struct {
	listing *client.Listing
	time    time.Time // the Scrape.Time its answers share
	created uint64    // renderings.begun when made: answers begun until then may still get it
	users   int       // answers holding it
	slots   []slot    // one per family
}

// slot is one family's segment of a rendering.
type slot struct {
	seg   *segment      // nil: not rendered, or dropped
	ready chan struct{} // non-nil while an answer renders it; closed when done
	need  int           // answers holding the rendering that have not written it yet
}

// KeepRenderingsFor tells the exporter how long its lister may serve a
// listing again (the cache TTL): the rendering of the newest listing is
// kept that long for an HA partner. Zero keeps renderings only for answers
// in flight. Call it before the first scrape.
func (e *Exporter) KeepRenderingsFor(ttl time.Duration) {
	e.renders.mu.Lock()
	e.renders.keepFor = ttl
	e.renders.mu.Unlock()
}

// listingEnd is when a scrape's listing ended: an answer that waited while
// the listing ran (it started it or joined it in flight) takes the
// listing's completion time, so all of them share one rendering; a listing
// served from the cache, or one without a time, counts from the answer's
// own end.
func listingEnd(l *client.Listing, start, end time.Time) time.Time {
	if l != nil && !l.Time.IsZero() && !l.Time.Before(start) && !l.Time.After(end) {
		return l.Time
	}
	return end
}

func (rs *renderings) clock() time.Time {
	if rs.now != nil {
		return rs.now()
	}
	return time.Now()
}

// answer is one answer's hold on the renderings: begun before its listing,
// attached to the listing's rendering once it has one, closed at its end.
type answer struct {
	rs      *renderings
	ticket  uint64
	pending bool
	r       *rendering // nil: no listing
	timed   bool       // its Scrape.Time is the rendering's: timed families are shared too
	next    int        // the first family it has not written
}

// begin starts an answer, before it asks for a listing.
func (rs *renderings) begin() *answer {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.begun++
	if rs.pending == nil {
		rs.pending = map[uint64]struct{}{}
	}
	rs.pending[rs.begun] = struct{}{}
	return &answer{rs: rs, ticket: rs.begun, pending: true}
}

// attach gives the answer its scrape: it stops waiting and, when the
// listing succeeded, holds the listing's rendering. Both in one step, so
// no segment is dropped between.
func (a *answer) attach(s *Scrape) {
	rs := a.rs
	rs.mu.Lock()
	defer rs.mu.Unlock()
	delete(rs.pending, a.ticket)
	a.pending = false
	if s.OK() {
		r := rs.kept[s.Listing]
		if r == nil {
			r = &rendering{listing: s.Listing, time: s.Time, created: rs.begun, slots: make([]slot, len(families))}
			if rs.kept == nil {
				rs.kept = map[*client.Listing]*rendering{}
			}
			rs.kept[s.Listing] = r
			if rs.newest == nil || !s.Listing.Time.Before(rs.newest.Time) {
				rs.newest = s.Listing
			}
			if rs.keepFor > 0 {
				// Drop it when the cache can no longer serve it, even if
				// no answer comes to notice.
				time.AfterFunc(rs.keepFor, rs.sweepNow)
			}
		}
		a.r, a.timed = r, s.Time.Equal(r.time)
		r.users++
		for i := range r.slots {
			if a.shares(i) {
				r.slots[i].need++
			}
		}
	}
	rs.sweep()
}

// shares reports whether family i of this answer is the rendering's.
func (a *answer) shares(i int) bool {
	return a.r != nil && (!families[i].timed || a.timed)
}

// writeFamily writes family i of s to out: from the kept rendering when
// another answer rendered it or may use it, else streamed for this answer
// alone.
func (a *answer) writeFamily(out answerWriter, s *Scrape, i int) error {
	write := func(w *bufio.Writer) error { return s.writeFamily(w, i) }
	if !a.shares(i) {
		a.next = i + 1
		a.rs.stats.countRendered()
		return out.stream(write)
	}
	seg := a.acquire(i, write)
	defer a.release(i)
	if seg == nil {
		a.rs.stats.countRendered()
		return out.stream(write)
	}
	return out.segment(seg)
}

// acquire returns family i's segment, rendering it if this answer is the
// first to need it, or waiting for the answer rendering it. It returns nil
// when no other answer can use the family: stream it instead.
func (a *answer) acquire(i int, write func(*bufio.Writer) error) *segment {
	rs, sl := a.rs, &a.r.slots[i]
	rs.mu.Lock()
	for sl.seg == nil && sl.ready != nil {
		ch := sl.ready
		rs.mu.Unlock()
		<-ch
		rs.mu.Lock()
	}
	if seg := sl.seg; seg != nil {
		rs.mu.Unlock()
		rs.stats.countShared()
		return seg
	}
	if sl.need <= 1 && !rs.keepable(a.r) {
		rs.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	sl.ready = ch
	rs.mu.Unlock()

	var seg *segment
	defer func() { // also when rendering panics: never leave others waiting
		rs.mu.Lock()
		sl.ready = nil
		close(ch)
		if seg != nil {
			sl.seg = seg
			rs.stats.addHeld(len(seg.deflated))
			if rs.onRender != nil {
				rs.onRender(i)
			}
		}
		rs.mu.Unlock()
	}()
	seg, _ = compressSegment(write) // into memory: it cannot fail
	rs.stats.countRendered()
	return seg
}

// release says the answer has written family i.
func (a *answer) release(i int) {
	rs := a.rs
	rs.mu.Lock()
	defer rs.mu.Unlock()
	a.next = i + 1
	sl := &a.r.slots[i]
	sl.need--
	if sl.need == 0 && !rs.keepable(a.r) {
		rs.drop(sl)
	}
}

// close ends the answer, written or cut short.
func (a *answer) close() {
	rs := a.rs
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if a.pending {
		delete(rs.pending, a.ticket)
		a.pending = false
	}
	if a.r != nil {
		for j := a.next; j < len(a.r.slots); j++ {
			if a.shares(j) {
				a.r.slots[j].need--
			}
		}
		a.r.users--
		a.r = nil
	}
	rs.sweep()
}

// keepable reports whether an answer that does not hold r yet may still
// use it: one that began before r was made and is still waiting for its
// listing, or an HA partner served from the cache.
func (rs *renderings) keepable(r *rendering) bool {
	if rs.keepFor > 0 && r.listing == rs.newest {
		taken := r.listing.Time
		if taken.IsZero() {
			taken = r.time
		}
		if rs.clock().Sub(taken) < rs.keepFor {
			return true
		}
	}
	for t := range rs.pending {
		if t <= r.created {
			return true
		}
	}
	return false
}

// sweep drops the segments no answer can use any more, and the renderings
// no answer holds or can come to.
func (rs *renderings) sweep() {
	for l, r := range rs.kept {
		if rs.keepable(r) {
			continue
		}
		for j := range r.slots {
			if r.slots[j].need == 0 {
				rs.drop(&r.slots[j])
			}
		}
		if r.users == 0 {
			delete(rs.kept, l)
			if rs.newest == l {
				rs.newest = nil
			}
		}
	}
}

func (rs *renderings) sweepNow() {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.sweep()
}

func (rs *renderings) drop(sl *slot) {
	if sl.seg != nil {
		rs.stats.addHeld(-len(sl.seg.deflated))
		sl.seg = nil
	}
}

// heldBytes is what the kept segments hold (tests).
func (rs *renderings) heldBytes() (n int, listings int) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for _, r := range rs.kept {
		for _, sl := range r.slots {
			if sl.seg != nil {
				n += len(sl.seg.deflated)
			}
		}
	}
	return n, len(rs.kept)
}
