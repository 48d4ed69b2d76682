package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

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
	log := c.logger(ctx)
	for attempt := 1; ; attempt++ {
		requests.Add(1)
		p, retryAfter, err := c.get(ctx, u, attempt, log)
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
		if dl, ok := ctx.Deadline(); ok && !time.Now().Add(wait).Before(dl) {
			// The retry would be sent at the deadline or after it.
			return nil, fmt.Errorf("%w; not retried: waiting %v would pass the scrape deadline", err, wait.Round(time.Millisecond))
		}
		log.Debug("retrying API request", "path", u.RequestURI(), "attempt", attempt, "wait", wait, "err", err)
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

// get makes one request, the attempt-th for u, and logs it at debug level
// on log: method, path, status (or error), time and attempt, never a
// header. retryAfter is how long to wait before trying again: negative
// when the error is not worth retrying, 0 for the default backoff.
//
// Whatever the answer echoes (body, headers, a decoded field) may hold the
// key: it is redacted from the page and from every error get returns.
func (c *Client) get(ctx context.Context, u *url.URL, attempt int, log *slog.Logger) (p *page, retryAfter time.Duration, err error) {
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
		took := time.Since(start)
		path := RedactText(u.RequestURI(), key)
		if code == "error" && errors.Is(ctx.Err(), context.Canceled) {
			// Abandoned by us (another page failed, or the scrape went
			// away), not failed by the API: not an API request to count.
			// One cut short by the deadline still counts as "error".
			log.Debug("API request abandoned", "method", req.Method, "path", path, "took", took, "attempt", attempt)
			return
		}
		if code == "error" {
			log.Debug("API request failed", "method", req.Method, "path", path, "err", err, "took", took, "attempt", attempt)
		} else {
			log.Debug("API request", "method", req.Method, "path", path, "status", code, "took", took, "attempt", attempt)
		}
		c.cfg.Metrics.Requests.WithLabelValues(code).Inc()
		c.cfg.Metrics.Duration.Observe(took.Seconds())
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
			return nil, -1, c.nameSources(apiErr)
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

// nameSources adds to an answer that says the key or the URL is wrong where
// the operator set them (Config.KeySetting, Config.URLSetting), so that the
// message points at what to change in this mode: the client knows no flag
// or file field.
func (c *Client) nameSources(e *APIError) error {
	var where []string
	if e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden {
		if c.cfg.KeySetting != nil {
			where = append(where, "the key comes from "+c.cfg.KeySetting())
		}
	}
	if e.Status == http.StatusUnauthorized || e.Status == http.StatusNotFound || e.Status/100 == 3 {
		if c.cfg.URLSetting != "" {
			where = append(where, "the API URL from "+c.cfg.URLSetting)
		}
	}
	if len(where) == 0 {
		return e
	}
	return &sourcedError{APIError: e, where: strings.Join(where, ", ")}
}

// sourcedError is an APIError with where its key and URL were set.
type sourcedError struct {
	*APIError
	where string
}

func (e *sourcedError) Error() string { return e.APIError.Error() + "; " + e.where }
func (e *sourcedError) Unwrap() error { return e.APIError }
