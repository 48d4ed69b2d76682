package client

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// ListPath is the listing endpoint, relative to the base URL.
const ListPath = "/api/v1/sip-phone-numbers"

// MaxPageSize is the largest take the API accepts.
const MaxPageSize = 1000

// maxPageBody bounds one page's body. A real page of 1000 numbers is about
// 620 KB (every field set); 4 MiB leaves room for long texts while
// concurrency x maxPageBody bounds what hostile pages can make the exporter
// hold (see docs/performance.md). It is a variable so that tests can lower
// it.
var maxPageBody int64 = 4 << 20

// Limits that keep a misbehaving API from exhausting the exporter.
const (
	// maxAttempts bounds tries of one request (first try included). The
	// scrape deadline normally gives up first: a retry is only made when
	// its wait ends before the deadline.
	maxAttempts = 10
	// maxListings bounds how often a listing is tried when the list shifts
	// while it is paged (first try included).
	maxListings = 3
	// maxTotal is the largest totalCount believed: a bogus count would
	// otherwise send millions of page requests.
	maxTotal = 10_000_000
	// baseBackoff is the first retry delay; it doubles, with full jitter,
	// up to maxBackoff.
	baseBackoff = 100 * time.Millisecond
	maxBackoff  = 5 * time.Second
)

// MaxConcurrency bounds how many pages may be fetched at once, whether set
// by --dasha.concurrency or an account's concurrency: more floods the API
// (and each page in flight may hold up to maxPageBody).
const MaxConcurrency = 64

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// IsUUID reports whether s is a uuid, the form the API's providerId filter
// takes.
func IsUUID(s string) bool { return uuidRE.MatchString(s) }

// Filters are passed through to the API's query parameters.
type Filters struct {
	PhoneNumber   string
	ProviderID    string
	LinkedAgentID string
	UnlinkedOnly  bool
}

// Config configures a Client.
type Config struct {
	BaseURL     *url.URL
	Key         KeySource
	PageSize    int // take per request, 1..MaxPageSize
	Concurrency int // pages fetched at once, >= 1
	Filters     Filters
	HTTPClient  *http.Client // nil: a client with sane transport limits
	Metrics     *Metrics     // nil: not counted
	Logger      *slog.Logger // nil: discarded
	UserAgent   string
}

// Listing is one complete listing of the fleet.
type Listing struct {
	Numbers  []PhoneNumber // de-duplicated by ID, in the API's order
	Requests int           // HTTP requests it took, retries included
	Relists  int           // times the list shifted and was taken again
	Time     time.Time     // when the listing completed
}

// Client lists SIP phone numbers. It is safe for concurrent use.
type Client struct {
	cfg  Config
	http *http.Client
	log  *slog.Logger

	// lastTotal is the previous listing's totalCount: it tells how many
	// pages to ask for in the first round.
	lastTotal atomic.Int64

	// parsing holds a slot for each page being parsed (see readAndParse).
	parsing chan struct{}
}

// New checks cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == nil || (cfg.BaseURL.Scheme != "http" && cfg.BaseURL.Scheme != "https") || cfg.BaseURL.Host == "" {
		return nil, errors.New("the API URL must be an absolute http:// or https:// URL")
	}
	if cfg.BaseURL.User != nil {
		return nil, errors.New("the API URL must not carry credentials; the key comes from DASHA_API_KEY or --dasha.api-key-file")
	}
	if cfg.PageSize < 1 || cfg.PageSize > MaxPageSize {
		return nil, fmt.Errorf("page size %d is out of range 1..%d", cfg.PageSize, MaxPageSize)
	}
	if cfg.Concurrency < 1 {
		return nil, fmt.Errorf("concurrency %d must be at least 1", cfg.Concurrency)
	}
	if cfg.Key == nil {
		return nil, errors.New("no API key source")
	}
	c := &Client{cfg: cfg, http: cfg.HTTPClient, log: cfg.Logger, parsing: make(chan struct{}, min(cfg.Concurrency, runtime.GOMAXPROCS(0)))}
	if c.http == nil {
		c.http = &http.Client{Transport: newTransport(cfg.Concurrency), CheckRedirect: noRedirects}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.cfg.Metrics == nil {
		c.cfg.Metrics = NewMetrics(nil)
	}
	return c, nil
}

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

