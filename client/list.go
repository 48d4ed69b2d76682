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
		if errors.As(err, &shift) && shift.duplicates > 0 && previous != nil && previous.sameDuplicates(shift) {
			if shift.stale >= 0 {
				// A whole page of numbers seen before, twice alike: the
				// API does not page (it ignores skip), and the numbers
				// beyond the first pages were never seen.
				return nil, fmt.Errorf("the API does not page: the page at skip=%d holds only numbers of earlier pages, in two listings alike (%d distinct numbers of totalCount %d); does it ignore skip?",
					shift.stale*c.cfg.PageSize, len(shift.numbers), shift.total)
			}
			// Twice the same ids listed twice and the same count, and
			// every page brought new numbers: the API itself repeats
			// some ids, the list is not moving. Export each once.
			c.log.Warn("the API lists some numbers more than once; each is exported once", "numbers", len(shift.numbers), "total_count", shift.total)
			numbers, total, err = shift.numbers, shift.total, nil
		}
		if err == nil {
			// Only a complete listing teaches the next first round.
			c.lastTotal.Store(int64(total))
			return &Listing{Numbers: numbers, Requests: int(requests.Load()), Relists: attempt, Time: time.Now()}, nil
		}
		if shift == nil {
			return nil, err
		}
		if attempt+1 >= maxListings {
			return nil, fmt.Errorf("the list kept changing while it was paged (%d tries): %w", maxListings, err)
		}
		previous = shift
		c.log.Debug("list changed while paging; listing again", "reason", err)
	}
}

// shiftError says the list changed while it was being paged.
type shiftError struct {
	total  int
	reason string

	// When the pages held an id more than once: the distinct numbers and
	// how many repeats there were, to tell an API that repeats ids from a
	// list that moves; and the first page after the first one that held
	// no new number (-1 if none), to tell both from an API that ignores
	// skip.
	numbers    []PhoneNumber
	duplicates int
	stale      int
}

func (e *shiftError) Error() string { return e.reason }

// sameDuplicates reports whether two listings found the same repeats.
func (e *shiftError) sameDuplicates(o *shiftError) bool {
	if e.total != o.total || e.duplicates != o.duplicates || e.stale != o.stale || len(e.numbers) != len(o.numbers) {
		return false
	}
	for i := range e.numbers {
		if e.numbers[i].ID != o.numbers[i].ID {
			return false
		}
	}
	return true
}

// listOnce takes one pass over the pages and returns the distinct numbers
// and the totalCount they make up.
func (c *Client) listOnce(ctx context.Context, requests *atomic.Int64) ([]PhoneNumber, int, error) {
	take := c.cfg.PageSize
	guess := pagesFor(int(c.lastTotal.Load()), take)
	pages := make([]*page, guess)
	// The first round learns the total from page 0; until then each page
	// is judged on its own.
	if err := c.fetchPages(ctx, pages, 0, requests, nil); err != nil {
		return nil, 0, err
	}
	total := *pages[0].TotalCount
	for i, p := range pages {
		if err := judge(p, i, take, total); err != nil {
			return nil, 0, err
		}
	}
	if need := pagesFor(total, take); need > len(pages) {
		pages = append(pages, make([]*page, need-len(pages))...)
		check := func(i int, p *page) error { return judge(p, i, take, total) }
		if err := c.fetchPages(ctx, pages, guess, requests, check); err != nil {
			return nil, 0, err
		}
	}
	numbers, err := assemble(pages, total)
	return numbers, total, err
}

// pagesFor is how many pages of take hold total numbers (at least one).
func pagesFor(total, take int) int { return max(1, (total+take-1)/take) }

// judge checks page i against the listing's total: the count it reports
// and the number of items it should hold.
func judge(p *page, i, take, total int) error {
	if *p.TotalCount != total {
		return &shiftError{total: *p.TotalCount, reason: fmt.Sprintf("totalCount moved from %d to %d between pages", total, *p.TotalCount)}
	}
	if want := min(take, max(0, total-i*take)); len(p.Items) != want {
		return &shiftError{total: total, reason: fmt.Sprintf("page at skip=%d has %d items, want %d of totalCount %d", i*take, len(p.Items), want, total)}
	}
	return nil
}

// fetchPages fills pages[from:] concurrently; page i starts at skip
// i*take. check, if not nil, judges each page as it arrives: a page it
// refuses stops the round. It returns nil only when every page was
// fetched: when the deadline passes before a page is asked for, the error
// says so.
func (c *Client) fetchPages(ctx context.Context, pages []*page, from int, requests *atomic.Int64, check func(int, *page) error) error {
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
				pages[i] = p
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

// assemble de-duplicates judged pages by ID and checks that they add up to
// total.
func assemble(pages []*page, total int) ([]PhoneNumber, error) {
	n := 0
	for _, p := range pages {
		n += len(p.Items)
	}
	seen := make(map[string]struct{}, n)
	numbers := make([]PhoneNumber, 0, n)
	in := interner{}
	stale := -1
	for i, p := range pages {
		before := len(numbers)
		for _, item := range p.Items {
			if _, dup := seen[item.ID]; dup {
				continue
			}
			seen[item.ID] = struct{}{}
			in.number(&item)
			numbers = append(numbers, item)
		}
		if i > 0 && len(p.Items) > 0 && len(numbers) == before && stale < 0 {
			stale = i
		}
		p.Items = nil // let the page's copy go as soon as it is copied
	}
	if len(numbers) != total {
		// An item moved across a page boundary: one was seen twice, so
		// another one may have been missed. Or the API lists an id twice,
		// or ignores skip; List tells these apart by listing again.
		return nil, &shiftError{total: total, numbers: numbers, duplicates: total - len(numbers), stale: stale,
			reason: fmt.Sprintf("pages held %d distinct numbers, want totalCount %d", len(numbers), total)}
	}
	return numbers, nil
}

// interner shares one copy of the values that repeat across a fleet (the
// organisation, providers, agents, states, SIP answers, errors): the
// decoder allocates every one anew, and at 100,000 numbers the copies are
// megabytes of a listing that lives until the scrape is written.
type interner map[string]string

// maxInterned bounds the interner when a field turns out not to repeat.
const maxInterned = 4096

func (in interner) of(s string) string {
	if v, ok := in[s]; ok {
		return v
	}
	if len(in) < maxInterned {
		in[s] = s
	}
	return s
}

func (in interner) number(n *PhoneNumber) {
	n.OrgID = in.of(n.OrgID)
	n.ProviderID = in.of(n.ProviderID)
	n.IncomingCallsAgentID = in.of(n.IncomingCallsAgentID)
	if st := n.RegistrationStatus; st != nil {
		st.State = in.of(st.State)
		st.ErrorDescription = in.of(st.ErrorDescription)
		st.SIPResponseMessage = in.of(st.SIPResponseMessage)
	}
}
