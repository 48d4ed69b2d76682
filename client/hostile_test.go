package client

// No header, flag or API answer may crash the exporter, stall it or
// leak the key. Each way an answer was found to do so has a regression test here
// (client side) or in collector/ and the main package; the deadline edges
// are exact inside testing/synctest bubbles.

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dasha-exporter/dasha_exporter/internal/fakeapi"
)

// ftDeadline is a context whose deadline passes when the test says so, at
// an exact point of the listing (between two rounds, say), which a clock
// cannot pick out: nothing blocks there.
//
// It implements AfterFunc so that contexts derived from it (errgroup's) end
// in the same step as expire: without it, package context ends them from a
// goroutine of its own, and a page could still be asked for in between.
type ftDeadline struct {
	done  chan struct{}
	once  sync.Once
	mu    sync.Mutex
	after []func()
}

func newFTDeadline() *ftDeadline { return &ftDeadline{done: make(chan struct{})} }

func (d *ftDeadline) Deadline() (time.Time, bool) { return time.Time{}, false }
func (d *ftDeadline) Done() <-chan struct{}       { return d.done }
func (d *ftDeadline) Value(any) any               { return nil }
func (d *ftDeadline) Err() error {
	select {
	case <-d.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}
func (d *ftDeadline) expire() {
	d.once.Do(func() {
		close(d.done)
		d.mu.Lock()
		after := d.after
		d.after = nil
		d.mu.Unlock()
		for _, f := range after {
			if f != nil {
				f()
			}
		}
	})
}

// AfterFunc arranges for f to run when the deadline passes, as
// context.AfterFunc does; package context uses it to end derived contexts.
func (d *ftDeadline) AfterFunc(f func()) (stop func() bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	select {
	case <-d.done:
		go f()
		return func() bool { return false }
	default:
	}
	i := len(d.after)
	d.after = append(d.after, f)
	return func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		if i < len(d.after) && d.after[i] != nil {
			d.after[i] = nil
			return true
		}
		return false
	}
}

// ftAfter wraps a transport: after answering the request for page (skip
// index) it calls then, before the client sees the answer. With nth > 1,
// only after the nth answer for that page.
type ftAfter struct {
	rt   http.RoundTripper
	take int
	page int
	then func()
	nth  int
	seen *atomic.Int64
}

func (a ftAfter) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := a.rt.RoundTrip(r)
	var skip int
	fmt.Sscan(r.URL.Query().Get("skip"), &skip)
	if err == nil && skip/a.take == a.page && (a.seen == nil || a.seen.Add(1) == int64(a.nth)) {
		a.then()
	}
	return resp, err
}

