package client

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// List fetches every page under ctx's deadline and returns the fleet, or an
// error: never a partial fleet.
//
// The first round asks for as many pages as the last complete listing had
// (one page the first time); the rest are fetched cfg.Concurrency at a
// time. Every page is judged as it arrives: its totalCount must be
// believable and equal to the first page's, and it must hold as many items
// as that count leaves for it. If not, the list shifted while it was paged
// and is taken again.
func (c *Client) List(ctx context.Context) (*Listing, error) {
	var requests atomic.Int64
	var previous *shiftError
	for attempt := 0; ; attempt++ {
		numbers, total, err := c.listOnce(ctx, &requests)
		var shift *shiftError
		if errors.As(err, &shift) && previous != nil && previous.sameDuplicates(shift) {
			if shift.stale != noStalePage {
				// A whole page of numbers seen before, twice alike: the
				// API does not page (it ignores skip), and the numbers
				// beyond the first pages were never seen.
				return nil, fmt.Errorf("the API does not page: the page at skip=%d holds only numbers of earlier pages, in two listings alike (%d distinct numbers of totalCount %d); does it ignore skip?",
					shift.stale*c.cfg.PageSize, shift.numbers.Len(), shift.total)
			}
			// Twice the same ids listed twice and the same count, and
			// every page brought new numbers: the API itself repeats
			// some ids, the list is not moving. Export each once.
			c.logger(ctx).Warn("the API lists some numbers more than once; each is exported once", "numbers", shift.numbers.Len(), "total_count", shift.total)
			numbers, total, err = shift.numbers, shift.total, nil
		}
		if err == nil {
			// Only a complete listing teaches the next first round.
			c.lastTotal.Store(int64(total))
			numbers.Requests, numbers.Relists, numbers.Time = int(requests.Load()), attempt, time.Now()
			return numbers, nil
		}
		if shift == nil {
			return nil, err
		}
		if attempt+1 >= maxListings {
			return nil, fmt.Errorf("the list kept changing while it was paged (%d tries): %w", maxListings, err)
		}
		previous = shift
		c.logger(ctx).Debug("list changed while paging; listing again", "reason", err)
	}
}

// shiftError says the list changed while it was being paged.
type shiftError struct {
	total  int
	reason string

	// When the pages held an id more than once (nil otherwise): the
	// distinct numbers, to tell an API that repeats ids from a list that
	// moves; and the first page that held no new number (noStalePage if
	// none), to tell both from an API that ignores skip.
	numbers *Listing
	stale   int
}

// noStalePage is shiftError.stale when every page brought a new number.
const noStalePage = -1

func (e *shiftError) Error() string { return e.reason }

// sameDuplicates reports whether two listings found the same repeats: the
// same distinct ids (so as many repeats) of the same total.
func (e *shiftError) sameDuplicates(o *shiftError) bool {
	return e.numbers != nil && o.numbers != nil && e.total == o.total && e.stale == o.stale && e.numbers.sameIDs(o.numbers)
}

// listOnce takes one pass over the pages and returns the distinct numbers
// and the totalCount they make up.
func (c *Client) listOnce(ctx context.Context, requests *atomic.Int64) (*Listing, int, error) {
	take := c.cfg.PageSize
	guess := pagesFor(int(c.lastTotal.Load()), take)
	pages := make([]*fetched, guess)
	// The first round learns the total from page 0; until then each page
	// is judged on its own.
	if err := c.fetchPages(ctx, pages, 0, requests, nil); err != nil {
		return nil, 0, err
	}
	total := pages[0].total
	for i, p := range pages {
		if err := judge(len(p.block.recs), p.total, i, take, total); err != nil {
			return nil, 0, err
		}
	}
	// The pages the guess left out, if any (the guess may also have asked
	// for more: those past the total held no items, as judged).
	pages = append(pages, make([]*fetched, max(pagesFor(total, take)-len(pages), 0))...)
	check := func(i int, p *page) error { return judge(len(p.Items), *p.TotalCount, i, take, total) }
	if err := c.fetchPages(ctx, pages, guess, requests, check); err != nil {
		return nil, 0, err
	}
	numbers, err := assemble(pages, total)
	return numbers, total, err
}

