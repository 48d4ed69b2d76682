package collector

import (
	"bufio"
	"io"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dasha-exporter/dasha_exporter/client"
)

// These tests drive the renderings directly, answer by answer, to pin down
// who may still use a rendering (and so keeps it) and when it is let go.

// holdListing is a listing taken at t.
func holdListing(t *testing.T, at time.Time) *client.Listing {
	l := *fixtureListing(t)
	l.Time = at
	return &l
}

func holdScrape(l *client.Listing, at time.Time) *Scrape {
	return &Scrape{Time: at, Listing: l, rules: newRules(DefaultStates, DefaultHealthyStates)}
}

// writeAll writes every family of s through a, as the handler does.
func writeAll(t *testing.T, a *answer, s *Scrape) {
	t.Helper()
	out := newPlainAnswer(io.Discard)
	for i := range families {
		if err := a.writeFamily(out, s, i); err != nil {
			t.Fatal(err)
		}
	}
	if err := out.close(); err != nil {
		t.Fatal(err)
	}
}

func counted(stats *RenderStats) (rendered, shared int) {
	return int(testutil.ToFloat64(stats.rendered)), int(testutil.ToFloat64(stats.shared))
}

// An answer begun before a listing completed may get that listing: the
// rendering is kept for it whether it began before or right after the
// answer that made the rendering (its ticket then equals the rendering's).
func TestAnswerBegunBeforeTheRenderingSharesIt(t *testing.T) {
	at := time.Now()
	l := holdListing(t, at)
	for _, order := range []string{"waiting answer begun first", "waiting answer begun last"} {
		t.Run(order, func(t *testing.T) {
			stats := NewRenderStats()
			rs := &renderings{stats: stats}
			var first, waiting *answer
			if order == "waiting answer begun first" {
				waiting, first = rs.begin(), rs.begin()
			} else {
				first, waiting = rs.begin(), rs.begin()
			}
			first.attach(holdScrape(l, at))
			writeAll(t, first, holdScrape(l, at))
			first.close()
			if n, _ := rs.heldBytes(); n == 0 {
				t.Fatal("nothing kept for the answer still waiting for its listing")
			}
			waiting.attach(holdScrape(l, at))
			writeAll(t, waiting, holdScrape(l, at))
			waiting.close()
			if rendered, shared := counted(stats); rendered != len(families) || shared != len(families) {
				t.Errorf("rendered %d, shared %d families; want each family rendered once and shared once (%d)", rendered, shared, len(families))
			}
			if n, kept := rs.heldBytes(); n != 0 || kept != 0 {
				t.Errorf("%d bytes of %d renderings kept after the last answer", n, kept)
			}
		})
	}
}

// An answer begun after the rendering was made asks for a listing of its
// own: nothing is kept for it.
func TestAnswerBegunAfterTheRenderingKeepsNothing(t *testing.T) {
	at := time.Now()
	l := holdListing(t, at)
	stats := NewRenderStats()
	rs := &renderings{stats: stats}
	first := rs.begin()
	first.attach(holdScrape(l, at))
	later := rs.begin()
	defer later.close()
	writeAll(t, first, holdScrape(l, at))
	if n, _ := rs.heldBytes(); n != 0 {
		t.Errorf("%d bytes kept for an answer begun after the listing completed", n)
	}
	first.close()
	if rendered, shared := counted(stats); rendered != len(families) || shared != 0 {
		t.Errorf("rendered %d, shared %d; want %d streamed, none shared", rendered, shared, len(families))
	}
}

// The newest listing's rendering is kept for the cache's TTL, and let go
// when the TTL ends even if no answer comes to notice.
func TestRenderingLetGoWhenTheCacheTTLEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const ttl = time.Minute
		at := time.Now()
		l := holdListing(t, at)
		stats := NewRenderStats()
		rs := &renderings{stats: stats, keepFor: ttl}
		a := rs.begin()
		a.attach(holdScrape(l, at))
		writeAll(t, a, holdScrape(l, at))
		a.close()
		if n, kept := rs.heldBytes(); n == 0 || kept != 1 {
			t.Fatalf("%d bytes of %d renderings kept for an HA partner, want one", n, kept)
		}
		time.Sleep(ttl - time.Second)
		synctest.Wait()
		if n, _ := rs.heldBytes(); n == 0 {
			t.Fatal("let go before the TTL ended")
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if n, kept := rs.heldBytes(); n != 0 || kept != 0 {
			t.Errorf("%d bytes of %d renderings kept after the TTL, with no answer", n, kept)
		}
		if got := testutil.ToFloat64(gaugeOf(stats)); got != 0 {
			t.Errorf("dasha_exporter_renderings_bytes %v after the TTL", got)
		}
	})
}

// At exactly the TTL the cache serves the listing no more (client.Shared:
// age < ttl), so its rendering is not kept then either.
func TestRenderingNotKeptAtExactlyTheTTL(t *testing.T) {
	const ttl = time.Minute
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	now := at
	l := holdListing(t, at)
	rs := &renderings{stats: NewRenderStats(), keepFor: ttl, now: func() time.Time { return now }}
	a := rs.begin()
	a.attach(holdScrape(l, at))
	writeAll(t, a, holdScrape(l, at))
	a.close()
	now = at.Add(ttl - time.Nanosecond)
	rs.sweepNow()
	if n, _ := rs.heldBytes(); n == 0 {
		t.Fatal("let go a nanosecond before the TTL")
	}
	now = at.Add(ttl)
	rs.sweepNow()
	if n, kept := rs.heldBytes(); n != 0 || kept != 0 {
		t.Errorf("%d bytes of %d renderings kept at exactly the TTL", n, kept)
	}
}