// Deadlines: the deadline passing at any edge of a listing fails that listing
// cleanly; no page that was not fetched is ever used (the exporter used to
// panic between rounds, inside singleflight, where nothing recovers).
func TestDeadlineBoundaries(t *testing.T) {
	for _, tc := range []struct {
		name string
		// arm sets up the fault; it returns the client to list with.
		arm  func(t *testing.T, fake *fakeapi.Server, d *ftDeadline) *Client
		want string // in the error
	}{
		{"before the first round", func(t *testing.T, fake *fakeapi.Server, d *ftDeadline) *Client {
			d.expire()
			return ftClient(t, "http://fake.invalid", ftHandlerTransport{fake}, nil)
		}, "stopped before the page at skip=0 was asked for"},
		{"between rounds: page one lands just before the deadline", func(t *testing.T, fake *fakeapi.Server, d *ftDeadline) *Client {
			// A new client guesses one page; 2500 numbers need three.
			return ftClient(t, "http://fake.invalid", ftAfter{rt: ftHandlerTransport{fake}, take: 1000, page: 0, then: d.expire}, nil)
		}, "stopped before the page at skip=1000 was asked for"},
		{"between rounds of a grown fleet", func(t *testing.T, fake *fakeapi.Server, d *ftDeadline) *Client {
			c := ftClient(t, "http://fake.invalid", ftAfter{rt: ftHandlerTransport{fake}, take: 1000, page: 0, then: d.expire}, nil)
			c.lastTotal.Store(1000) // learnt from a smaller fleet
			return c
		}, "stopped before the page at skip=1000 was asked for"},
		{"during the second round", func(t *testing.T, fake *fakeapi.Server, d *ftDeadline) *Client {
			return ftClient(t, "http://fake.invalid", ftAfter{rt: ftHandlerTransport{fake}, take: 1000, page: 1, then: d.expire}, func(cfg *Config) { cfg.Concurrency = 1 })
		}, "stopped before the page at skip=2000 was asked for"},
		{"before a re-list", func(t *testing.T, fake *fakeapi.Server, d *ftDeadline) *Client {
			// Page 1 reports a grown list: the listing must be taken
			// again, and the deadline passes right then.
			var once sync.Once
			fake.SetInterceptor(func(w http.ResponseWriter, r *http.Request, page int) bool {
				if page == 1 {
					once.Do(func() { fake.SetNumbers(append(fake.Numbers(), ftNumber(9999))) })
				}
				return false
			})
			return ftClient(t, "http://fake.invalid", ftAfter{rt: ftHandlerTransport{fake}, take: 1000, page: 1, then: d.expire}, func(cfg *Config) { cfg.Concurrency = 1 })
		}, "stopped before the page at skip=0 was asked for"},
		{"during a re-list, between its rounds", func(t *testing.T, fake *fakeapi.Server, d *ftDeadline) *Client {
			var once sync.Once
			fake.SetInterceptor(func(w http.ResponseWriter, r *http.Request, page int) bool {
				if page == 1 {
					once.Do(func() { fake.SetNumbers(append(fake.Numbers(), ftNumber(9999))) })
				}
				return false
			})
			// Page 0 answers a second time in the re-list's first round.
			return ftClient(t, "http://fake.invalid", ftAfter{ftHandlerTransport{fake}, 1000, 0, d.expire, 2, new(atomic.Int64)}, func(cfg *Config) { cfg.Concurrency = 1 })
		}, "stopped before the page at skip=1000 was asked for"},
		{"during a retry wait", func(t *testing.T, fake *fakeapi.Server, d *ftDeadline) *Client {
			ftFirstTimes(fake, 0, 1, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "5")
				w.WriteHeader(http.StatusTooManyRequests)
			})
			go func() {
				time.Sleep(2 * time.Second) // the client waits 5s to retry
				d.expire()
			}()
			return ftClient(t, "http://fake.invalid", ftHandlerTransport{fake}, nil)
		}, "gave up waiting to retry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, shared := range []bool{false, true} {
				synctest.Test(t, func(t *testing.T) {
					fake := fakeapi.New(ftKey, ftNumbers(2500))
					d := newFTDeadline()
					c := tc.arm(t, fake, d)
					var lister Lister = ftListerFunc(func(context.Context) (*Listing, error) { return c.List(d) })
					if shared {
						// Shared copies only a deadline, which ftDeadline has
						// not: list under it directly, inside the group.
						lister = NewShared(lister, 0)
					}
					l, err := lister.List(context.Background())
					if err == nil || l != nil {
						t.Fatalf("shared=%v: List = %v numbers, %v; want no listing and an error", shared, ftLen(l), err)
					}
					if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "deadline") || !strings.Contains(err.Error(), tc.want) {
						t.Errorf("shared=%v: error %q does not say the deadline passed (%s)", shared, err, tc.want)
					}
					// The client learnt nothing from the failed listing.
					fake.SetInterceptor(nil)
					fake.SetNumbers(ftNumbers(2500))
					l, err = c.List(t.Context())
					if err != nil {
						t.Fatal(err)
					}
					ftCheckListing(t, l, fake.Numbers())
				})
			}
		})
	}
}

type ftListerFunc func(context.Context) (*Listing, error)

func (f ftListerFunc) List(ctx context.Context) (*Listing, error) { return f(ctx) }

func ftLen(l *Listing) any {
	if l == nil {
		return "no"
	}
	return l.Len()
}

// Deadlines, with real timers: page one answers at every instant around the
// deadline; the listing is complete or fails cleanly.
func TestDeadlineAroundTheFirstPage(t *testing.T) {
	for _, lead := range []time.Duration{-time.Millisecond, 0, time.Nanosecond, time.Millisecond} {
		t.Run(fmt.Sprint(lead), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fake, c := ftMemClient(t, 2500, nil)
				s := NewShared(c, 0)
				fake.SetInterceptor(func(w http.ResponseWriter, r *http.Request, page int) bool {
					if page == 0 {
						time.Sleep(time.Second - lead)
					}
					return false
				})
				ctx, cancel := context.WithTimeout(t.Context(), time.Second)
				defer cancel()
				// Page one before the deadline: the rest of the listing
				// takes no time on the bubble's clock and completes.
				switch l, err := s.List(ctx); {
				case lead > 0 && err == nil:
					ftCheckListing(t, l, fake.Numbers())
				case err == nil || l != nil || !errors.Is(err, context.DeadlineExceeded):
					t.Errorf("List = %v, %v; want the deadline", ftLen(l), err)
				}
				time.Sleep(time.Second) // the fake's handler finishes its sleep
			})
		})
	}
}

