// Package connlimit bounds what the exporter's HTTP connections may hold:
// how many are open at once (--web.max-connections), how long one may take
// to send its request or sit idle, and how long a reader may stall an
// answer. Without these bounds an attacker holding idle or half-sent
// connections locks Prometheus out, and a reader that never reads keeps its
// answer's memory alive.
//
// At the limit a new connection closes the connection that has been
// closable the longest (idle, new, or still sending its request; never one
// whose request is being answered), as nginx drains its reusable
// connections. A connection becomes closable when it is accepted and when
// an answer on it is written; bytes trickling in do not make it younger.
// Only when every connection is being answered does a new one wait (held
// by Accept, one per listener), as with Prometheus' netutil.LimitListener:
// each answer ends by its own deadline, so the wait is bounded, and the
// client gets an answer late rather than an error.
package connlimit

import (
	"container/list"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The server's timeouts, all set here (see Limiter.Server).
const (
	// DefaultMaxConnections is --web.max-connections' default, as in
	// Prometheus.
	DefaultMaxConnections = 512
	// ReadHeaderTimeout bounds sending a request's headers, from the
	// connection's first byte (or, on a kept-alive connection, from the
	// next request's first byte). It also bounds the TLS handshake.
	ReadHeaderTimeout = 10 * time.Second
	// ReadTimeout bounds reading a whole request. The server takes only
	// small requests (GET, HEAD, a bodiless POST /-/reload): a few
	// seconds more than the headers is plenty.
	ReadTimeout = 15 * time.Second
	// IdleTimeout closes a kept-alive connection that sends no new
	// request. Two minutes keeps Prometheus' connection across scrapes at
	// the usual intervals (15 s to 1 min; Prometheus itself keeps idle
	// connections 5 min), so that a scrape costs no new TCP or TLS
	// handshake, while an abandoned connection is let go soon.
	IdleTimeout = 2 * time.Minute
	// SendTimeout cuts a reader that takes no part of the answer for this
	// long: nginx's send_timeout, which times only the gaps between two
	// writes. nginx defaults to 60 s for browsers on any link; Prometheus
	// reads a scrape as fast as it arrives, so a few seconds are generous
	// (5 s outlasts several TCP retransmissions), and a stuck reader lets
	// go of its listing soon: answers that keep arriving hold at most the
	// listings of the last 5 s (see docs/performance.md, Connections).
	SendTimeout = 5 * time.Second
	// WriteAllowance is how long after its own deadline (the listing's)
	// an answer may still be written. It is the longest a listing may
	// take (client.MaxListingTime), so that an honest reader of the
	// largest answer (165 MB plain at 100,000 numbers) is not cut unless
	// it reads slower than ~1.4 MB/s, while a reader that trickles bytes
	// just fast enough to dodge SendTimeout holds an answer at most this
	// long after its deadline. Prometheus has given up long before.
	WriteAllowance = 2 * time.Minute
)

// Reasons of dasha_exporter_http_connections_closed_total.
const (
	reasonMaxConnections = "max_connections" // closed to make room for a new connection
	reasonOpenFiles      = "open_files"      // closed to free a file descriptor for accept
	reasonReadTimeout    = "read_timeout"    // did not send its request in time
	reasonIdleTimeout    = "idle_timeout"    // kept alive without a new request
	reasonSendTimeout    = "send_timeout"    // took no part of its answer for SendTimeout
	reasonAnswerDeadline = "answer_deadline" // still reading past its answer's deadline plus WriteAllowance
)

// Phases of dasha_exporter_http_connections.
const (
	phaseNew       = "new"       // accepted, nothing read
	phaseReading   = "reading"   // sending a request that is not complete yet
	phaseAnswering = "answering" // its request is being answered
	phaseIdle      = "idle"      // kept alive between requests
)

// Limiter knows every open connection of the listeners it wraps and its
// phase, and holds at most max of them open.
type Limiter struct {
	max            int
	sendTimeout    time.Duration
	writeAllowance time.Duration

	mu        sync.Mutex
	room      *sync.Cond // signalled when a connection closes or becomes closable
	open      int
	answering int
	closable  list.List // of *conn, the longest closable first

	closed      *prometheus.CounterVec
	connections *prometheus.Desc
	limit       *prometheus.Desc
}

// New returns a Limiter that holds at most maxConns connections open, with its
// metrics registered on reg (the exporter's own registry; nil: none).
func New(maxConns int, reg prometheus.Registerer) *Limiter {
	l := &Limiter{
		max:            max(maxConns, 1),
		sendTimeout:    SendTimeout,
		writeAllowance: WriteAllowance,
		closed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dasha_exporter_http_connections_closed_total",
			Help: "HTTP connections the exporter closed, by reason: max_connections (closed to make room for a new one at --web.max-connections), " +
				"open_files (closed to free a file descriptor when accept ran out), read_timeout (did not send its request in time), " +
				"idle_timeout (kept alive without a new request), send_timeout (took no part of its answer for a while), " +
				"answer_deadline (still reading long after its answer's deadline).",
		}, []string{"reason"}),
		connections: prometheus.NewDesc("dasha_exporter_http_connections",
			"Open HTTP connections by phase: new (nothing read yet), reading (sending its request), answering (its request is being answered), idle (kept alive between requests). "+
				"At --web.max-connections, the connection that has been new, reading or idle the longest is closed to make room.",
			[]string{"phase"}, nil),
		limit: prometheus.NewDesc("dasha_exporter_http_connections_limit",
			"The most HTTP connections the exporter holds open (--web.max-connections).", nil, nil),
	}
	l.room = sync.NewCond(&l.mu)
	for _, r := range []string{reasonMaxConnections, reasonOpenFiles, reasonReadTimeout, reasonIdleTimeout, reasonSendTimeout, reasonAnswerDeadline} {
		l.closed.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(l.closed, (*collector)(l))
	}
	return l
}

