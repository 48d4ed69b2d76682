package collector

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"hash/crc32"
	"io"
	"sync"
)

// An answer is one gzip stream spliced from raw DEFLATE segments, one per
// family: a segment kept for other answers is copied as it is, the others
// are compressed as they are written. Each segment is compressed on its own
// and ends with a sync flush (never a final block), so segments join into
// one valid DEFLATE stream; the answer then ends with an empty final block
// and a gzip trailer whose CRC-32 is combined from the segments' CRCs. One
// gzip member, not concatenated members: curl --compressed rejects those.

// gzipHeader is a gzip member header: deflate, no name, no time, "fastest"
// (XFL 4), unknown OS.
var gzipHeader = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 255}

// finalBlock is an empty fixed-Huffman block with BFINAL set: the end of
// a DEFLATE stream whose segments end in sync flushes.
var finalBlock = []byte{0x03, 0x00}

// segment is the text of one family as raw DEFLATE ending in a sync flush,
// with the CRC-32 and length of the text.
type segment struct {
	deflated []byte
	crc      uint32
	size     int64
}

// flateWriters reuses compressors: one costs ~1 MB of allocations.
var flateWriters = sync.Pool{New: func() any {
	fw, _ := flate.NewWriter(nil, flate.BestSpeed)
	return fw
}}

// textCounter compresses text into fw, keeping its CRC-32 and length.
type textCounter struct {
	fw   *flate.Writer
	crc  uint32
	size int64
}

func (t *textCounter) Write(p []byte) (int, error) {
	t.crc = crc32.Update(t.crc, crc32.IEEETable, p)
	t.size += int64(len(p))
	return t.fw.Write(p)
}

// compressSegment renders text through write into a segment of its own.
func compressSegment(write func(*bufio.Writer) error) (*segment, error) {
	var buf bytes.Buffer
	fw := flateWriters.Get().(*flate.Writer)
	defer flateWriters.Put(fw)
	fw.Reset(&buf)
	tc := &textCounter{fw: fw}
	bw := bufio.NewWriterSize(tc, 64<<10)
	if err := write(bw); err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	if err := fw.Flush(); err != nil { // a sync flush: no final block
		return nil, err
	}
	// An exact copy: a kept segment should hold what it needs, not what a
	// doubling buffer grew to.
	return &segment{deflated: bytes.Clone(buf.Bytes()), crc: tc.crc, size: tc.size}, nil
}

// answerWriter writes an answer segment by segment, in one encoding.
type answerWriter interface {
	// segment writes a rendered segment.
	segment(seg *segment) error
	// stream writes the text that write produces, rendered for this
	// answer only.
	stream(write func(*bufio.Writer) error) error
	// close ends the answer.
	close() error
}

// gzipAnswer writes one gzip member to w.
type gzipAnswer struct {
	w    *bufio.Writer
	crc  uint32
	size int64
	text *bufio.Writer
}

func newGzipAnswer(w io.Writer) *gzipAnswer {
	bw := bufio.NewWriterSize(w, 32<<10)
	bw.Write(gzipHeader) // into the empty buffer: a write error shows at the first flush
	return &gzipAnswer{w: bw}
}

func (z *gzipAnswer) segment(seg *segment) error {
	if _, err := z.w.Write(seg.deflated); err != nil {
		return err
	}
	z.crc = crc32Combine(z.crc, seg.crc, seg.size)
	z.size += seg.size
	return nil
}

func (z *gzipAnswer) stream(write func(*bufio.Writer) error) error {
	// A compressor for this segment only: answers waiting for another's
	// rendering hold none, so 20 answers in step need a few, not 20 (~1 MB
	// each).
	fw := flateWriters.Get().(*flate.Writer)
	defer flateWriters.Put(fw)
	fw.Reset(z.w)
	tc := &textCounter{fw: fw, crc: z.crc}
	if z.text == nil {
		z.text = bufio.NewWriterSize(tc, 64<<10)
	} else {
		z.text.Reset(tc)
	}
	if err := write(z.text); err != nil {
		return err
	}
	if err := z.text.Flush(); err != nil {
		return err
	}
	if err := fw.Flush(); err != nil {
		return err
	}
	z.crc = tc.crc // the running CRC went on through the text
	z.size += tc.size
	return nil
}

func (z *gzipAnswer) close() error {
	var trailer [8]byte
	binary.LittleEndian.PutUint32(trailer[:4], z.crc)
	binary.LittleEndian.PutUint32(trailer[4:], uint32(z.size)) // ISIZE: the length mod 2^32
	if _, err := z.w.Write(finalBlock); err != nil {
		return err
	}
	if _, err := z.w.Write(trailer[:]); err != nil {
		return err
	}
	return z.w.Flush()
}

// plainAnswer writes the text itself, inflating rendered segments on the
// fly: a client that takes no gzip costs no uncompressed copy.
type plainAnswer struct {
	w  *bufio.Writer
	fr io.ReadCloser
}

func newPlainAnswer(w io.Writer) *plainAnswer {
	return &plainAnswer{w: bufio.NewWriterSize(w, 64<<10)}
}

func (p *plainAnswer) segment(seg *segment) error {
	// A segment ends in a sync flush: with a final block it is a whole
	// DEFLATE stream of its own.
	src := io.MultiReader(bytes.NewReader(seg.deflated), bytes.NewReader(finalBlock))
	if p.fr == nil {
		p.fr = flate.NewReader(src)
	} else if err := p.fr.(flate.Resetter).Reset(src, nil); err != nil {
		return err
	}
	_, err := p.w.ReadFrom(p.fr)
	return err
}

func (p *plainAnswer) stream(write func(*bufio.Writer) error) error { return write(p.w) }

func (p *plainAnswer) close() error { return p.w.Flush() }

// crc32Combine returns the CRC-32 (IEEE) of A followed by B from crc1 of
// A, crc2 of B and B's length, as zlib's crc32_combine does: appending
// len2 zero bytes to A is a linear map over GF(2), applied by squaring an
// operator matrix once per bit of len2. len2 is a length, never negative;
// with 0 no operator is applied and crc2, the CRC-32 of nothing, is 0.
func crc32Combine(crc1, crc2 uint32, len2 int64) uint32 {
	var even, odd [32]uint32
	odd[0] = crc32.IEEE // the operator for one zero bit
	row := uint32(1)
	for n := 1; n < 32; n++ {
		odd[n] = row
		row <<= 1
	}
	gf2Square(&even, &odd) // two zero bits
	gf2Square(&odd, &even) // four zero bits
	for {
		gf2Square(&even, &odd) // the first pass: one zero byte
		if len2&1 != 0 {
			crc1 = gf2Times(&even, crc1)
		}
		len2 >>= 1
		if len2 == 0 {
			break
		}
		gf2Square(&odd, &even)
		if len2&1 != 0 {
			crc1 = gf2Times(&odd, crc1)
		}
		len2 >>= 1
		if len2 == 0 {
			break
		}
	}
	return crc1 ^ crc2
}

// gf2Times multiplies the 32x32 GF(2) matrix mat by vec.
func gf2Times(mat *[32]uint32, vec uint32) uint32 {
	var sum uint32
	for i := 0; vec != 0; i, vec = i+1, vec>>1 {
		if vec&1 != 0 {
			sum ^= mat[i]
		}
	}
	return sum
}

// gf2Square sets square to mat times mat.
func gf2Square(square, mat *[32]uint32) {
	for n := range 32 {
		square[n] = gf2Times(mat, mat[n])
	}
}