// Panics, the last line of defence: a listing that panics fails with a log
// line and the stack, and the next listing works. A panic in a page's own
// goroutine (here the transport) is caught as well.
func TestSharedRecoversAPanic(t *testing.T) {
	for _, where := range []string{"listing", "page"} {
		t.Run(where, func(t *testing.T) {
			var logs bytes.Buffer
			var panics atomic.Int64
			panics.Store(1)
			fake := fakeapi.New(ftKey, ftNumbers(10))
			var lister Lister
			if where == "listing" {
				c := ftClient(t, "http://fake.invalid", ftHandlerTransport{fake}, nil)
				lister = ftListerFunc(func(ctx context.Context) (*Listing, error) {
					if panics.Add(-1) >= 0 {
						var p *page
						_ = *p.TotalCount // a nil page dereferenced: the crash this guards against
					}
					return c.List(ctx)
				})
			} else {
				lister = ftClient(t, "http://fake.invalid", ftPanicky{ftHandlerTransport{fake}, &panics}, nil)
			}
			s := NewShared(lister, 0).WithLogger(slog.New(slog.NewJSONHandler(&logs, nil)))
			l, err := s.List(t.Context())
			if err == nil || l != nil || !strings.Contains(err.Error(), "internal error") {
				t.Fatalf("List = %v, %v; want an internal error", ftLen(l), err)
			}
			if !strings.Contains(logs.String(), "panicked") || !strings.Contains(logs.String(), "goroutine") || !strings.Contains(logs.String(), "hostile_test.go") {
				t.Errorf("the log has no line with the stack:\n%s", logs.String())
			}
			l, err = s.List(t.Context())
			if err != nil {
				t.Fatalf("the next listing: %v", err)
			}
			ftCheckListing(t, l, fake.Numbers())
		})
	}
}

type ftPanicky struct {
	rt     http.RoundTripper
	panics *atomic.Int64
}

func (p ftPanicky) RoundTrip(r *http.Request) (*http.Response, error) {
	if p.panics.Add(-1) >= 0 {
		panic("transport bug")
	}
	return p.rt.RoundTrip(r)
}

// Far deadlines: a listing started with a far deadline (a hostile header, a
// flag) is capped, so the scrapes that join it are not stalled behind it;
// and a listing that fails at the cap is not started again for the same
// scrape (only a joiner whose starter ran out of time lists anew).
func TestSharedCapsAListing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, c := ftMemClient(t, 10, nil)
		fake.Latency = time.Hour // the API holds the request
		s := NewShared(c, 0)
		ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
		defer cancel()
		start := time.Now()
		_, err := s.List(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("List = %v, want the cap's deadline", err)
		}
		if d := time.Since(start); d != MaxListingTime {
			t.Errorf("the listing ran %v, want the cap of %v", d, MaxListingTime)
		}
		if n := fake.Requests(); n != 1 {
			t.Errorf("the fake saw %d requests: a listing that failed at the cap was started again", n)
		}
		// The API answers again: the next scrape starts a new listing.
		fake.Latency = 0
		l, err := s.List(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		ftCheckListing(t, l, fake.Numbers())
	})
}

// A listing this scrape started itself that fails with a deadline error
// while the scrape has time left is its answer, not a reason to list again.
func TestSharedOwnDeadlineErrorIsNotRetried(t *testing.T) {
	var calls atomic.Int64
	s := NewShared(ftListerFunc(func(context.Context) (*Listing, error) {
		if calls.Add(1) > 1 {
			return nil, errors.New("listed again")
		}
		return nil, fmt.Errorf("GET /x: %w", context.DeadlineExceeded)
	}), 0)
	_, err := s.List(t.Context())
	if !errors.Is(err, context.DeadlineExceeded) || calls.Load() != 1 {
		t.Errorf("List = %v after %d listings; want the first listing's deadline error", err, calls.Load())
	}
}

// Deadlines around a joiner: it arrives before the starter's deadline
// passes between rounds, or after, and gets the complete fleet either way.
func TestSharedJoinerAroundTheStartersDeadline(t *testing.T) {
	for _, joinAfter := range []time.Duration{500 * time.Millisecond, 1500 * time.Millisecond} {
		t.Run(fmt.Sprint(joinAfter), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fake, c := ftMemClient(t, 2500, nil)
				fake.Latency = 900 * time.Millisecond // page one lands 100ms before the deadline
				s := NewShared(c, 0)
				shortErr := make(chan error, 1)
				go func() {
					ctx, cancel := context.WithTimeout(context.Background(), time.Second)
					defer cancel()
					_, err := s.List(ctx)
					shortErr <- err
				}()
				time.Sleep(joinAfter)
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
				defer cancel()
				l, err := s.List(ctx)
				if err != nil {
					t.Fatalf("the joiner failed: %v", err)
				}
				ftCheckListing(t, l, fake.Numbers())
				if err := <-shortErr; !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("the starter returned %v, want its deadline", err)
				}
			})
		})
	}
}

