package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
)

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

// poolable reports whether buf goes back to the pool.
func poolable(buf []byte) bool { return cap(buf) <= maxPooledBuf }

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
		if poolable(*bp) {
			pageBufs.Put(bp)
		}
	}()
	data, err := readPage(*bp, body, size)
	*bp = data
	switch {
	case len(data) > int(maxPageBody):
		return nil, fmt.Errorf("the page is larger than the limit of %d bytes (if the API's pages really are this large, lower the page size)", maxPageBody)
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
	if mayHaveLossyText(data) {
		if err := escapeIDs(data, &p); err != nil {
			return nil, err
		}
	}
	if redact && bytes.Contains(data, []byte{'\\'}) {
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
		escaped := false // by an odd run of backslashes
		for j := q - 1; j >= from && data[j] == '\\'; j-- {
			escaped = !escaped
		}
		if !escaped {
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
