package client

// Fault injection: the real client against the fake API, with rate limits,
// server errors, broken connections, bad bodies, a list that shifts while it
// is paged, a slow API, and concurrent scrapes sharing one listing.
//
// Tests that depend on time run inside testing/synctest bubbles with an
// in-memory transport (ftHandlerTransport), so waits are exact on the
// bubble's fake clock and never flake on a busy machine. Tests that need a
// real connection (resets, bodies cut off mid-stream) use httptest servers
// and assert behaviour, with generous upper bounds only where a bound is the
// point. goleak proves that failed and cancelled listings leave no goroutine
// or connection behind.
//
// Helpers carry an ft prefix so they cannot collide with other test files
// of the package.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/dasha-exporter/dasha_exporter/internal/fakeapi"
)

// ftKey is the fake API key of these tests.
const ftKey = "ft-fault-key-0123"

// ftNumbers returns a fleet of n numbers with every field set, ids in order.
func ftNumbers(n int) []fakeapi.Number {
	out := make([]fakeapi.Number, n)
	for i := range out {
		out[i] = ftNumber(i)
	}
	return out
}

func ftNumber(i int) fakeapi.Number {
	return fakeapi.Number{
		ID:             fmt.Sprintf("8d0e9c1a-0000-4000-8000-%012d", i),
		OrgID:          fakeapi.Ptr("org-1"),
		PhoneNumber:    fmt.Sprintf("+1415%07d", i),
		CredentialsID:  fakeapi.Ptr(fmt.Sprintf("c7a1f0e2-0000-4000-8000-%012d", i)),
		CreatedTime:    "2025-01-15T09:00:00Z",
		LastUpdateTime: "2025-01-15T09:00:00Z",
		RegistrationStatus: &fakeapi.Status{
			State: fakeapi.Ptr("Registered"), SIPResponseMessage: fakeapi.Ptr("200 OK"),
			LastUpdated: fakeapi.Ptr("2025-06-01T10:00:00Z"), ExpiresAt: fakeapi.Ptr("2025-06-01T11:00:00Z"),
		},
		DisplayName:  fakeapi.Ptr(fmt.Sprintf("line %d", i)),
		Registration: true,
		ProviderID:   fakeapi.Ptr("0b6f3b5e-8f0c-4b8a-9a51-7d1f2c3e4a01"),
	}
}

// ftHandlerTransport serves requests from an http.Handler in memory: no
// network, so it works inside a synctest bubble.
type ftHandlerTransport struct{ h http.Handler }

func (t ftHandlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	if err := r.Context().Err(); err != nil {
		return nil, err // as a real transport does once the context ends
	}
	resp := rec.Result()
	resp.Request = r
	return resp, nil
}