// A poisoned totalCount: a later page's implausible totalCount fails or shifts that
// listing, and never teaches the next listing's first round.
func TestBadTotalCountDoesNotPoisonLaterListings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, c := ftMemClient(t, 2500, nil)
		// Every try of the first listing sees a page 1 that claims 9M.
		ftFirstTimes(fake, 1, maxListings, func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"items":[],"totalCount":9000000}`)
		})
		_, err := c.List(t.Context())
		ftWantErr(t, err, "kept changing", "totalCount moved from 2500 to 9000000")
		// Page 2 of a try may be cancelled by page 1's answer before it
		// is sent.
		if n := fake.Requests(); n > 3*maxListings || n < 2*maxListings {
			t.Errorf("the failed listing sent %d requests, want 2 or 3 per try", n)
		}
		// A listing that shifts and then succeeds teaches nothing from
		// the shift either.
		ftFirstTimes(fake, 1, 1, func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"items":[],"totalCount":9000000}`)
		})
		l, err := c.List(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		ftCheckListing(t, l, fake.Numbers())
		before := fake.Requests()
		if _, err := c.List(t.Context()); err != nil {
			t.Fatal(err)
		}
		if n := fake.Requests() - before; n != 3 {
			t.Errorf("the next listing sent %d requests, want the 3 pages of 2500 numbers", n)
		}
	})
}

func TestTotalCountJudgedOnEveryPage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, c := ftMemClient(t, 2500, nil)
		ftFirstTimes(fake, 2, 100, func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"items":[],"totalCount":2147483647}`)
		})
		_, err := c.List(t.Context())
		ftWantErr(t, err, "skip=2000", "totalCount 2147483647", "more than the 10000000")
		// Not retried, not relisted: page 1 may or may not have been sent
		// before page 2's answer cancelled the round.
		if n := fake.Requests(); n > 3 {
			t.Errorf("the fake saw %d requests, want at most 3", n)
		}
	})
}

// A lying first page: a first page claiming millions of numbers but holding few is
// judged before any more pages are asked for.
func TestFirstPageThatContradictsItsTotalCount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, c := ftMemClient(t, 5, nil)
		ftFirstTimes(fake, 0, 1000, func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"items":[{"id":"a"},{"id":"b"},{"id":"c"},{"id":"d"},{"id":"e"}],"totalCount":9999999}`)
		})
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		_, err := c.List(ctx)
		ftWantErr(t, err, "has 5 items, want 1000 of totalCount 9999999")
		if n := fake.Requests(); n != maxListings {
			t.Errorf("the fake saw %d requests, want one per try (%d)", n, maxListings)
		}
	})
}

// Paging ignored: an API that ignores skip answers every page with the first one.
// That is a partial fleet, never a success.
func TestAPIThatIgnoresSkipFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, c := ftMemClient(t, 15, func(cfg *Config) { cfg.PageSize = 5 })
		inner := fakeapi.New(ftKey, fake.Numbers())
		fake.SetInterceptor(func(w http.ResponseWriter, r *http.Request, page int) bool {
			q := r.URL.Query()
			q.Set("skip", "0") // ignored: every page is the first
			r.URL.RawQuery = q.Encode()
			inner.ServeHTTP(w, r)
			return true
		})
		l, err := c.List(t.Context())
		ftWantErr(t, err, "does not page", "skip=5", "5 distinct numbers of totalCount 15")
		if l != nil {
			t.Errorf("a partial fleet of %d numbers", l.Len())
		}
	})
}

// Repeated ids the API itself sends, with every page bringing new numbers,
// are still exported once each after a second listing confirms them.
func TestRepeatedIDsAcrossPagesAreExportedOnce(t *testing.T) {
	for _, guess := range []int64{0, 6} { // 6: a surplus empty page is asked for, and brings nothing new
		h, requests := rawPages(func(skip int) string {
			switch skip {
			case 0:
				return `{"items":[{"id":"a"},{"id":"b"}],"totalCount":4}`
			case 2:
				return `{"items":[{"id":"b"},{"id":"c"}],"totalCount":4}`
			}
			return `{"items":[],"totalCount":4}`
		})
		c, _, _ := newTestClient(t, h, func(cfg *Config) { cfg.PageSize = 2 })
		c.lastTotal.Store(guess)
		l, err := c.List(listCtx(t))
		if err != nil {
			t.Fatalf("guess %d: %v", guess, err)
		}
		if want := int64(pagesFor(int(max(guess, 4)), 2) * 2); l.Len() != 3 || requests.Load() != want {
			t.Errorf("guess %d: %d numbers after %d requests, want 3 after %d", guess, l.Len(), requests.Load(), want)
		}
	}
}

