package connlimit

import (
	"errors"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// pieceSize is the most written under one write deadline: a reader must
// take this much per SendTimeout (16 KiB per 5 s, 3.2 KB/s) to keep its
// answer, close to nginx's "no bytes taken for send_timeout".
const pieceSize = 16 << 10

// WriteBy makes the answer written to w end by deadline (the answer's own,
// e.g. its listing's) plus WriteAllowance, on top of SendTimeout for each
// piece. It returns the writer to write the answer to: w itself when w
// already paces its writes (it does under Limiter.Handler), else w wrapped.
func WriteBy(w http.ResponseWriter, deadline time.Time) http.ResponseWriter {
	for inner := w; inner != nil; {
		if pw, ok := inner.(*pacedWriter); ok {
			pw.cap = deadline.Add(pw.allowance)
			return w
		}
		u, ok := inner.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			break
		}
		inner = u.Unwrap()
	}
	return &pacedWriter{ResponseWriter: w, rc: http.NewResponseController(w), timeout: SendTimeout, allowance: WriteAllowance, cap: deadline.Add(WriteAllowance)}
}

// pacedWriter pushes the connection's write deadline forward before each
// piece it writes, so that a reader that keeps taking bytes is never cut
// and one that stops is cut after timeout, and never past cap.
type pacedWriter struct {
	http.ResponseWriter
	rc        *http.ResponseController
	timeout   time.Duration
	allowance time.Duration
	cap       time.Time              // zero: none
	closed    *prometheus.CounterVec // nil: not counted
	counted   bool
}

func (p *pacedWriter) Write(b []byte) (int, error) {
	written := 0
	for len(b) > 0 {
		piece := b[:min(len(b), pieceSize)]
		p.push()
		n, err := p.ResponseWriter.Write(piece)
		written += n
		if err != nil {
			p.count(err)
			return written, err
		}
		b = b[n:]
	}
	return written, nil
}

// Flush sends what is buffered, under the same deadline as a write.
func (p *pacedWriter) Flush() {
	p.push()
	if err := p.rc.Flush(); err != nil {
		p.count(err)
	}
}

// Unwrap lets http.ResponseController reach net/http's writer.
func (p *pacedWriter) Unwrap() http.ResponseWriter { return p.ResponseWriter }

func (p *pacedWriter) push() {
	d := time.Now().Add(p.timeout)
	if !p.cap.IsZero() && p.cap.Before(d) {
		d = p.cap
	}
	p.rc.SetWriteDeadline(d) // not supported (a test's recorder): nothing to pace
}

func (p *pacedWriter) count(err error) {
	if p.counted || p.closed == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
		return
	}
	p.counted = true
	reason := reasonSendTimeout
	if !p.cap.IsZero() && !time.Now().Before(p.cap) {
		reason = reasonAnswerDeadline
	}
	p.closed.WithLabelValues(reason).Inc()
}