// ftClient returns a client of base (page size 1000, concurrency 4 unless
// changed) whose idle connections are closed when the test ends.
func ftClient(t testing.TB, base string, rt http.RoundTripper, change func(*Config)) *Client {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	if rt == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		t.Cleanup(tr.CloseIdleConnections)
		rt = tr
	}
	cfg := Config{BaseURL: u, Key: StaticKey(ftKey), PageSize: 1000, Concurrency: 4, HTTPClient: &http.Client{Transport: rt}}
	if change != nil {
		change(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ftMemClient returns a fake and a client that reaches it in memory.
func ftMemClient(t testing.TB, n int, change func(*Config)) (*fakeapi.Server, *Client) {
	fake := fakeapi.New(ftKey, ftNumbers(n))
	return fake, ftClient(t, "http://fake.invalid", ftHandlerTransport{fake}, change)
}

// ftServer serves a fake of n numbers over a real loopback connection.
func ftServer(t testing.TB, n int, change func(*Config)) (*fakeapi.Server, *Client) {
	fake := fakeapi.New(ftKey, ftNumbers(n))
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return fake, ftClient(t, srv.URL, nil, change)
}

// ftNoLeaks checks, after every other cleanup of the test has run (idle
// connections closed, servers closed), that the test left no goroutine
// behind. Call it first in a test that must not run in parallel.
func ftNoLeaks(t *testing.T) {
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

// ftCheckListing checks that l holds exactly the numbers of want, once each.
func ftCheckListing(t *testing.T, l *Listing, want []fakeapi.Number) {
	t.Helper()
	got := make([]string, l.Len())
	for i, n := range l.All() {
		got[i] = strings.Clone(n.ID) // All reuses it
	}
	wantIDs := make([]string, len(want))
	for i, n := range want {
		wantIDs[i] = n.ID
	}
	slices.Sort(got)
	slices.Sort(wantIDs)
	if len(slices.Compact(slices.Clone(got))) != len(got) {
		t.Errorf("listing has duplicate ids")
	}
	if !slices.Equal(got, wantIDs) {
		t.Errorf("listing has %d numbers, want %d (first got %v, first want %v)", len(got), len(wantIDs), got[:min(3, len(got))], wantIDs[:min(3, len(wantIDs))])
	}
}

// ftFirstTimes answers the first n requests for page with answer, and lets
// the fake serve the rest. It returns how many were answered so.
func ftFirstTimes(fake *fakeapi.Server, page, n int, answer func(w http.ResponseWriter, r *http.Request)) *atomic.Int64 {
	var count atomic.Int64
	fake.SetInterceptor(func(w http.ResponseWriter, r *http.Request, p int) bool {
		if p != page || count.Load() >= int64(n) {
			return false
		}
		count.Add(1)
		answer(w, r)
		return true
	})
	return &count
}

func ftWantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("List succeeded; want an error containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}

// --- Rate limits: 429 and Retry-After -------------------------------------

func TestFault429RetryAfterSecondsIsHonoured(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, c := ftMemClient(t, 2500, nil)
		var times []time.Time
		var mu sync.Mutex
		fake.SetInterceptor(func(w http.ResponseWriter, r *http.Request, page int) bool {
			if page != 1 {
				return false
			}
			mu.Lock()
			defer mu.Unlock()
			times = append(times, time.Now())
			if len(times) == 1 {
				w.Header().Set("Retry-After", "3")
				fakeapi.WriteProblem(w, http.StatusTooManyRequests, "Too Many Requests", "slow down")
				return true
			}
			return false
		})
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		l, err := c.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ftCheckListing(t, l, fake.Numbers())
		if len(times) != 2 {
			t.Fatalf("page 1 was asked for %d times, want 2", len(times))
		}
		if gap := times[1].Sub(times[0]); gap != 3*time.Second {
			t.Errorf("retried after %v, want the Retry-After of 3s", gap)
		}
		if l.Requests != 4 {
			t.Errorf("Requests = %d, want 4 (3 pages and 1 retry)", l.Requests)
		}
	})
}

func TestFault429RetryAfterHTTPDateIsHonoured(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, c := ftMemClient(t, 10, nil)
		var first, second time.Time
		ftFirstTimes(fake, 0, 1, func(w http.ResponseWriter, r *http.Request) {
			first = time.Now()
			// The bubble's clock starts on a whole second, so the date
			// is exactly 5s ahead.
			w.Header().Set("Retry-After", first.Add(5*time.Second).UTC().Format(http.TimeFormat))
			w.WriteHeader(http.StatusTooManyRequests)
		})
		c.cfg.Metrics = NewMetrics(nil)
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		if _, err := c.List(ctx); err != nil {
			t.Fatal(err)
		}
		second = time.Now()
		if gap := second.Sub(first); gap != 5*time.Second {
			t.Errorf("listing ended %v after the 429, want the Retry-After date 5s later", gap)
		}
	})
}

func TestFault429RetryAfterPastTheDeadlineFailsAtOnce(t *testing.T) {
	for _, retryAfter := range []string{"30", "99999999999999999", time.Date(2000, 1, 1, 0, 1, 0, 0, time.UTC).Format(http.TimeFormat)} {
		t.Run(retryAfter, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fake, c := ftMemClient(t, 10, nil)
				ftFirstTimes(fake, 0, 100, func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Retry-After", retryAfter)
					fakeapi.WriteProblem(w, http.StatusTooManyRequests, "Too Many Requests", "")
				})
				ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
				defer cancel()
				start := time.Now()
				_, err := c.List(ctx)
				ftWantErr(t, err, "429", "not retried", "would pass the scrape deadline")
				if d := time.Since(start); d != 0 {
					t.Errorf("List took %v; it should fail at once rather than wait", d)
				}
				if n := fake.Requests(); n != 1 {
					t.Errorf("the fake saw %d requests, want 1", n)
				}
			})
		})
	}
}