// A page after the first that holds fewer items than totalCount leaves it
// is named by its skip.
func TestShortPageIsNamed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, c := ftMemClient(t, 2500, nil)
		ftFirstTimes(fake, 2, 100, func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"items":[{"id":"x"},{"id":"y"},{"id":"z"}],"totalCount":2500}`)
		})
		_, err := c.List(t.Context())
		ftWantErr(t, err, "kept changing", "page at skip=2000 has 3 items, want 500 of totalCount 2500")
	})
}

// The key echoed, as a class: whichever text of an answer echoes the key, in
// whichever spelling, it reaches no error and no number.
func TestKeyEchoedAnywhereIsRedacted(t *testing.T) {
	const key = "sk-live-0123456789abcdefghijklmnopqrstuvwxyz+/0123456789abcdefghijklmnopq" // longer than the 64-byte excerpts
	for _, tc := range []struct {
		name   string
		answer func(w http.ResponseWriter)
	}{
		{"Location of a redirect", func(w http.ResponseWriter) {
			w.Header().Set("Location", "http://elsewhere.example/login?key="+key)
			w.WriteHeader(http.StatusFound)
		}},
		{"Location, query-escaped", func(w http.ResponseWriter) {
			w.Header().Set("Location", "http://elsewhere.example/login?key="+url.QueryEscape(key))
			w.WriteHeader(http.StatusMovedPermanently)
		}},
		{"Content-Type of a page that is not JSON", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/html; key="+key)
			fmt.Fprint(w, "<html>")
		}},
		{"ProblemDetails, JSON-escaped", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"title":"Forbidden","detail":"`+strings.ReplaceAll(key, "+", `\u002B`)+`"}`)
		}},
		{"a bad timestamp, cut to an excerpt", func(w http.ResponseWriter) {
			fmt.Fprint(w, `{"items":[{"id":"a","registrationStatus":{"expiresAt":"`+strings.ReplaceAll(key, "/", `\/`)+`"}}],"totalCount":1}`)
		}},
		{"the id of a bad item, cut to an excerpt", func(w http.ResponseWriter) {
			fmt.Fprint(w, `{"items":[{"id":"x`+strings.ReplaceAll(key, "/", `\/`)+`","registration":"yes"}],"totalCount":1}`)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { tc.answer(w) }), func(cfg *Config) { cfg.Key = StaticKey(key) })
			_, err := c.List(listCtx(t))
			if err == nil {
				t.Fatal("List succeeded")
			}
			if strings.Contains(err.Error(), key[:12]) {
				t.Errorf("the error shows the key: %q", err)
			}
			if !strings.Contains(err.Error(), "[REDACTED]") {
				t.Errorf("the error %q does not say what was redacted", err)
			}
			// The API error itself, for whoever takes it apart.
			if apiErr := (*APIError)(nil); errors.As(err, &apiErr) && strings.Contains(fmt.Sprintf("%+v", *apiErr), key[:12]) {
				t.Errorf("the APIError holds the key: %+v", *apiErr)
			}
		})
	}
	// A page that succeeds: the key in any field, raw or escaped, is
	// redacted before it can become a label.
	escaped := strings.ReplaceAll(strings.ReplaceAll(key, "+", `\u002B`), "/", `\/`)
	h, _ := rawPages(func(int) string {
		return `{"items":[{"id":"a","displayName":"` + key + `","phoneNumber":"` + escaped + `","orgId":"o` + escaped + `","providerId":"` + escaped + `",` +
			`"credentialsId":"` + escaped + `","incomingCallsAgentId":"` + escaped + `","registrationStatus":{"state":"` + escaped + `","errorDescription":"` + escaped + `","sipResponseMessage":"` + escaped + `"}}],"totalCount":1}`
	})
	c, _, _ := newTestClient(t, h, func(cfg *Config) { cfg.Key = StaticKey(key) })
	l, err := c.List(listCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("%+v %+v", l.At(0), *l.At(0).RegistrationStatus); strings.Contains(got, key[:12]) || strings.Count(got, "[REDACTED]") != 9 {
		t.Errorf("the number shows the key: %s", got)
	}
}