// With no TTL a rendering is kept only for answers in flight, whatever
// the listing's time: even one stamped ahead of the exporter's clock (a
// clock stepped back) is let go when its answer ends.
func TestNoTTLKeepsNothingForAListingAheadOfTheClock(t *testing.T) {
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	l := holdListing(t, at)
	rs := &renderings{stats: NewRenderStats(), now: func() time.Time { return at.Add(-time.Second) }}
	a := rs.begin()
	a.attach(holdScrape(l, at))
	writeAll(t, a, holdScrape(l, at))
	a.close()
	if n, kept := rs.heldBytes(); n != 0 || kept != 0 {
		t.Errorf("%d bytes of %d renderings kept with no TTL and no answer in flight", n, kept)
	}
}

// When an older listing's rendering goes, the newest one stays kept for
// the cache's TTL.
func TestNewestRenderingOutlivesAnOlderOne(t *testing.T) {
	const ttl = time.Minute
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	now := t0
	old, newer := holdListing(t, t0), holdListing(t, t0.Add(time.Second))
	stats := NewRenderStats()
	rs := &renderings{stats: stats, keepFor: ttl, now: func() time.Time { return now }}

	a := rs.begin()
	a.attach(holdScrape(old, old.Time))
	writeAll(t, a, holdScrape(old, old.Time))
	a.close()

	now = newer.Time
	b := rs.begin()
	b.attach(holdScrape(newer, newer.Time)) // the older rendering goes here
	writeAll(t, b, holdScrape(newer, newer.Time))
	b.close()
	if n, kept := rs.heldBytes(); n == 0 || kept != 1 {
		t.Fatalf("%d bytes of %d renderings kept, want the newest listing's", n, kept)
	}

	partner := rs.begin()
	partner.attach(holdScrape(newer, newer.Time))
	writeAll(t, partner, holdScrape(newer, newer.Time))
	partner.close()
	if _, shared := counted(stats); shared != len(families) {
		t.Errorf("the partner shared %d families, want all %d", shared, len(families))
	}
}

// An answer cut short, before or after its last shared family, gives back
// exactly the families it did not write: the other answer still copies the
// ones rendered for both, and nothing is kept afterwards.
func TestAnswerCutShortGivesBackWhatItDidNotWrite(t *testing.T) {
	at := time.Now()
	l := holdListing(t, at)
	expiry := -1
	for i, f := range families {
		if f.timed {
			expiry = i
		}
	}
	if expiry < 1 || families[expiry-1].timed {
		t.Fatal("the test needs a timed family after a shared one")
	}
	for _, tc := range []struct {
		name    string
		written int // families the cut answer writes before it ends
	}{
		{"before writing any family", 0},
		{"right after its timed family", expiry + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stats := NewRenderStats()
			rs := &renderings{stats: stats}
			holder, cut := rs.begin(), rs.begin()
			holder.attach(holdScrape(l, at))
			// The cut answer's own scrape time differs (a cached partner):
			// it shares every family but the timed ones.
			later := holdScrape(l, at.Add(time.Second))
			cut.attach(later)
			out := newPlainAnswer(io.Discard)
			for i := range tc.written {
				if err := cut.writeFamily(out, later, i); err != nil {
					t.Fatal(err)
				}
			}
			cut.close()

			writeAll(t, holder, holdScrape(l, at))
			holder.close()
			rendered, shared := counted(stats)
			wantShared := 0
			for i := range tc.written {
				if !families[i].timed {
					wantShared++
				}
			}
			if shared != wantShared || rendered != tc.written+len(families)-wantShared {
				t.Errorf("rendered %d, shared %d; want %d rendered, %d shared", rendered, shared, tc.written+len(families)-wantShared, wantShared)
			}
			if n, kept := rs.heldBytes(); n != 0 || kept != 0 {
				t.Errorf("%d bytes of %d renderings kept after both answers", n, kept)
			}
			if got := testutil.ToFloat64(gaugeOf(stats)); got != 0 {
				t.Errorf("dasha_exporter_renderings_bytes %v after both answers", got)
			}
		})
	}
}

// An answer that needs a family another answer is rendering waits for
// that rendering and copies it: a family is never rendered twice at once.
func TestAnswerWaitsForAFamilyBeingRendered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		at := time.Now()
		l := holdListing(t, at)
		rs := &renderings{stats: NewRenderStats()}
		first, second := rs.begin(), rs.begin()
		first.attach(holdScrape(l, at))
		second.attach(holdScrape(l, at))
		defer first.close()
		defer second.close()

		release := make(chan struct{})
		var firstSeg, secondSeg *segment
		go func() {
			firstSeg = first.acquire(0, func(w *bufio.Writer) error {
				<-release // still rendering when the second answer asks
				_, err := w.WriteString("family 0\n")
				return err
			})
		}()
		synctest.Wait()
		renderedAgain := false
		go func() {
			secondSeg = second.acquire(0, func(w *bufio.Writer) error {
				renderedAgain = true
				return nil
			})
		}()
		synctest.Wait()
		close(release)
		synctest.Wait()
		if renderedAgain || firstSeg == nil || secondSeg != firstSeg {
			t.Errorf("rendered again %v, same segment %v; want the second answer to wait and copy", renderedAgain, firstSeg != nil && secondSeg == firstSeg)
		}
		first.release(0)
		second.release(0)
	})
}