// pageURL returns the URL of the page at skip.
func (c *Client) pageURL(skip int) *url.URL {
	u := *c.cfg.BaseURL
	u.Path = strings.TrimSuffix(u.Path, "/") + ListPath
	q := url.Values{}
	q.Set("skip", strconv.Itoa(skip))
	q.Set("take", strconv.Itoa(c.cfg.PageSize))
	f := c.cfg.Filters
	if f.PhoneNumber != "" {
		q.Set("phoneNumber", f.PhoneNumber)
	}
	if f.ProviderID != "" {
		q.Set("providerId", f.ProviderID)
	}
	if f.LinkedAgentID != "" {
		q.Set("linkedAgentId", f.LinkedAgentID)
	}
	if f.UnlinkedOnly {
		q.Set("unlinkedOnly", "true")
	}
	u.RawQuery = q.Encode()
	return &u
}

// fetchPage gets one page, retrying what is worth retrying while the
// deadline allows: 429 after Retry-After, 5xx and transport errors after a
// jittered exponential backoff.
func (c *Client) fetchPage(ctx context.Context, skip int, requests *atomic.Int64) (*page, error) {
	u := c.pageURL(skip)
	for attempt := 1; ; attempt++ {
		requests.Add(1)
		p, retryAfter, err := c.get(ctx, u)
		if err == nil {
			return p, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("GET %s: %w", u.RequestURI(), context.Cause(ctx))
		}
		if retryAfter < 0 || attempt >= maxAttempts {
			return nil, err
		}
		wait := retryAfter
		if wait == 0 {
			wait = rand.N(backoff(attempt)) // full jitter
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return nil, fmt.Errorf("%w; not retried: waiting %v would pass the scrape deadline", err, wait.Round(time.Millisecond))
		}
		c.log.Debug("retrying API request", "path", u.RequestURI(), "attempt", attempt, "wait", wait, "err", err)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, fmt.Errorf("%w; gave up waiting to retry: %w", err, context.Cause(ctx))
		}
	}
}

// backoff is the longest wait before the retry that follows attempt:
// baseBackoff doubled for each earlier attempt, at most maxBackoff.
func backoff(attempt int) time.Duration {
	return min(baseBackoff<<min(attempt-1, 16), maxBackoff)
}

// get makes one request. retryAfter is how long to wait before trying
// again: negative when the error is not worth retrying, 0 for the default
// backoff.
//
// Whatever the answer echoes (body, headers, a decoded field) may hold the
// key: it is redacted from the page and from every error get returns.
func (c *Client) get(ctx context.Context, u *url.URL) (p *page, retryAfter time.Duration, err error) {
	key, err := c.cfg.Key.Key()
	if err != nil {
		return nil, -1, err
	}
	defer func() { err = redactError(err, key) }()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, -1, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Accept", "application/json")
	if c.cfg.UserAgent != "" {
		req.Header.Set("User-Agent", c.cfg.UserAgent)
	}

	start := time.Now()
	code := "error"
	defer func() {
		if code == "error" && errors.Is(ctx.Err(), context.Canceled) {
			// Abandoned by us (another page failed, or the scrape went
			// away), not failed by the API: not an API request to count.
			// One cut short by the deadline still counts as "error".
			return
		}
		c.cfg.Metrics.Requests.WithLabelValues(code).Inc()
		c.cfg.Metrics.Duration.Observe(time.Since(start).Seconds())
	}()
	resp, err := c.http.Do(req)
	if err != nil {
		err = fmt.Errorf("GET %s: %w", u.RequestURI(), unwrapURLError(err))
		if certificateError(err) {
			return nil, -1, err // the same certificate fails the same way again
		}
		return nil, 0, err
	}
	defer resp.Body.Close()
	code = strconv.Itoa(resp.StatusCode)

	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxProblemBody))
		apiErr := newAPIError(resp.StatusCode, u.RequestURI(), body, key)
		if loc := resp.Header.Get("Location"); loc != "" && resp.StatusCode/100 == 3 {
			apiErr.Detail = oneLine("redirected to "+RedactText(loc, key), maxProblemText)
		}
		switch {
		case resp.StatusCode == http.StatusTooManyRequests:
			return nil, parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()), apiErr
		case resp.StatusCode >= 500:
			return nil, 0, apiErr
		default:
			return nil, -1, apiErr
		}
	}

	p, err = readAndParse(ctx, resp.Body, resp.ContentLength, c.cfg.PageSize, key, c.parsing)
	if err != nil {
		if ctx.Err() != nil {
			return nil, -1, err
		}
		err = fmt.Errorf("GET %s: %w (Content-Type %q)", u.RequestURI(), err, resp.Header.Get("Content-Type"))
		var cut *cutOffError
		if errors.As(err, &cut) {
			return nil, 0, err // the connection broke mid-body: worth a retry
		}
		return nil, -1, err
	}
	return p, 0, nil
}

