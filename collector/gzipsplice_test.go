package collector

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"hash/crc32"
	"io"
	"strings"
	"testing"
)

func TestCRC32Combine(t *testing.T) {
	for _, tc := range []struct{ a, b string }{
		{"", ""},
		{"a", ""},
		{"", "b"},
		{"hello, ", "world"},
		{strings.Repeat("x", 1000), strings.Repeat("yz", 4097)},
		{"\x00\x00", "\xff\xff\xff"},
	} {
		a, b := []byte(tc.a), []byte(tc.b)
		want := crc32.ChecksumIEEE(append(append([]byte{}, a...), b...))
		if got := crc32Combine(crc32.ChecksumIEEE(a), crc32.ChecksumIEEE(b), int64(len(b))); got != want {
			t.Errorf("combine(%d bytes, %d bytes) = %08x, want %08x", len(a), len(b), got, want)
		}
	}
}

func FuzzCRC32Combine(f *testing.F) {
	f.Add([]byte("a"), []byte("b"))
	f.Add([]byte{}, bytes.Repeat([]byte{0}, 300))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		want := crc32.ChecksumIEEE(append(append([]byte{}, a...), b...))
		if got := crc32Combine(crc32.ChecksumIEEE(a), crc32.ChecksumIEEE(b), int64(len(b))); got != want {
			t.Fatalf("combine = %08x, want %08x", got, want)
		}
	})
}

// splice writes parts as one answer: even parts as kept segments, odd
// parts streamed, as an answer mixes them.
func splice(t *testing.T, aw answerWriter, parts []string) {
	t.Helper()
	for i, p := range parts {
		write := func(w *bufio.Writer) error { _, err := w.WriteString(p); return err }
		if i%2 == 0 {
			seg, err := compressSegment(write)
			if err != nil {
				t.Fatal(err)
			}
			if err := aw.segment(seg); err != nil {
				t.Fatal(err)
			}
		} else if err := aw.stream(write); err != nil {
			t.Fatal(err)
		}
	}
	if err := aw.close(); err != nil {
		t.Fatal(err)
	}
}

func TestSplicedGzipIsOneMember(t *testing.T) {
	parts := []string{"# HELP a x\n", "", strings.Repeat("a{id=\"1\"} 1\n", 5000), "b 2\n", "", "c 3\n"}
	want := strings.Join(parts, "")
	var z bytes.Buffer
	splice(t, newGzipAnswer(&z), parts)

	zr, err := gzip.NewReader(bytes.NewReader(z.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	zr.Multistream(false) // one member, as curl reads it
	got, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("decoded %d bytes, want %d", len(got), len(want))
	}

	var plain bytes.Buffer
	splice(t, newPlainAnswer(&plain), parts)
	if plain.String() != want {
		t.Fatalf("plain answer differs: %d bytes, want %d", plain.Len(), len(want))
	}
}

func FuzzSplicedGzip(f *testing.F) {
	f.Add("a", "", "b")
	f.Add("", "", "")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		var z bytes.Buffer
		splice(t, newGzipAnswer(&z), []string{a, b, c})
		zr, err := gzip.NewReader(&z)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(zr) // checks the CRC and ISIZE
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != a+b+c {
			t.Fatal("decoded text differs")
		}
	})
}