// fetched is a page that was fetched and parsed, its numbers held
// compactly: the decoded page goes back at once.
type fetched struct {
	total int // its totalCount
	block *block
}

// pagesFor is how many pages of take hold total numbers (at least one).
func pagesFor(total, take int) int { return max(1, (total+take-1)/take) }

// judge checks page i, of items numbers and totalCount pageTotal, against
// the listing's total: the count it reports and the number of items it
// should hold.
func judge(items, pageTotal, i, take, total int) error {
	if pageTotal != total {
		return &shiftError{total: pageTotal, reason: fmt.Sprintf("totalCount moved from %d to %d between pages", total, pageTotal)}
	}
	if want := min(take, max(0, total-i*take)); items != want {
		return &shiftError{total: total, reason: fmt.Sprintf("page at skip=%d has %d items, want %d of totalCount %d", i*take, items, want, total)}
	}
	return nil
}

// fetchPages fills pages[from:] concurrently; page i starts at skip
// i*take. check, if not nil, judges each page as it arrives: a page it
// refuses stops the round. It returns nil only when every page was
// fetched: when the deadline passes before a page is asked for, the error
// says so.
func (c *Client) fetchPages(ctx context.Context, pages []*fetched, from int, requests *atomic.Int64, check func(int, *page) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.cfg.Concurrency)
	for i := from; i < len(pages); i++ {
		if gctx.Err() != nil {
			break // a page failed or the deadline passed: send no more
		}
		g.Go(func() (err error) {
			defer recoverInto(&err)
			if gctx.Err() != nil {
				// Waited for a slot while another page failed or the
				// deadline passed.
				return c.notAskedFor(i, gctx)
			}
			p, err := c.fetchPage(gctx, i*c.cfg.PageSize, requests)
			if err == nil && check != nil {
				err = check(i, p)
			}
			if err == nil {
				pages[i] = &fetched{total: *p.TotalCount, block: newBlock(p.Items, p.escapedIDs)}
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for i := from; i < len(pages); i++ {
		if pages[i] == nil {
			return c.notAskedFor(i, ctx)
		}
	}
	return nil
}

// notAskedFor is the error of page i, never asked for because ctx ended.
func (c *Client) notAskedFor(i int, ctx context.Context) error {
	return fmt.Errorf("stopped before the page at skip=%d was asked for: %w", i*c.cfg.PageSize, cmp.Or(context.Cause(ctx), errNotFetched))
}

// errNotFetched stands for a page left out without a cause; it cannot
// happen while fetchPages stops only for the context.
var errNotFetched = errors.New("the page was not fetched")

// panicError is a panic turned into an error, with the stack where it
// happened.
type panicError struct {
	value any
	stack []byte
}

func (e *panicError) Error() string { return fmt.Sprintf("internal error (a bug): %v", e.value) }

// recoverInto turns a panic of the calling goroutine into *err. It is a
// last line of defence: a bug costs one listing, not the process.
func recoverInto(err *error) {
	if v := recover(); v != nil {
		*err = &panicError{value: v, stack: debug.Stack()}
	}
}

// assemble de-duplicates judged pages by id and checks that they add up to
// total. It fails when two different ids would export the same id label
// (see escapedID).
func assemble(pages []*fetched, total int) (*Listing, error) {
	seen := newIDSet(pages)
	blocks := make([]*block, len(pages))
	kept, stale := 0, noStalePage
	for i, p := range pages {
		b := p.block
		recs := b.recs[:0]
		for j := range b.recs {
			dup, err := seen.add(b, &b.recs[j])
			if err != nil {
				return nil, err
			}
			if !dup {
				recs = append(recs, b.recs[j])
			}
		}
		// Page 0 always keeps its first number: it is never stale.
		if len(b.recs) > 0 && len(recs) == 0 && stale == noStalePage {
			stale = i
		}
		b.recs = recs
		kept += len(recs)
		blocks[i] = b
	}
	numbers := newListing(blocks)
	if kept != total {
		// An item moved across a page boundary: one was seen twice, so
		// another one may have been missed. Or the API lists an id twice,
		// or ignores skip; List tells these apart by listing again.
		return nil, &shiftError{total: total, numbers: numbers, stale: stale,
			reason: fmt.Sprintf("pages held %d distinct numbers, want totalCount %d", kept, total)}
	}
	return numbers, nil
}
