package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
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
	redact  func(string) string // applied to each line of a listing's log

	group singleflight.Group

	mu       sync.Mutex
	cached   *outcome
	cachedAt time.Time
}

// How says how a caller got its listing.
type How string

const (
	Started How = "started" // the caller's own listing
	Joined  How = "joined"  // a listing in flight that another caller started
	Cached  How = "cached"  // a complete listing reused within the cache TTL
)

// Run is what one caller got from the shared listing: the listing or why
// there is none, the listing's own log, and how the caller came by it.
type Run struct {
	Listing *Listing
	Err     error
	Log     *ListingLog // the log of the listing, shared by all who got it
	How     How
}

// outcome is one listing and its log, as singleflight hands it to
// everyone who waited for it and the cache keeps it.
type outcome struct {
	listing *Listing
	log     *ListingLog
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

// WithRedact makes s pass each line of a listing's log through redact
// before it is stored (the key's every spelling). Call it before the first
// List.
func (s *Shared) WithRedact(redact func(string) string) *Shared {
	s.redact = redact
	return s
}

// List returns the listing of Run.
func (s *Shared) List(ctx context.Context) (*Listing, error) {
	r := s.Run(ctx)
	return r.Listing, r.Err
}

// Run returns a cached listing younger than the TTL, joins a listing in
// flight, or starts one. A listing runs under the deadline of the scrape
// that started it, and never longer than MaxListingTime; each caller still
// stops waiting at its own deadline. A caller whose joined listing ran out
// of its starter's time, while the caller itself has time left, starts a
// listing of its own.
func (s *Shared) Run(ctx context.Context) *Run {
	for {
		if o := s.fresh(); o != nil {
			return &Run{Listing: o.listing, Log: o.log, How: Cached}
		}
		var started atomic.Bool // set on singleflight's goroutine
		ch := s.group.DoChan("list", func() (any, error) {
			started.Store(true) // only the caller whose function runs gets here
			return s.list(ctx)
		})
		how := func() How {
			if started.Load() {
				return Started
			}
			return Joined
		}
		select {
		case r := <-ch:
			how := how()
			o, _ := r.Val.(*outcome)
			run := &Run{Err: r.Err, How: how}
			if o != nil {
				run.Listing, run.Log = o.listing, o.log
			}
			if r.Err == nil {
				return run
			}
			if errors.Is(r.Err, context.DeadlineExceeded) && ctx.Err() == nil && r.Shared && how == Joined {
				continue // another scrape's deadline, not ours
			}
			// Our own listing, under our own deadline or the cap:
			// listing again would only run into it again.
			run.Listing = nil
			return run
		case <-ctx.Done():
			// The listing goes on for those who wait for it; its log
			// is theirs.
			return &Run{Err: context.Cause(ctx), How: how()}
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
func (s *Shared) list(ctx context.Context) (o *outcome, err error) {
	o = &outcome{log: NewListingLog(s.redact)}
	var l *Listing
	defer func() { o.listing = l }()
	defer s.logPanic(o.log, &l, &err)
	defer recoverInto(&err) // runs first
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.maxTime)
	defer cancel()
	if dl, ok := ctx.Deadline(); ok {
		var cancelDeadline context.CancelFunc
		lctx, cancelDeadline = context.WithDeadline(lctx, dl)
		defer cancelDeadline()
	}
	l, err = s.next.List(withListingLog(lctx, o.log))
	if err == nil && s.ttl > 0 {
		s.mu.Lock()
		s.cached, s.cachedAt = &outcome{listing: l, log: o.log}, s.now()
		s.mu.Unlock()
	}
	return o, err
}

// logPanic logs a listing that panicked, here or in a page's goroutine,
// with the stack where it did, and makes sure it returns no listing.
func (s *Shared) logPanic(log *ListingLog, l **Listing, err *error) {
	var pe *panicError
	if errors.As(*err, &pe) {
		log.Logger(s.log).Error("BUG: the listing panicked; this listing fails, the exporter carries on", "panic", fmt.Sprint(pe.value), "stack", string(pe.stack))
		*l = nil
	}
}

// fresh returns the cached listing if it is younger than the TTL.
// Without a TTL nothing is cached.
func (s *Shared) fresh() *outcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cached != nil && s.now().Sub(s.cachedAt) < s.ttl {
		return s.cached
	}
	return nil
}