// The same over a real connection: the answer comes long before the
// Retry-After would have elapsed.
func TestFault429PastTheDeadlineRealConnection(t *testing.T) {
	ftNoLeaks(t)
	fake, c := ftServer(t, 10, nil)
	ftFirstTimes(fake, 0, 100, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "5")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	start := time.Now()
	_, err := c.List(ctx)
	ftWantErr(t, err, "429", "would pass the scrape deadline")
	if d := time.Since(start); d >= 5*time.Second {
		t.Errorf("List took %v: it waited for the Retry-After it cannot afford", d)
	}
}

func TestFault429WithoutRetryAfterBacksOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, c := ftMemClient(t, 10, nil)
		ftFirstTimes(fake, 0, 2, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusTooManyRequests)
		})
		l, err := c.List(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if l.Requests != 3 {
			t.Errorf("Requests = %d, want 3", l.Requests)
		}
	})
}

func TestFaultParseRetryAfterEdges(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{" 7 ", 7 * time.Second},
		{"-1", 0},
		{"1.5", 0},
		{"soon", 0},
		{"99999999999999999999999", 0}, // beyond uint64: unusable
		{"9999999999999", maxRetryAfterSeconds * time.Second},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"Sun, 06 Nov 1994 08:49:37 GMT", 0},
	} {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// --- Server errors ----------------------------------------------------------

func TestFault5xxThenSuccessIsRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, c := ftMemClient(t, 2500, nil)
		ftFirstTimes(fake, 2, 3, func(w http.ResponseWriter, r *http.Request) {
			fakeapi.WriteProblem(w, http.StatusServiceUnavailable, "Service Unavailable", "")
		})
		start := time.Now()
		l, err := c.List(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		ftCheckListing(t, l, fake.Numbers())
		if l.Requests != 6 {
			t.Errorf("Requests = %d, want 6 (3 pages, 3 retries)", l.Requests)
		}
		// Full jitter: at most 100+200+400ms of backoff.
		if d := time.Since(start); d > 700*time.Millisecond {
			t.Errorf("backoff took %v, want at most 700ms", d)
		}
	})
}

func TestFault5xxEveryTimeFailsAfterMaxAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, c := ftMemClient(t, 10, nil)
		ftFirstTimes(fake, 0, 100, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprint(w, "<html><body><h1>502 Bad Gateway</h1>\n<p>nginx</p></body></html>")
		})
		_, err := c.List(t.Context())
		ftWantErr(t, err, "502 Bad Gateway", "nginx")
		if n := fake.Requests(); n != maxAttempts {
			t.Errorf("the fake saw %d requests, want %d", n, maxAttempts)
		}
	})
}

func TestFault4xxIsNotRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, c := ftMemClient(t, 10, func(cfg *Config) { cfg.Key = StaticKey("wrong") })
		_, err := c.List(t.Context())
		ftWantErr(t, err, "401", "The API key is invalid or expired", "check the key")
		if n := fake.Requests(); n != 1 {
			t.Errorf("the fake saw %d requests, want 1", n)
		}
	})
}

// --- Broken connections and bodies -----------------------------------------

// ftHijack takes over the connection of a request.
func ftHijack(t *testing.T, w http.ResponseWriter) (net.Conn, *bufio.ReadWriter) {
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		t.Error(err)
	}
	return conn, buf
}