// Listener wraps inner: each connection it accepts counts against the
// limit until it is closed. Several listeners may share one Limiter.
func (l *Limiter) Listener(inner net.Listener) net.Listener {
	return &listener{Listener: inner, limiter: l}
}

// Server returns a server for h with the exporter's timeouts and the hooks
// that tell the Limiter each connection's phase. Serve it on listeners
// from l.Listener (or with l.ListenAndServe).
func (l *Limiter) Server(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           l.Handler(h),
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		IdleTimeout:       IdleTimeout,
		ConnState:         l.connState,
		ConnContext:       l.connContext,
	}
}

// Handler marks the connection of each request as being answered (net/http
// reports that with ConnState, except on paths where it skips its hooks),
// and makes every answer's writes progress (see WriteBy).
func (l *Limiter) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := r.Context().Value(connKey{}).(*conn); ok {
			l.setAnswering(c, true)
		}
		pw := &pacedWriter{ResponseWriter: w, rc: http.NewResponseController(w), timeout: l.sendTimeout, allowance: l.writeAllowance, closed: l.closed}
		next.ServeHTTP(pw, r)
		pw.push() // net/http flushes the rest of the answer after the handler
	})
}

// conn is an accepted connection while it counts against the limit.
type conn struct {
	net.Conn
	limiter *Limiter

	read atomic.Bool // bytes have come since it was accepted or last answered

	// Guarded by limiter.mu.
	elem      *list.Element // in limiter.closable, or nil
	answering bool
	wasIdle   bool // it has been answered at least once
	gone      bool // closed, or chosen to be closed
	cut       bool // a timeout was counted
}

func (c *conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && !c.read.Load() {
		c.read.Store(true)
	}
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		c.limiter.readTimedOut(c)
	}
	return n, err
}

func (c *conn) Close() error {
	c.limiter.forget(c)
	return c.Conn.Close()
}

// CloseWrite lets net/http half-close the connection, as it does a
// *net.TCPConn, after an answer that ends it.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *conn) phase() string {
	switch {
	case c.answering:
		return phaseAnswering
	case c.read.Load():
		return phaseReading
	case c.wasIdle:
		return phaseIdle
	}
	return phaseNew
}

type listener struct {
	net.Listener
	limiter *Limiter
	closed  bool // guarded by limiter.mu
}

func (ln *listener) Accept() (net.Conn, error) {
	for {
		nc, err := ln.Listener.Accept()
		if err != nil {
			// Out of file descriptors: free one, rather than leave
			// every new connection in the backlog while idle ones sit.
			if (errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)) && ln.limiter.closeOldest(reasonOpenFiles) {
				continue
			}
			return nil, err
		}
		c, err := ln.limiter.admit(nc, ln)
		if err != nil {
			nc.Close()
			return nil, err
		}
		return c, nil
	}
}

func (ln *listener) Close() error {
	l := ln.limiter
	l.mu.Lock()
	ln.closed = true
	l.room.Broadcast()
	l.mu.Unlock()
	return ln.Listener.Close()
}

