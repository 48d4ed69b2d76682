package client

import (
	"context"
	"errors"
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
// flight, or starts one. A listing runs under the deadline of the scrape
// that started it; each caller still stops waiting at its own deadline. A
// caller whose joined listing ran out of its starter's time, while the
// caller itself has time left, starts a listing of its own.
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
			return nil, r.Err
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
}

// list runs one listing for whoever started it. It is detached from the
// starter's cancellation (other scrapes may be waiting) but keeps its
// deadline.
func (s *Shared) list(ctx context.Context) (*Listing, error) {
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