// A connection that breaks mid-answer, closed or reset: retried while tries
// remain, then a clear error that names the page.
func TestFaultBrokenConnections(t *testing.T) {
	closeMidBody := func(t *testing.T) func(http.ResponseWriter, *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			conn, buf := ftHijack(t, w)
			fmt.Fprint(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
			fmt.Fprint(buf, `{"items":[{"id":"8d0e9c1a-0000-4000-8000-000000001000","phoneNumber":"+14150001000"},{"id":"8d0e`)
			buf.Flush()
			conn.Close()
		}
	}
	reset := func(t *testing.T) func(http.ResponseWriter, *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			conn, _ := ftHijack(t, w)
			if tc, ok := conn.(*net.TCPConn); ok {
				tc.SetLinger(0) // close with a RST
			}
			conn.Close()
		}
	}
	for _, tc := range []struct {
		name    string
		fault   func(*testing.T) func(http.ResponseWriter, *http.Request)
		page    int
		times   int
		wantErr []string // nil: the retries succeed
	}{
		{"closed mid-body twice", closeMidBody, 1, 2, nil},
		{"closed mid-body every time", closeMidBody, 1, 1000, []string{"skip=1000", "cut off", "unexpected EOF"}},
		{"reset once", reset, 0, 1, nil},
		{"reset every time", reset, 0, 1000, []string{"GET /api/v1/sip-phone-numbers?skip=0&take=1000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ftNoLeaks(t)
			fake, c := ftServer(t, 2500, nil)
			faults := ftFirstTimes(fake, tc.page, tc.times, tc.fault(t))
			// Retries go on while the deadline allows.
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			defer cancel()
			l, err := c.List(ctx)
			if tc.wantErr != nil {
				ftWantErr(t, err, tc.wantErr...)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ftCheckListing(t, l, fake.Numbers())
			if faults.Load() != int64(tc.times) {
				t.Errorf("%d answers broke, want %d", faults.Load(), tc.times)
			}
		})
	}
}

// A complete answer whose JSON stops short: retried, then a clear error.
func TestFaultCutOffBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, c := ftMemClient(t, 10, nil)
		ftFirstTimes(fake, 0, 100, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"items":[{"id":"a","phoneNumber":"+1"}],"totalCo`)
		})
		_, err := c.List(t.Context())
		ftWantErr(t, err, "cut off", `Content-Type "application/json"`)
		if n := fake.Requests(); n != maxAttempts {
			t.Errorf("the fake saw %d requests, want %d (a cut-off body is retried)", n, maxAttempts)
		}
	})
}

func TestFaultNonJSONBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, c := ftMemClient(t, 10, nil)
		ftFirstTimes(fake, 0, 100, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, "<!DOCTYPE html><html><body>Sign in</body></html>")
		})
		_, err := c.List(t.Context())
		ftWantErr(t, err, "not the expected JSON", "text/html")
		if n := fake.Requests(); n != 1 {
			t.Errorf("the fake saw %d requests, want 1 (an HTML page is not retried)", n)
		}
	})
}

