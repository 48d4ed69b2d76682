package client

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
)

// MaxListingLog bounds the log a listing keeps: a few hundred request
// lines, enough to follow a fleet of a hundred thousand numbers page by
// page, and small enough to keep one (or a few) per account.
const MaxListingLog = 64 << 10

// ListingLog is the log of one listing, as blackbox_exporter keeps the
// log of one probe: every line the listing logs, at every level, as text,
// whatever the exporter's --log.level. Everyone who gets the listing
// (started, joined or reused from the cache) sees the same log. The key is
// redacted before a line is stored, and the log stops at MaxListingLog
// bytes.
type ListingLog struct {
	redact func(string) string // nil: nothing to redact

	mu      sync.Mutex
	buf     bytes.Buffer
	dropped int
}

// NewListingLog returns an empty log whose lines pass through redact
// (nil: none) before they are stored.
func NewListingLog(redact func(string) string) *ListingLog {
	return &ListingLog{redact: redact}
}

// Write stores one formatted line, redacted, as far as the bound allows.
func (l *ListingLog) Write(p []byte) (int, error) {
	line := string(p)
	if l.redact != nil {
		line = l.redact(line)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	keep := min(len(line), max(MaxListingLog-l.buf.Len(), 0))
	if keep < len(line) {
		keep = 0 // whole lines only
	}
	l.buf.WriteString(line[:keep])
	l.dropped += len(line) - keep
	return len(p), nil
}

// Text returns the log so far, with a last line saying how much was cut.
func (l *ListingLog) Text() string {
	if l == nil {
		return ""
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.buf.String()
	if l.dropped > 0 {
		s += fmt.Sprintf("(the listing logged %d more bytes, beyond the %d kept)\n", l.dropped, MaxListingLog)
	}
	return s
}

// Logger returns a logger that writes both to next, at next's level, and
// to l at every level.
func (l *ListingLog) Logger(next *slog.Logger) *slog.Logger {
	if next == nil {
		next = slog.New(slog.DiscardHandler)
	}
	return slog.New(&teeHandler{next: next.Handler(), text: slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug})})
}

// teeHandler hands each record to the exporter's log if it takes that
// level, and always to the listing's log.
type teeHandler struct {
	next slog.Handler
	text slog.Handler
}

func (h *teeHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *teeHandler) Handle(ctx context.Context, r slog.Record) error {
	var err error
	if h.next.Enabled(ctx, r.Level) {
		err = h.next.Handle(ctx, r.Clone())
	}
	h.text.Handle(ctx, r)
	return err
}

func (h *teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &teeHandler{next: h.next.WithAttrs(as), text: h.text.WithAttrs(as)}
}

func (h *teeHandler) WithGroup(name string) slog.Handler {
	return &teeHandler{next: h.next.WithGroup(name), text: h.text.WithGroup(name)}
}

type listingLogKey struct{}

// withListingLog returns ctx carrying the log of the listing it runs.
func withListingLog(ctx context.Context, l *ListingLog) context.Context {
	return context.WithValue(ctx, listingLogKey{}, l)
}

// logger returns the client's logger, writing also to the log of the
// listing ctx runs, if any.
func (c *Client) logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(listingLogKey{}).(*ListingLog); ok {
		return l.Logger(c.log)
	}
	return c.log
}
