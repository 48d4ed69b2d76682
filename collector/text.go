package collector

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/dasha-exporter/dasha_exporter/client"
)

// WriteText writes every per-number series of a successful listing to w in
// the Prometheus text format (version 0.0.4). It writes nothing for a
// failed listing.
//
// Building each series as a const metric and gathering it through a
// registry costs about 850 bytes and 18 allocations per series; at 100,000
// numbers (over a million series) that is a gigabyte. Like
// kube-state-metrics, the per-number families are therefore written
// straight to the exposition format, one family at a time, from the same
// family table that drives Collect. Tests prove that both give the same
// metrics through prometheus/common's parser.
func (s *Scrape) WriteText(w io.Writer) error {
	if !s.OK() {
		return nil
	}
	bw, ok := w.(*bufio.Writer)
	if !ok {
		bw = bufio.NewWriterSize(w, 64<<10)
	}
	for i, f := range families {
		if !s.exposes(f.name) {
			continue
		}
		if err := s.writeFamily(bw, i); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// writeFamily writes family i of a successful listing: its HELP and TYPE
// lines and every sample, walking the compact listing without allocating.
// It stops formatting at the first write error (the scraper went away) and
// says which family it was writing.
func (s *Scrape) writeFamily(w *bufio.Writer, i int) error {
	f := families[i]
	ts := &textSink{w: w}
	ts.start(f)
	for _, n := range s.Listing.All() {
		f.emit(ts, n, s.rules, s.Time)
		if ts.err != nil {
			break
		}
	}
	if ts.err != nil {
		return fmt.Errorf("writing %s: %w", f.name, ts.err)
	}
	return nil
}

// textSink writes the samples of one family. Labels are written sorted by
// name, as prometheus/common's own encoder writes them.
type textSink struct {
	w    *bufio.Writer
	err  error // the first write error
	buf  []byte
	name string
	// order lists, for each label in name order, its index among the
	// family's labels (id is -2, phone_number -1).
	order []int
	names []string
}

// start writes a family's HELP and TYPE lines and prepares its labels.
func (t *textSink) start(f family) {
	t.name = f.name
	t.names = append([]string{"id", "phone_number"}, f.labels...)
	t.order = make([]int, len(t.names))
	for i := range t.order {
		t.order[i] = i - 2
	}
	slices.SortFunc(t.order, func(a, b int) int { return strings.Compare(t.names[a+2], t.names[b+2]) })

	b := t.buf[:0]
	b = append(b, "# HELP "...)
	b = append(b, f.name...)
	b = append(b, ' ')
	b = appendEscaped(b, f.help, false)
	b = append(b, "\n# TYPE "...)
	b = append(b, f.name...)
	b = append(b, " gauge\n"...)
	t.write(b)
}

func (t *textSink) add(n *client.PhoneNumber, v float64, lv labelValues) {
	if t.err != nil {
		return // the scraper went away: format nothing more
	}
	b := append(t.buf[:0], t.name...)
	for i, k := range t.order {
		if i == 0 {
			b = append(b, '{')
		} else {
			b = append(b, ',')
		}
		b = append(b, t.names[k+2]...)
		b = append(b, `="`...)
		switch k {
		case -2:
			b = appendEscaped(b, cutID(n.ID), true)
		case -1:
			b = appendEscaped(b, cutID(n.PhoneNumber), true)
		default:
			b = appendEscaped(b, lv[k], true)
		}
		b = append(b, '"')
	}
	b = append(b, "} "...)
	b = appendFloat(b, v)
	b = append(b, '\n')
	t.write(b)
}

// write writes a line, remembering the first error, and keeps the buffer
// for the next line.
func (t *textSink) write(b []byte) {
	if _, err := t.w.Write(b); err != nil && t.err == nil {
		t.err = err
	}
	t.buf = b
}

// appendEscaped escapes a label value (backslash, newline, double quote)
// or HELP text (backslash, newline) for the text format.
func appendEscaped(b []byte, s string, quote bool) []byte {
	if !strings.ContainsAny(s, "\\\n\"") {
		return append(b, s...)
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b = append(b, `\\`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '"' && quote:
			b = append(b, `\"`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendFloat formats a sample value as prometheus/common's encoder does.
func appendFloat(b []byte, v float64) []byte {
	switch {
	case v == 1:
		return append(b, '1')
	case v == 0:
		return append(b, '0')
	case v == -1:
		return append(b, "-1"...)
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case math.IsInf(v, +1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}
