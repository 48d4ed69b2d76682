package client

import (
	"iter"
	"sort"

	"time"
)

// Listing is one complete listing of the fleet, de-duplicated by id, in
// the API's order.
//
// The numbers are held compactly, without pointers: a fixed-size record
// per number (uuids as 16 binary bytes, times as Unix seconds and
// nanoseconds, the values that repeat across a page — organisation,
// provider, agent, state, error, SIP answer — as 2-byte indices) and one
// byte arena per page for the texts. That is ~125 bytes a number where
// []PhoneNumber took ~376 and kept the garbage collector walking millions
// of pointers (docs/performance.md, "Memory at 100,000 numbers").
//
// A Listing is immutable once built, and safe for concurrent readers.
type Listing struct {
	Requests int       // HTTP requests it took, retries included
	Relists  int       // times the list shifted and was taken again
	Time     time.Time // when the listing completed

	blocks []*block
	starts []int // starts[b]: the index of blocks[b]'s first number
	n      int
}

// NewListing holds numbers as a Listing, in order and as they are (no
// de-duplication): for tests and the demo.
func NewListing(numbers []PhoneNumber) *Listing {
	var blocks []*block
	for len(numbers) > 0 {
		k := min(len(numbers), blockSize)
		blocks = append(blocks, newBlock(numbers[:k], nil))
		numbers = numbers[k:]
	}
	return newListing(blocks)
}

// newListing indexes blocks, in order, as one listing.
func newListing(blocks []*block) *Listing {
	l := &Listing{blocks: blocks, starts: make([]int, len(blocks))}
	for i, b := range blocks {
		l.starts[i] = l.n
		l.n += len(b.recs)
	}
	return l
}

// Len is how many numbers the listing holds.
func (l *Listing) Len() int {
	if l == nil {
		return 0
	}
	return l.n
}

// At returns number i, 0 <= i < Len(). Its strings point into the
// listing's immutable arena (no copy, see unsafe.String) except uuids,
// which are formatted anew; it owns its RegistrationStatus. A caller that
// walks the whole listing should use All, which allocates nothing.
func (l *Listing) At(i int) PhoneNumber {
	if i < 0 || i >= l.Len() {
		panic("client: Listing.At index out of range")
	}
	b := sort.Search(len(l.starts), func(b int) bool { return l.starts[b] > i }) - 1
	var n PhoneNumber
	var st RegistrationStatus
	// The uuid strings point into ids: a new array for each number.
	ids := new([2 * uuidLen]byte)
	l.blocks[b].load(i-l.starts[b], &n, &st, ids)
	if n.RegistrationStatus != nil {
		n.RegistrationStatus = &RegistrationStatus{}
		*n.RegistrationStatus = st
	}
	return n
}

// All yields every number in order. The *PhoneNumber, its
// RegistrationStatus and its uuid strings (ID, CredentialsID) are reused:
// they are valid only until the next step, like bufio.Scanner's Bytes. The
// other strings point into the listing's immutable arena and stay valid.
// Clone what you keep. Walking a listing this way allocates nothing.
func (l *Listing) All() iter.Seq2[int, *PhoneNumber] {
	return func(yield func(int, *PhoneNumber) bool) {
		if l == nil {
			return
		}
		var n PhoneNumber
		var st RegistrationStatus
		var ids [2 * uuidLen]byte
		i := 0
		for _, b := range l.blocks {
			for j := range b.recs {
				b.load(j, &n, &st, &ids)
				if !yield(i, &n) {
					return
				}
				i++
			}
		}
	}
}

// sameIDs reports whether two listings hold the same ids in the same order.
func (l *Listing) sameIDs(o *Listing) bool {
	if l.Len() != o.Len() {
		return false
	}
	next, stop := iter.Pull2(o.All())
	defer stop()
	for _, n := range l.All() {
		_, m, _ := next()
		if n.ID != m.ID {
			return false
		}
	}
	return true
}
