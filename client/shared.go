package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// Lister lists the fleet.
type Lister interface {
	List(ctx context.Context) (*Listing, error)
}

// MaxListingTime caps every listing, whoever asked for it: no scrape
// header or flag may keep a shared listing, which later scrapes join,
// running longer. The /metrics handler clamps the scrape deadline to it.
const MaxListingTime = 2 * time.Minute

// Shared lets concurrent scrapes share one listing and, with a TTL, reuse a
// complete listing for a while (for HA Prometheus pairs scraping the same
// exporter). Failed listings are never cached.
type Shared struct {
	next    Lister
	ttl     time.Duration
	now     func() time.Time
	maxTime time.Duration // the cap of one listing: MaxListingTime
	log     *slog.Logger

	group singleflight.Group

	mu       sync.Mutex
	cached   *Listing
	cachedAt time.Time
}

// NewShared wraps next. ttl 0 turns the cache off; concurrent scrapes still
// share the listing in flight.
func NewShared(next Lister, ttl time.Duration) *Shared {
	return &Shared{next: next, ttl: ttl, now: time.Now, maxTime: MaxListingTime, log: slog.New(slog.DiscardHandler)}
}

// WithLogger makes s log a listing that panicked (a bug) with its stack.
// Call it before the first List.
func (s *Shared) WithLogger(l *slog.Logger) *Shared {
	if l != nil {
		s.log = l
	}
	return s
}

// List returns a cached listing younger than the TTL, joins a listing in
// flight, or starts one. A listing runs under the deadline of the scrape
// that started it, and never longer than MaxListingTime; each caller still
// stops waiting at its own deadline. A caller whose joined listing ran out
// of its starter's time, while the caller itself has time left, starts a
// listing of its own.
func (s *Shared) List(ctx context.Context) (*Listing, error) {
	for {
		if l := s.fresh(); l != nil {
			return l, nil
		}
		ch := s.group.DoChan("list", func() (any, error) { return s.list(ctx) })
		select {
		case r := <-ch:
			if r.Err == nil {
				return r.Val.(*Listing), nil
			}
			if errors.Is(r.Err, context.DeadlineExceeded) && ctx.Err() == nil && r.Shared {
				continue // another scrape's deadline, not ours
			}
			// Not shared: our own listing, under our own deadline or
			// the cap. Listing again would only run into it again.
			return nil, r.Err
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
}

// list runs one listing for whoever started it. It is detached from the
// starter's cancellation (other scrapes may be waiting) but keeps its
// deadline, capped at s.maxTime.
//
// singleflight re-panics a panic of the listing on a goroutine of its own,
// where nothing can recover it: a bug would take the exporter down. So a
// panic is turned into a failed listing here and logged with its stack.
func (s *Shared) list(ctx context.Context) (l *Listing, err error) {
	defer s.logPanic(&l, &err)
	defer recoverInto(&err) // runs first
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.maxTime)
	defer cancel()
	if dl, ok := ctx.Deadline(); ok {
		var cancelDeadline context.CancelFunc
		lctx, cancelDeadline = context.WithDeadline(lctx, dl)
		defer cancelDeadline()
	}
	l, err = s.next.List(lctx)
	if err == nil && s.ttl > 0 {
		s.mu.Lock()
		s.cached, s.cachedAt = l, s.now()
		s.mu.Unlock()
	}
	return l, err
}

// logPanic logs a listing that panicked, here or in a page's goroutine,
// with the stack where it did, and makes sure it returns no listing.
func (s *Shared) logPanic(l **Listing, err *error) {
	var pe *panicError
	if errors.As(*err, &pe) {
		s.log.Error("BUG: the listing panicked; this listing fails, the exporter carries on", "panic", fmt.Sprint(pe.value), "stack", string(pe.stack))
		*l = nil
	}
}

// fresh returns the cached listing if it is younger than the TTL.
func (s *Shared) fresh() *Listing {
	if s.ttl <= 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cached != nil && s.now().Sub(s.cachedAt) < s.ttl {
		return s.cached
	}
	return nil
}