// admit counts nc as open, first closing the longest closable connection
// when the limit is reached, or, when every connection is being answered,
// waiting until one is not or the listener closes.
func (l *Limiter) admit(nc net.Conn, ln *listener) (*conn, error) {
	var evicted []*conn
	defer func() {
		for _, old := range evicted {
			old.Conn.Close()
		}
	}()
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.open >= l.max {
		if ln.closed {
			return nil, net.ErrClosed
		}
		if old := l.popOldestLocked(); old != nil {
			l.closed.WithLabelValues(reasonMaxConnections).Inc()
			evicted = append(evicted, old)
			continue
		}
		l.room.Wait()
	}
	c := &conn{Conn: nc, limiter: l}
	l.open++
	c.elem = l.closable.PushBack(c)
	return c, nil
}

// closeOldest closes the longest closable connection, if there is one.
func (l *Limiter) closeOldest(reason string) bool {
	l.mu.Lock()
	old := l.popOldestLocked()
	l.mu.Unlock()
	if old == nil {
		return false
	}
	l.closed.WithLabelValues(reason).Inc()
	old.Conn.Close()
	return true
}

// popOldestLocked takes the longest closable connection off the books;
// the caller closes it.
func (l *Limiter) popOldestLocked() *conn {
	e := l.closable.Front()
	if e == nil {
		return nil
	}
	c := e.Value.(*conn)
	l.forgetLocked(c)
	return c
}

func (l *Limiter) forget(c *conn) {
	l.mu.Lock()
	l.forgetLocked(c)
	l.mu.Unlock()
}

func (l *Limiter) forgetLocked(c *conn) {
	if c.gone {
		return
	}
	c.gone = true
	if c.elem != nil {
		l.closable.Remove(c.elem)
		c.elem = nil
	}
	if c.answering {
		l.answering--
	}
	l.open--
	l.room.Broadcast()
}

// setAnswering moves c out of the closable connections while its request
// is answered, and back, as the longest closable's youngest, once the
// answer is written.
func (l *Limiter) setAnswering(c *conn, answering bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.gone || c.answering == answering {
		return
	}
	c.answering = answering
	if answering {
		l.answering++
		l.closable.Remove(c.elem)
		c.elem = nil
		return
	}
	l.answering--
	c.wasIdle = true
	c.read.Store(false)
	c.elem = l.closable.PushBack(c)
	l.room.Broadcast()
}

// readTimedOut counts a connection net/http is about to close because it
// sent no request, or not all of one, in time. Timeouts while answering
// are net/http interrupting its own background read, not the client's.
func (l *Limiter) readTimedOut(c *conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.gone || c.answering || c.cut {
		return
	}
	c.cut = true
	reason := reasonReadTimeout
	if c.wasIdle && !c.read.Load() {
		reason = reasonIdleTimeout
	}
	l.closed.WithLabelValues(reason).Inc()
}

// connState follows net/http's view of each connection: StateActive means
// a whole request has been read (a half-sent one is still StateNew or
// StateIdle), StateIdle that its answer is written.
func (l *Limiter) connState(nc net.Conn, state http.ConnState) {
	c := unwrap(nc)
	if c == nil {
		return
	}
	switch state {
	case http.StateActive, http.StateHijacked: // a hijacked connection is its handler's: never closed for room
		l.setAnswering(c, true)
	case http.StateIdle:
		l.setAnswering(c, false)
	}
}

type connKey struct{}

// connContext lets the handler find the connection of a request.
func (l *Limiter) connContext(ctx context.Context, nc net.Conn) context.Context {
	if c := unwrap(nc); c != nil {
		return context.WithValue(ctx, connKey{}, c)
	}
	return ctx
}

// unwrap finds our conn under TLS.
func unwrap(nc net.Conn) *conn {
	for {
		switch c := nc.(type) {
		case *conn:
			return c
		case interface{ NetConn() net.Conn }:
			nc = c.NetConn()
		default:
			return nil
		}
	}
}

// collector reports the open connections by phase and the limit.
type collector Limiter

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.connections
	ch <- c.limit
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	l := (*Limiter)(c)
	counts := map[string]int{phaseNew: 0, phaseReading: 0, phaseIdle: 0}
	l.mu.Lock()
	for e := l.closable.Front(); e != nil; e = e.Next() {
		counts[e.Value.(*conn).phase()]++
	}
	counts[phaseAnswering] = l.answering
	l.mu.Unlock()
	for phase, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.connections, prometheus.GaugeValue, float64(n), phase)
	}
	ch <- prometheus.MustNewConstMetric(c.limit, prometheus.GaugeValue, float64(l.max))
}