func TestFaultBodyLargerThanTheLimit(t *testing.T) {
	old := maxPageBody
	maxPageBody = 8 << 10
	t.Cleanup(func() { maxPageBody = old })
	synctest.Test(t, func(t *testing.T) {
		fake, c := ftMemClient(t, 100, nil) // about 50 KB in one page
		_, err := c.List(t.Context())
		ftWantErr(t, err, "larger than the limit of 8192 bytes")
		if n := fake.Requests(); n != 1 {
			t.Errorf("the fake saw %d requests, want 1", n)
		}
	})
	// An endless body over a real connection stops at the limit too.
	ftNoLeaks(t)
	fake, c := ftServer(t, 10, nil)
	ftFirstTimes(fake, 0, 1, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"items":[`)
		item := `{"id":"x","phoneNumber":"+1"},`
		for i := 0; i < 1000 && r.Context().Err() == nil; i++ {
			fmt.Fprint(w, strings.Repeat(item, 100))
		}
	})
	_, err := c.List(t.Context())
	ftWantErr(t, err, "larger than the limit")
}

func TestFaultPageWithoutTotalCountOrIDs(t *testing.T) {
	for body, want := range map[string]string{
		`{"items":[]}`:                                    "no totalCount",
		`{"items":[],"totalCount":-1}`:                    "negative totalCount",
		`{"items":[{"phoneNumber":"+1"}],"totalCount":1}`: "no id",
		`{"items":[{"id":null}],"totalCount":1}`:          "no id",
		`[]`:                                              "not the expected JSON",
		``:                                                "empty",
	} {
		t.Run(want, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fake, c := ftMemClient(t, 10, nil)
				ftFirstTimes(fake, 0, 100, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, body) })
				_, err := c.List(t.Context())
				ftWantErr(t, err, want)
			})
		})
	}
}

// --- A list that shifts while it is paged ----------------------------------

// ftShiftOnce changes the fleet the first time page 1 is asked for, before
// the fake answers it. The client pages with concurrency 1, so page 0 was
// served from the old fleet.
func ftShiftOnce(t *testing.T, change func([]fakeapi.Number) []fakeapi.Number) (*fakeapi.Server, *Client) {
	fake, c := ftMemClient(t, 2500, func(cfg *Config) { cfg.Concurrency = 1 })
	var once sync.Once
	fake.SetInterceptor(func(w http.ResponseWriter, r *http.Request, page int) bool {
		if page == 1 {
			once.Do(func() { fake.SetNumbers(change(fake.Numbers())) })
		}
		return false
	})
	return fake, c
}

// The list shifts once while it is paged: the listing notices and is taken
// again, complete and without a duplicate.
func TestShiftBetweenPages(t *testing.T) {
	for _, tc := range []struct {
		name  string
		shift func([]fakeapi.Number) []fakeapi.Number
		want  int // numbers in the listing
	}{
		{"totalCount grows: one added at the front", func(ns []fakeapi.Number) []fakeapi.Number {
			return append([]fakeapi.Number{ftNumber(99999)}, ns...)
		}, 2501},
		{"one removed: page 1 would skip one number", func(ns []fakeapi.Number) []fakeapi.Number {
			return slices.Delete(ns, 3, 4)
		}, 2499},
		// totalCount stays, but the number at the page boundary is seen
		// twice and the pages hold one distinct number too few.
		{"one added at the front, one removed at the end", func(ns []fakeapi.Number) []fakeapi.Number {
			return append([]fakeapi.Number{ftNumber(99999)}, ns[:len(ns)-1]...)
		}, 2500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fake, c := ftShiftOnce(t, tc.shift)
				l, err := c.List(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				ftCheckListing(t, l, fake.Numbers())
				if l.Len() != tc.want || l.Relists != 1 {
					t.Errorf("got %d numbers after %d relists, want %d after 1", l.Len(), l.Relists, tc.want)
				}
			})
		})
	}
}

// The first round asks for as many pages as the last listing had; when the
// fleet shrank, the surplus pages come back empty and are fine.
func TestShiftFleetShrankBetweenListings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, c := ftMemClient(t, 5500, nil)
		if _, err := c.List(t.Context()); err != nil {
			t.Fatal(err)
		}
		fake.SetNumbers(ftNumbers(1200))
		before := fake.Requests()
		l, err := c.List(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		ftCheckListing(t, l, fake.Numbers())
		if n := fake.Requests() - before; n != 6 || l.Relists != 0 {
			t.Errorf("second listing took %d requests and %d relists, want the 6 guessed pages and none", n, l.Relists)
		}
		// The next one asks for 2 pages only.
		before = fake.Requests()
		if _, err := c.List(t.Context()); err != nil {
			t.Fatal(err)
		}
		if n := fake.Requests() - before; n != 2 {
			t.Errorf("third listing took %d requests, want 2", n)
		}
	})
}

func TestShiftKeepsChangingFailsAfterTheRelistLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, c := ftMemClient(t, 2500, func(cfg *Config) { cfg.Concurrency = 1 })
		next := 100000
		fake.SetInterceptor(func(w http.ResponseWriter, r *http.Request, page int) bool {
			if page == 1 {
				next++
				fake.SetNumbers(append(fake.Numbers(), ftNumber(next)))
			}
			return false
		})
		_, err := c.List(t.Context())
		ftWantErr(t, err, "kept changing", "3 tries", "totalCount moved")
	})
}

// --- A slow API and the deadline --------------------------------------------

func TestFaultSlowAPIRespectsTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, c := ftMemClient(t, 10, nil)
		fake.Latency = time.Minute
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		start := time.Now()
		_, err := c.List(ctx)
		ftWantErr(t, err, "deadline")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error %v is not context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d != 5*time.Second {
			t.Errorf("List returned after %v, want at the 5s deadline", d)
		}
	})
}

func TestFaultSlowAPIRealConnection(t *testing.T) {
	ftNoLeaks(t)
	fake, c := ftServer(t, 5000, nil)
	fake.Latency = 30 * time.Second
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.List(ctx)
	ftWantErr(t, err, "deadline exceeded")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("List returned %v after its 200ms deadline", d-200*time.Millisecond)
	}
}

// A failing page cancels the pages in flight; nothing is left behind.
func TestFaultOnePageFailsOthersCancelled(t *testing.T) {
	ftNoLeaks(t)
	fake, c := ftServer(t, 10000, nil)
	if _, err := c.List(t.Context()); err != nil { // learn: 10 pages
		t.Fatal(err)
	}
	fake.Latency = 50 * time.Millisecond
	fake.SetInterceptor(func(w http.ResponseWriter, r *http.Request, page int) bool {
		if page == 7 {
			fakeapi.WriteProblem(w, http.StatusBadRequest, "One or more validation errors occurred.", "bad skip")
			return true
		}
		return false
	})
	_, err := c.List(t.Context())
	ftWantErr(t, err, "400", "bad skip")
}

func TestFaultCancelledListingLeavesNothingBehind(t *testing.T) {
	ftNoLeaks(t)
	fake, c := ftServer(t, 10000, nil)
	fake.Latency = time.Hour
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		for fake.Requests() == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	_, err := c.List(ctx)
	ftWantErr(t, err, "canceled")
}

// --- Shared: one listing for concurrent scrapes, the cache ------------------

func TestSharedConcurrentScrapesShareOneListing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, c := ftMemClient(t, 2500, nil)
		fake.Latency = 50 * time.Millisecond
		s := NewShared(c, 0)
		const scrapes = 5
		results := make([]*Listing, scrapes)
		var wg sync.WaitGroup
		for i := range scrapes {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				l, err := s.List(ctx)
				if err != nil {
					t.Error(err)
				}
				results[i] = l
			})
		}
		wg.Wait()
		if n := fake.Requests(); n != 3 {
			t.Errorf("the fake saw %d requests, want one set of 3 pages", n)
		}
		for _, l := range results[1:] {
			if l != results[0] {
				t.Errorf("scrapes got different listings")
			}
		}
		ftCheckListing(t, results[0], fake.Numbers())
		// No cache: the next scrape lists again.
		if _, err := s.List(t.Context()); err != nil {
			t.Fatal(err)
		}
		if n := fake.Requests(); n != 6 {
			t.Errorf("the fake saw %d requests, want 6 after a second listing", n)
		}
	})
}

func TestSharedCacheTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, c := ftMemClient(t, 10, nil)
		s := NewShared(c, time.Minute)
		first, err := s.List(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(59 * time.Second)
		again, err := s.List(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if again != first || fake.Requests() != 1 {
			t.Errorf("within the TTL: same listing %v, requests %d; want the cached one and 1 request", again == first, fake.Requests())
		}
		time.Sleep(time.Second)
		fresh, err := s.List(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if fresh == first || fake.Requests() != 2 {
			t.Errorf("after the TTL: same listing %v, requests %d; want a new listing", fresh == first, fake.Requests())
		}
	})
}

func TestSharedFailedListingIsNeverCached(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, c := ftMemClient(t, 10, nil)
		s := NewShared(c, time.Hour)
		fake.SetInterceptor(func(w http.ResponseWriter, r *http.Request, page int) bool {
			fakeapi.WriteProblem(w, http.StatusForbidden, "Forbidden", "")
			return true
		})
		if _, err := s.List(t.Context()); err == nil {
			t.Fatal("List succeeded against a 403")
		}
		fake.SetInterceptor(nil)
		l, err := s.List(t.Context())
		if err != nil {
			t.Fatalf("the failure was cached: %v", err)
		}
		ftCheckListing(t, l, fake.Numbers())
	})
}

// A scrape that joins a listing in flight stops waiting at its own, earlier
// deadline; the listing goes on for the scrape that started it.
func TestSharedWaiterWithAnEarlierDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, c := ftMemClient(t, 10, nil)
		fake.Latency = 5 * time.Second
		s := NewShared(c, 0)
		start := time.Now()
		var long *Listing
		var longErr error
		done := make(chan struct{})
		go func() {
			defer close(done)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			long, longErr = s.List(ctx)
		}()
		synctest.Wait() // the first scrape's request is in flight
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_, err := s.List(ctx)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Second {
			t.Errorf("the short scrape returned %v after %v; want its deadline after 1s", err, time.Since(start))
		}
		<-done
		if longErr != nil || time.Since(start) != 5*time.Second {
			t.Fatalf("the long scrape returned %v after %v; want the listing after 5s", longErr, time.Since(start))
		}
		ftCheckListing(t, long, fake.Numbers())
		if n := fake.Requests(); n != 1 {
			t.Errorf("the fake saw %d requests, want 1", n)
		}
	})
}

// A scrape that joins a listing started by a scrape with an earlier
// deadline is not failed by that deadline: when the joined listing runs
// out of time while the joiner has time left, the joiner lists anew.
func TestSharedJoinerOutlivesTheStartersDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, c := ftMemClient(t, 10, nil)
		fake.Latency = 3 * time.Second
		s := NewShared(c, 0)
		start := time.Now()
		shortErr := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, err := s.List(ctx)
			shortErr <- err
		}()
		synctest.Wait() // the short scrape's listing is in flight
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		l, err := s.List(ctx)
		if err != nil {
			t.Fatalf("the long scrape failed with the short one's deadline: %v", err)
		}
		ftCheckListing(t, l, fake.Numbers())
		if got := time.Since(start); got != 4*time.Second {
			t.Errorf("the long scrape took %v, want 1s (joined) + 3s (its own listing)", got)
		}
		if err := <-shortErr; !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("the short scrape returned %v", err)
		}
	})
}

// The scrape that started a listing goes away (its request is cancelled):
// the listing carries on for the scrapes still waiting.
func TestSharedStarterCancelledOthersStillServed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, c := ftMemClient(t, 10, nil)
		fake.Latency = 5 * time.Second
		s := NewShared(c, 0)
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		errc := make(chan error, 1)
		go func() {
			_, err := s.List(ctx)
			errc <- err
		}()
		synctest.Wait()
		var l *Listing
		var err error
		done := make(chan struct{})
		go func() {
			defer close(done)
			l, err = s.List(t.Context())
		}()
		synctest.Wait()
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("the cancelled scrape returned %v", err)
		}
		<-done
		if err != nil {
			t.Fatalf("the waiting scrape failed: %v", err)
		}
		ftCheckListing(t, l, fake.Numbers())
	})
}

// Pages are read to the end, so connections go back to the pool and later
// pages and listings reuse them: at most Concurrency connections. The same
// holds when the API answers in chunks (no Content-Length), as a streaming
// JSON serializer does: the decoder stops at the end of the JSON value,
// before the last chunk, and the body must still be read to its end.
func TestConnectionsAreReused(t *testing.T) {
	fake := fakeapi.New(ftKey, ftNumbers(10000))
	chunked := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		fake.ServeHTTP(rec, r)
		w.Header().Set("Content-Type", "application/json")
		body := rec.Body.Bytes()
		w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush() // now chunked
		w.Write(body[len(body)/2:])
	})
	for name, h := range map[string]http.Handler{"content-length": fake, "chunked": chunked} {
		t.Run(name, func(t *testing.T) {
			ftNoLeaks(t)
			var conns atomic.Int64
			srv := httptest.NewUnstartedServer(h)
			srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
				if st == http.StateNew {
					conns.Add(1)
				}
			}
			srv.Start()
			t.Cleanup(srv.Close)
			u, _ := url.Parse(srv.URL)
			c, err := New(Config{BaseURL: u, Key: StaticKey(ftKey), PageSize: 1000, Concurrency: 4})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.http.CloseIdleConnections)
			for range 3 {
				if _, err := c.List(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			// At most Concurrency, give or take a few: the transport puts
			// a connection back in the pool on its own goroutine after the
			// body's EOF, so the next request may now and then dial anew
			// (1 run in 20 on a loaded machine). Not reading to the end
			// opens one per page: 30.
			if n := conns.Load(); n > 8 {
				t.Errorf("3 listings of 10 pages opened %d connections, want at most about 4", n)
			}
		})
	}
}