// certificateError reports whether err is a TLS certificate that failed
// verification, or a TLS connection to something that does not speak TLS.
func certificateError(err error) bool {
	var verification *tls.CertificateVerificationError
	var authority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var record tls.RecordHeaderError
	return errors.As(err, &verification) || errors.As(err, &authority) || errors.As(err, &hostname) ||
		errors.As(err, &invalid) || errors.As(err, &record)
}

// cutOffError is a body that ended, or broke, before the JSON did.
type cutOffError struct{ err error }

func (e *cutOffError) Error() string { return "the body was cut off: " + e.err.Error() }
func (e *cutOffError) Unwrap() error { return e.err }

// pageBufs holds page-sized read buffers for reuse. Reading a whole body
// into a reused buffer and then unmarshalling it allocates far less than a
// json.Decoder, whose buffer grows by doubling on every page (about 2 MB of
// garbage per 1000-number page). Reading to the end of the body also
// returns the connection to the pool even when the answer was chunked: a
// decoder stops at the end of the JSON value, before the last chunk, and
// closing an unread body closes the connection (a new TLS handshake for
// every page).
var pageBufs = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledBuf keeps a freak huge page's buffer out of the pool.
const maxPooledBuf = 8 << 20

// readPage reads body into buf's memory, up to maxPageBody+1 bytes. size
// is the Content-Length, or -1. The buffer grows by doubling, but never
// past the limit: a body at the limit costs the limit, not twice it.
func readPage(buf []byte, body io.Reader, size int64) ([]byte, error) {
	limit := int(maxPageBody) + 1
	buf = buf[:0]
	if want := int(min(max(size+1, 64<<10), int64(limit))); cap(buf) < want {
		buf = make([]byte, 0, want)
	}
	for len(buf) < limit {
		if len(buf) == cap(buf) {
			// Not slices.Grow: append's growth would round past the limit.
			grown := make([]byte, len(buf), min(2*cap(buf), limit))
			copy(grown, buf)
			buf = grown
		}
		n, err := body.Read(buf[len(buf):min(cap(buf), limit)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// decodePage reads, decodes and checks one page body (size: its
// Content-Length, or -1) of at most take items.
func decodePage(body io.Reader, size int64, take int, key string) (*page, error) {
	return readAndParse(context.Background(), body, size, take, key, nil)
}

// readAndParse reads a page into a pooled buffer and parses it. slots, if
// not nil, bounds how many pages are parsed at once: bodies are read
// --dasha.concurrency at a time (that hides the API's latency), but
// parsing is CPU work, and each page being parsed holds up to its size
// again in decoded strings.
func readAndParse(ctx context.Context, body io.Reader, size int64, take int, key string, slots chan struct{}) (*page, error) {
	bp := pageBufs.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= maxPooledBuf {
			pageBufs.Put(bp)
		}
	}()
	data, err := readPage(*bp, body, size)
	*bp = data
	switch {
	case len(data) > int(maxPageBody):
		return nil, fmt.Errorf("the page is larger than the limit of %d bytes (if the API's pages really are this large, lower --dasha.page-size)", maxPageBody)
	case err != nil:
		return nil, &cutOffError{err} // the connection broke mid-body
	}
	if slots != nil {
		select {
		case slots <- struct{}{}: // a free slot: parse what was read
		default:
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return nil, context.Cause(ctx)
			}
		}
		defer func() { <-slots }()
	}
	return parsePage(data, take, key)
}

// parsePage decodes and checks one page of at most take items. The key is
// redacted from every text of the page, so that an API echoing it cannot
// get it into a label or an error.
func parsePage(data []byte, take int, key string) (*page, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("the page body is empty")
	}
	// Decoding allocates every item before it can be counted: a page of
	// millions of tiny items would cost far more than its bytes.
	if items := countItems(data); items > take {
		return nil, fmt.Errorf("the page has %d items, more than the take=%d asked for", items, take)
	}
	redact := len(key) >= minRedactedKeyInData
	if redact && bytes.Contains(data, []byte(key)) {
		data = bytes.ReplaceAll(data, []byte(key), []byte(redacted))
	}
	var p page
	if err := json.Unmarshal(data, &p); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) && syn.Offset >= int64(len(bytes.TrimRight(data, " \t\r\n"))) {
			// The JSON stopped short: the body was cut off.
			return nil, &cutOffError{io.ErrUnexpectedEOF}
		}
		return nil, fmt.Errorf("the page is not the expected JSON: %w%s", err, badItem(data))
	}
	if p.TotalCount == nil {
		return nil, errors.New("the page has no totalCount")
	}
	if *p.TotalCount < 0 {
		return nil, fmt.Errorf("the page has a negative totalCount %d", *p.TotalCount)
	}
	if *p.TotalCount > maxTotal {
		return nil, fmt.Errorf("the page reports totalCount %d, more than the %d numbers this exporter believes", *p.TotalCount, maxTotal)
	}
	for i := range p.Items {
		if p.Items[i].ID == "" {
			return nil, fmt.Errorf("item %d of the page has no id", i)
		}
	}
	if redact && bytes.IndexByte(data, '\\') >= 0 {
		// Only a JSON escape can spell the key so that the raw bytes
		// did not show it.
		for i := range p.Items {
			redactNumber(&p.Items[i], key)
		}
	}
	return &p, nil
}

