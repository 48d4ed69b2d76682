package client

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// Lister lists the fleet.
type Lister interface {
	List(ctx context.Context) (*Listing, error)
}

// Shared lets concurrent scrapes share one listing and, with a TTL, reuse a
// complete listing for a while (for HA Prometheus pairs scraping the same
// exporter). Failed listings are never cached.
type Shared struct {
	next Lister
	ttl  time.Duration
	now  func() time.Time

	group singleflight.Group

	mu       sync.Mutex
	cached   *Listing
	cachedAt time.Time
}

// NewShared wraps next. ttl 0 turns the cache off; concurrent scrapes still
// share the listing in flight.
func NewShared(next Lister, ttl time.Duration) *Shared {
	return &Shared{next: next, ttl: ttl, now: time.Now}
}

// List returns a cached listing younger than the TTL, joins a listing in
// flight, or starts one. A listing that is joined runs under the deadline of
// the scrape that started it; each caller still stops waiting at its own
// deadline.
func (s *Shared) List(ctx context.Context) (*Listing, error) {
	if l := s.fresh(); l != nil {
		return l, nil
	}
	ch := s.group.DoChan("list", func() (any, error) {
		// Detach from the first caller's cancellation (another scrape may
		// be waiting) but keep its deadline.
		lctx := context.WithoutCancel(ctx)
		if dl, ok := ctx.Deadline(); ok {
			var cancel context.CancelFunc
			lctx, cancel = context.WithDeadline(lctx, dl)
			defer cancel()
		}
		l, err := s.next.List(lctx)
		if err == nil && s.ttl > 0 {
			s.mu.Lock()
			s.cached, s.cachedAt = l, s.now()
			s.mu.Unlock()
		}
		return l, err
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*Listing), nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
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
