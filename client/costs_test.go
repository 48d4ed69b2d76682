package client

import (
	"bytes"
	"fmt"
	"testing"
)

// These tests pin what a listing costs where the result alone cannot show
// it: a canonical uuid held as 16 bytes, maps and buffers sized once, the
// page buffers that go back to the pool. And the helpers that read page
// bytes stay in bounds on texts cut short, which valid JSON never is.

// A canonical uuid is held as its 16 bytes, not as text (the flag tells),
// and read back as sent.
func TestCanonicalUUIDIsHeldAsBytes(t *testing.T) {
	const id = "8d0e9c1a-0b2c-4d3e-8f40-5a6b7c8d9e0f"
	var got ident
	if !parseUUID(&got, id) {
		t.Fatalf("parseUUID(%q) refused a canonical uuid", id)
	}
	want := ident{0x8d, 0x0e, 0x9c, 0x1a, 0x0b, 0x2c, 0x4d, 0x3e, 0x8f, 0x40, 0x5a, 0x6b, 0x7c, 0x8d, 0x9e, 0x0f}
	if got != want {
		t.Errorf("parseUUID(%q) = %x, want %x", id, got, want)
	}
	b := newBlock([]PhoneNumber{{ID: id, CredentialsID: id}}, nil)
	if f := b.recs[0].flags; f&flagIDUUID == 0 || f&flagCredentialsUUID == 0 {
		t.Errorf("flags %08b: the uuids are held as text", f)
	}
	if n := NewListing([]PhoneNumber{{ID: id, CredentialsID: id}}).At(0); n.ID != id || n.CredentialsID != id {
		t.Errorf("read back as %q, %q", n.ID, n.CredentialsID)
	}
}

// Listing.At gives each number its own uuid strings: a later call does
// not change an earlier number's.
func TestListingAtUUIDsOutliveTheNextCall(t *testing.T) {
	ids := []string{"8d0e9c1a-0b2c-4d3e-8f40-5a6b7c8d9e01", "8d0e9c1a-0b2c-4d3e-8f40-5a6b7c8d9e02"}
	l := NewListing([]PhoneNumber{{ID: ids[0], CredentialsID: ids[0]}, {ID: ids[1], CredentialsID: ids[1]}})
	first := l.At(0)
	_ = l.At(1)
	if first.ID != ids[0] || first.CredentialsID != ids[0] {
		t.Errorf("number 0 reads %q, %q after At(1), want %q", first.ID, first.CredentialsID, ids[0])
	}
}

// The id set is sized for the listing: adding every id allocates nothing
// beyond the set itself, for uuids and text ids alike.
func TestIDSetIsSizedOnce(t *testing.T) {
	for _, kind := range []string{"uuid", "text"} {
		t.Run(kind, func(t *testing.T) {
			items := make([]PhoneNumber, blockSize)
			for i := range items {
				items[i].ID = fmt.Sprintf("num-%04d", i)
				if kind == "uuid" {
					items[i].ID = fmt.Sprintf("8d0e9c1a-0b2c-4d3e-8f40-5a6b7c8d%04x", i)
				}
			}
			pages := []*fetched{{total: len(items), block: newBlock(items, nil)}}
			set := testing.AllocsPerRun(20, func() { newIDSet(pages) })
			filled := testing.AllocsPerRun(20, func() {
				s := newIDSet(pages)
				b := pages[0].block
				for j := range b.recs {
					if dup, err := s.add(b, &b.recs[j]); dup || err != nil {
						panic(fmt.Sprint("id ", j, " refused: ", dup, err))
					}
				}
			})
			if filled > set {
				t.Errorf("adding %d ids allocated %.0f times beyond the set's own %.0f: the set was not sized for them", len(items), filled-set, set)
			}
		})
	}
}

// readPage keeps a buffer that is exactly big enough.
func TestReadPageReusesABufferOfTheSizeWanted(t *testing.T) {
	body := bytes.NewReader([]byte(`{"items":[],"totalCount":0}`))
	buf := make([]byte, 0, 64<<10) // the least readPage asks for
	allocs := testing.AllocsPerRun(20, func() {
		body.Seek(0, 0)
		got, err := readPage(buf, body, -1)
		if err != nil || len(got) != int(body.Size()) {
			panic(fmt.Sprint("readPage: ", len(got), err))
		}
	})
	if allocs != 0 {
		t.Errorf("readPage allocated %.0f times with a buffer of the size it wants", allocs)
	}
}

// A page buffer goes back to the pool up to maxPooledBuf, not past it.
func TestPoolableBound(t *testing.T) {
	if !poolable(make([]byte, 0, maxPooledBuf)) {
		t.Error("a buffer of maxPooledBuf is not pooled")
	}
	if poolable(make([]byte, 0, maxPooledBuf+1)) {
		t.Error("a buffer past maxPooledBuf is pooled")
	}
	if !poolable(nil) {
		t.Error("a new (empty) buffer is not pooled")
	}
}

// unescape sizes its two slices once, for a text without escapes too.
func TestUnescapeAllocatesTwice(t *testing.T) {
	text := spelled{b: []byte("no escape in this text at all")}
	if allocs := testing.AllocsPerRun(20, func() { text.unescape() }); allocs != 2 {
		t.Errorf("unescape allocated %.0f times, want 2 (its bytes and their origins)", allocs)
	}
}

// The scans over raw page bytes stay in bounds when the text ends inside
// an escape, and still see a surrogate's first two digits at its very end.
func TestPageByteScansAtTheEndOfTheText(t *testing.T) {
	for _, tc := range []struct {
		text  string
		lossy bool
	}{
		{`x\ud8`, true},   // the two digits that make a surrogate, then the end
		{`x\uD9`, true},   // upper case
		{`ab\u`, false},   // an escape cut right after its u
		{`\u`, false},     // and nothing else
		{`\ud`, false},    // one digit
		{`\u0041`, false}, // no surrogate
	} {
		if got := mayHaveLossyText([]byte(tc.text)); got != tc.lossy {
			t.Errorf("mayHaveLossyText(%q) = %v, want %v", tc.text, got, tc.lossy)
		}
	}
	for _, s := range []string{"", "1", "12", "123"} {
		if r, ok := hex4([]byte(s), 0); ok {
			t.Errorf("hex4(%q) = %U, true; want false: too short", s, r)
		}
	}
	if r, ok := hex4([]byte("u00e9"), 1); !ok || r != 'é' {
		t.Errorf(`hex4("u00e9", 1) = %U, %v; want U+00E9`, r, ok)
	}
}