func TestRedactText(t *testing.T) {
	const key = "abcdefgh\"ij/kl+mn"
	for in, want := range map[string]string{
		"no key here":                          "no key here",
		"x " + key + " y":                      "x [REDACTED] y",
		`x abcdefgh\"ij/kl+mn y`:               "x [REDACTED] y",
		`x abcdefgh\u0022ij\/kl\u002bmn y`:     "x [REDACTED] y", // an encoder may escape any character
		`x abcdefgh\x22ij%2fkl\u002Bmn y`:      "x [REDACTED] y",
		`x abcdefgh\\u0022ij\\/kl+mn y`:        "x [REDACTED] y", // escaped twice: JSON inside JSON
		`x abcdefgh\u0022ij\/kl\u002bm… y`:     "x [REDACTED]… y",
		`x abcdefgh\u0022ij\/kl\u002bmN y`:     `x abcdefgh\u0022ij\/kl\u002bmN y`,
		"x abcdefgh%22ij%2Fkl%2Bmn y":          "x [REDACTED] y",
		"cut abcdefgh\"ij…":                    "cut [REDACTED]…",
		"cut abc… and abcd…":                   "cut abc… and [REDACTED]…",
		"…":                                    "…",
		"… then abcdefgh\"ij…":                 "… then [REDACTED]…",
		"twice " + key + key + " and abcdefg…": "twice [REDACTED][REDACTED] and [REDACTED]…",
	} {
		if got := RedactText(in, key); got != want {
			t.Errorf("RedactText(%q) = %q, want %q", in, got, want)
		}
	}
	if got := RedactText("anything", ""); got != "anything" {
		t.Errorf("no key: %q", got)
	}
	// JSON escapes <, > and & where Go's quoting does not.
	if got := RedactText(`key ab\u003ccd\u003eef\u0026gh, ab<cd>ef&gh`, "ab<cd>ef&gh"); got != "key [REDACTED], [REDACTED]" {
		t.Errorf("JSON-escaped: %q", got)
	}
}

// Tiny items: a page near the body limit made of tiny items is refused before
// decoding allocates them all (it used to cost ~150 bytes per item).
func TestHostilePageOfTinyItemsIsRefusedCheaply(t *testing.T) {
	var body bytes.Buffer
	body.WriteString(`{"totalCount":1,"items":[`)
	for body.Len() < int(maxPageBody)-16 {
		body.WriteString(`{},`)
	}
	body.WriteString(`{}]}`)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := decodePage(bytes.NewReader(body.Bytes()), -1, 1000, "")
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "more than the take=1000") {
		t.Fatalf("decodePage = %v", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16*uint64(maxPageBody) {
		t.Errorf("refusing the page allocated %d MB", alloc>>20)
	}
}

func TestCountItems(t *testing.T) {
	for body, want := range map[string]int{
		`{"items":[],"totalCount":0}`:                     0,
		`{"items":[ ],"totalCount":0}`:                    0,
		`{"items":[{"id":"a"}],"totalCount":1}`:           1,
		`{"items":[{"id":"a,b]"},{"x":[1,2,{}]}, null ]}`: 3,
		`{"items":[{"id":"\"],["}, 1,"x"]}`:               3,
		`{"items":[{"id":""},{"id":""},{"":""}]}`:         3,
		`{"items":["\\",{"a":"\\\"]"},[]]}`:               3,
		`{"a":{"b":[1,2,3]},"items":[1]}`:                 1,
		`[1,2,3]`:                                         0,
	} {
		if got := countItems([]byte(body)); got != want {
			t.Errorf("countItems(%s) = %d, want %d", body, got, want)
		}
	}
}

// Certificates: a certificate that fails verification fails again: one try.
func TestCertificateErrorsAreNotRetried(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(fakeapi.New(ftKey, ftNumbers(1)))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake errors are the point
	srv.Config.TLSConfig = &tls.Config{}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	c := ftClient(t, srv.URL, nil, nil) // does not trust the test CA
	_, err := c.List(listCtx(t))
	ftWantErr(t, err, "certificate")
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1: a certificate error is not retried", n)
	}
}

// Flaky API: with every other request answered 500, retries go on while the
// deadline allows: every scrape succeeds.
func TestEveryOtherRequestFailingStillLists(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, c := ftMemClient(t, 2500, nil)
		var n atomic.Int64
		fake.SetInterceptor(func(w http.ResponseWriter, r *http.Request, page int) bool {
			if n.Add(1)%2 == 0 {
				fakeapi.WriteProblem(w, http.StatusInternalServerError, "Internal Server Error", "")
				return true
			}
			return false
		})
		for scrape := range 10 {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			l, err := c.List(ctx)
			cancel()
			if err != nil {
				t.Fatalf("scrape %d: %v", scrape, err)
			}
			ftCheckListing(t, l, fake.Numbers())
			time.Sleep(15 * time.Second)
		}
	})
}