// minRedactedKeyInData is the shortest key redacted from the numbers of a
// page: a shorter one (a test's "k", --demo's "demo") would cut ordinary
// words out of labels. Real API keys are far longer. Error texts are
// redacted whatever the key's length.
const minRedactedKeyInData = 8

// countItems counts the values of the top-level object's arrays (the
// page's items) without decoding them.
func countItems(data []byte) int {
	depth, n := 0, 0
	inArray, expect := false, false // in an array at depth 2; before its next value
	for i := 0; i < len(data); i++ {
		c := data[i]
		if expect && depth == 2 && c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != ']' {
			n++
			expect = false
		}
		switch c {
		case '"':
			i = stringEnd(data, i+1)
		case '{', '[':
			depth++
			if depth == 2 {
				inArray = c == '['
				expect = inArray
			}
		case '}', ']':
			depth--
		case ',':
			expect = inArray && depth == 2
		}
	}
	return n
}

// stringEnd returns the index of the quote that closes the JSON string
// starting at from (len(data) if none): the first quote not escaped by an
// odd run of backslashes. Most of a page is strings, and IndexByte skips
// through them far faster than a loop over every byte.
func stringEnd(data []byte, from int) int {
	for {
		q := bytes.IndexByte(data[from:], '"')
		if q < 0 {
			return len(data)
		}
		q += from
		backslashes := 0
		for j := q - 1; j >= from && data[j] == '\\'; j-- {
			backslashes++
		}
		if backslashes%2 == 0 {
			return q
		}
		from = q + 1
	}
}

// badItem names the first item of a page that does not decode, for an error
// message on-call can act on: which number, by index and id. It runs only
// after decoding failed.
func badItem(body []byte) string {
	var raw struct {
		Items []json.RawMessage `json:"items"`
	}
	if json.Unmarshal(body, &raw) != nil {
		return ""
	}
	for i, item := range raw.Items {
		var n PhoneNumber
		if err := json.Unmarshal(item, &n); err != nil {
			var id struct {
				ID string `json:"id"`
			}
			json.Unmarshal(item, &id)
			return fmt.Sprintf(" (item %d of the page, id %q)", i, truncate([]byte(id.ID), 64))
		}
	}
	return ""
}

// maxRetryAfterSeconds caps a Retry-After in seconds (a day), far beyond any
// scrape deadline, so that huge values cannot overflow a Duration.
const maxRetryAfterSeconds = 24 * 3600

// parseRetryAfter reads Retry-After as seconds or an HTTP date; without a
// usable value it returns 0, the default backoff.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseUint(v, 10, 64); err == nil {
		// Cap what would overflow a Duration: any wait that long passes
		// every deadline anyway.
		return time.Duration(min(s, maxRetryAfterSeconds)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// noRedirects makes a redirect an error answer: following it would send
// the key to another address (Go keeps Authorization on a redirect to the
// same host, even from https to http).
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// unwrapURLError drops url.Error's wrapping, whose text repeats the URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