// A page that fails six times in a row is still fetched while the deadline
// allows (a fixed count of 4 tries used to give up with time to spare).
func TestRetriesRunUntilTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, c := ftMemClient(t, 10, nil)
		ftFirstTimes(fake, 0, 6, func(w http.ResponseWriter, r *http.Request) {
			fakeapi.WriteProblem(w, http.StatusServiceUnavailable, "Service Unavailable", "")
		})
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		l, err := c.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if l.Requests != 7 {
			t.Errorf("Requests = %d, want 7", l.Requests)
		}
	})
}

// Retries are bounded even without a deadline, and back off up to
// maxBackoff.
func TestBackoff(t *testing.T) {
	for attempt, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 6: 3200 * time.Millisecond, 7: maxBackoff, 60: maxBackoff} {
		if got := backoff(attempt); got != want {
			t.Errorf("backoff(%d) = %v, want %v", attempt, got, want)
		}
	}
}

// Requests the listing abandons (another page failed) are not API errors:
// only what the API answered is counted.
func TestAbandonedRequestsAreNotCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, c := ftMemClient(t, 2500, nil)
		c.lastTotal.Store(2500) // all three pages in the first round
		fake.SetInterceptor(func(w http.ResponseWriter, r *http.Request, page int) bool {
			if page == 0 {
				time.Sleep(time.Second)
				fakeapi.WriteProblem(w, http.StatusBadRequest, "Bad Request", "bad skip")
				return true
			}
			<-r.Context().Done() // pages 1 and 2 hang until abandoned
			return true
		})
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		_, err := c.List(ctx)
		ftWantErr(t, err, "400")
		m := c.cfg.Metrics
		if got := testutil.ToFloat64(m.Requests.WithLabelValues("400")); got != 1 {
			t.Errorf(`requests{code="400"} = %v, want 1`, got)
		}
		if got := testutil.ToFloat64(m.Requests.WithLabelValues("error")); got != 0 {
			t.Errorf(`requests{code="error"} = %v, want 0: the abandoned pages were counted`, got)
		}
	})
}

// readPage allocates once when the Content-Length is known, and never more
// than the limit when it is not (a body at the limit used to cost twice).
func TestReadPageBuffer(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 300<<10)
	buf, err := readPage(nil, bytes.NewReader(body), int64(len(body)))
	if err != nil || len(buf) != len(body) || cap(buf) != len(body)+1 {
		t.Errorf("known size: len %d cap %d, %v; want len %d cap %d", len(buf), cap(buf), err, len(body), len(body)+1)
	}
	endless := io.MultiReader(bytes.NewReader(body), bytes.NewReader(make([]byte, 2*maxPageBody)))
	buf, err = readPage(nil, endless, -1)
	if err != nil || len(buf) != int(maxPageBody)+1 || cap(buf) > int(maxPageBody)+1+4096 {
		t.Errorf("unknown size, over the limit: len %d cap %d, %v; want len %d and no more room", len(buf), cap(buf), err, maxPageBody+1)
	}
	// A pooled buffer larger than the limit is still read only to it.
	buf, err = readPage(make([]byte, 0, 2*maxPageBody), bytes.NewReader(make([]byte, 2*maxPageBody)), -1)
	if err != nil || len(buf) != int(maxPageBody)+1 {
		t.Errorf("big pooled buffer: len %d, %v", len(buf), err)
	}
}

// A key must be one line of printable ASCII without spaces.
func TestValidateKeyEdges(t *testing.T) {
	for key, ok := range map[string]bool{"a b": false, "a\tb": false, "a~b": true, "a!b": true, "a\x7fb": false, "aéb": false, " ab ": true} {
		if _, err := ValidateKey(key); (err == nil) != ok {
			t.Errorf("ValidateKey(%q) = %v", key, err)
		}
	}
}

// The key file is read again only when it changed (modification time or
// size): an unchanged file is not read on every request.
func TestKeyFileIsNotReadWhenUnchanged(t *testing.T) {
	path := t.TempDir() + "/key"
	if err := os.WriteFile(path, []byte("key-aaaa"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	kf := NewKeyFile(path)
	if _, err := kf.Key(); err != nil {
		t.Fatal(err)
	}
	// Same size, same modification time: not a change the file shows.
	os.WriteFile(path, []byte("key-bbbb"), 0o600)
	os.Chtimes(path, st.ModTime(), st.ModTime())
	if k, err := kf.Key(); k != "key-aaaa" || err != nil {
		t.Errorf("Key = %q, %v; want the key read before", k, err)
	}
}

// Keys of 8 bytes and more are redacted from page data; shorter ones (a
// test's "k", --demo's "demo") would cut ordinary words out of labels.
func TestShortKeysAreNotRedactedFromData(t *testing.T) {
	for key, redacted := range map[string]bool{"1234567": false, "12345678": true} {
		p, err := decodePage(strings.NewReader(`{"items":[{"id":"a","displayName":"x`+key+`"}],"totalCount":1}`), -1, 1000, key)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Items[0].DisplayName == "x[REDACTED]"; got != redacted {
			t.Errorf("key of %d bytes: display name %q", len(key), p.Items[0].DisplayName)
		}
	}
}

// Without a TTL no listing is kept: at 100,000 numbers a kept listing is
// tens of megabytes held for nothing.
func TestSharedWithoutTTLKeepsNoListing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, c := ftMemClient(t, 10, nil)
		s := NewShared(c, 0)
		if _, err := s.List(t.Context()); err != nil {
			t.Fatal(err)
		}
		if s.cached != nil {
			t.Error("a listing was kept with the cache off")
		}
	})
}

// truncate keeps a text of exactly n bytes whole, and never splits a
// character.
func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{strings.Repeat("a", 64), 64, strings.Repeat("a", 64)},
		{strings.Repeat("a", 65), 64, strings.Repeat("a", 64) + "…"},
		{strings.Repeat("é", 40), 63, strings.Repeat("é", 31) + "…"},
		{strings.Repeat("\x80", 70), 64, "…"}, // not UTF-8 at all
	} {
		if got := truncate([]byte(tc.in), tc.n); got != tc.want {
			t.Errorf("truncate(%d bytes, %d) = %q", len(tc.in), tc.n, got)
		}
	}
}

// A page of exactly the limit is read; one byte more is refused.
func TestPageLimitBoundary(t *testing.T) {
	page := `{"items":[{"id":"a"}],"totalCount":1}`
	for size, ok := range map[int]bool{int(maxPageBody): true, int(maxPageBody) + 1: false} {
		body := page + strings.Repeat(" ", size-len(page))
		for _, length := range []int64{int64(size), -1} {
			_, err := decodePage(strings.NewReader(body), length, 1000, "")
			if (err == nil) != ok {
				t.Errorf("a page of %d bytes (Content-Length %d): %v", size, length, err)
			}
		}
	}
}

// The smallest and largest page sizes are accepted, and the configured
// User-Agent is sent.
func TestPageSizeBoundsAndUserAgent(t *testing.T) {
	var agents []string
	var mu sync.Mutex
	fake := fakeapi.New(ftKey, ftNumbers(3))
	fake.SetInterceptor(func(w http.ResponseWriter, r *http.Request, page int) bool {
		mu.Lock()
		agents = append(agents, r.Header.Get("User-Agent"))
		mu.Unlock()
		return false
	})
	for _, size := range []int{1, MaxPageSize} {
		c := ftClient(t, "http://fake.invalid", ftHandlerTransport{fake}, func(cfg *Config) { cfg.PageSize = size; cfg.UserAgent = "dasha_exporter/test" })
		l, err := c.List(listCtx(t))
		if err != nil {
			t.Fatalf("page size %d: %v", size, err)
		}
		ftCheckListing(t, l, fake.Numbers())
	}
	for _, a := range agents {
		if a != "dasha_exporter/test" {
			t.Errorf("User-Agent %q", a)
		}
	}
}

// ProblemDetails with only a title or only a detail are still decoded, and
// a trace id is named only when there is one.
func TestNewAPIErrorShapes(t *testing.T) {
	for body, want := range map[string]APIError{
		`{"title":"Only a title"}`:                 {Title: "Only a title"},
		`{"detail":"Only a detail"}`:               {Detail: "Only a detail"},
		`{"title":"T","detail":"D","traceId":"x"}`: {Title: "T", Detail: "D", TraceID: "x"},
		`{"status":500}`:                           {Detail: `{"status":500}`},
		`plain text`:                               {Detail: "plain text"},
	} {
		e := newAPIError(500, "/p", []byte(body), "")
		if e.Title != want.Title || e.Detail != want.Detail || e.TraceID != want.TraceID {
			t.Errorf("newAPIError(%s) = %+v, want %+v", body, *e, want)
		}
		if strings.Contains(e.Error(), "traceId") != (want.TraceID != "") {
			t.Errorf("%s: %q", body, e.Error())
		}
	}
}

// totalCount is believed up to maxTotal inclusive.
func TestTotalCountCeiling(t *testing.T) {
	for total, ok := range map[int]bool{maxTotal: true, maxTotal + 1: false} {
		_, err := decodePage(strings.NewReader(fmt.Sprintf(`{"items":[],"totalCount":%d}`, total)), -1, 1000, "")
		if (err == nil) != ok {
			t.Errorf("totalCount %d: %v", total, err)
		}
	}
}
