package client

import (
	"time"
	"unsafe"
)

// blockSize is the most numbers a block holds: a page of the largest take.
// It keeps a block's shared values within a uint16 index.
const blockSize = MaxPageSize

// block holds the numbers of one page.
type block struct {
	recs []record
	// texts holds every text of the block's numbers; a value shared by
	// several numbers (see record.shared) is held once.
	texts  []byte
	shared []span // shared[0] is ""
}

// record is one number, without pointers.
type record struct {
	id, credentials ident
	phone, display  span
	secs            [3]int64 // createdTime, lastUpdated, expiresAt: Unix seconds
	nsecs           [3]int32 // ... and their nanoseconds
	shared          [nShared]uint16
	flags           uint8
}

// The record's shared values, indices into block.shared.
const (
	sharedOrg = iota
	sharedProvider
	sharedAgent
	sharedState
	sharedError
	sharedSIP
	nShared
)

// The record's times.
const (
	timeCreated = iota
	timeLastUpdated
	timeExpires
)

const (
	flagRegistration    uint8 = 1 << iota
	flagStatus                // registrationStatus was not null
	flagIDUUID                // id holds a binary uuid, not a span
	flagCredentialsUUID       // credentials likewise
	flagIDEscaped             // the id held bytes that are not text; see escapedID
)

// span is a text in block.texts.
type span struct{ off, n uint32 }

// ident is a uuid as 16 binary bytes, or a span (in its first 8 bytes).
type ident [16]byte

// zeroSecs is the Unix time of the zero time.Time, which stands for null.
var zeroSecs = time.Time{}.Unix()

// text returns s's string, pointing into the immutable texts.
func (b *block) text(s span) string {
	if s.n == 0 {
		return ""
	}
	return unsafe.String(&b.texts[s.off], int(s.n))
}

// identText returns an ident's string; a uuid is formatted into buf.
func (b *block) identText(id *ident, uuid bool, buf []byte) string {
	if uuid {
		formatUUID(buf, id)
		return unsafe.String(&buf[0], uuidLen)
	}
	return b.text(id.span())
}

func (id *ident) span() span {
	return span{off: le32(id[0:4]), n: le32(id[4:8])}
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// load sets *n to record j; a status goes into *st, uuids into ids.
func (b *block) load(j int, n *PhoneNumber, st *RegistrationStatus, ids *[2 * uuidLen]byte) {
	r := &b.recs[j]
	*n = PhoneNumber{
		ID:                   b.identText(&r.id, r.flags&flagIDUUID != 0, ids[:uuidLen]),
		OrgID:                b.text(b.shared[r.shared[sharedOrg]]),
		PhoneNumber:          b.text(r.phone),
		CredentialsID:        b.identText(&r.credentials, r.flags&flagCredentialsUUID != 0, ids[uuidLen:]),
		DisplayName:          b.text(r.display),
		Registration:         r.flags&flagRegistration != 0,
		ProviderID:           b.text(b.shared[r.shared[sharedProvider]]),
		IncomingCallsAgentID: b.text(b.shared[r.shared[sharedAgent]]),
		CreatedTime:          r.time(timeCreated),
	}
	if r.flags&flagStatus != 0 {
		*st = RegistrationStatus{
			State:              b.text(b.shared[r.shared[sharedState]]),
			ErrorDescription:   b.text(b.shared[r.shared[sharedError]]),
			SIPResponseMessage: b.text(b.shared[r.shared[sharedSIP]]),
			LastUpdated:        r.time(timeLastUpdated),
			ExpiresAt:          r.time(timeExpires),
		}
		n.RegistrationStatus = st
	}
}

func (r *record) time(k int) Time {
	if r.secs[k] == zeroSecs && r.nsecs[k] == 0 {
		return Time{} // null
	}
	return Time{time.Unix(r.secs[k], int64(r.nsecs[k])).UTC()}
}

func (r *record) setTime(k int, t Time) {
	r.secs[k], r.nsecs[k] = t.Unix(), int32(t.Nanosecond())
}

// newBlock holds items (at most blockSize) compactly. escaped, if not nil,
// marks the items whose id was escaped (see escapedID).
func newBlock(items []PhoneNumber, escaped []bool) *block {
	if len(items) > blockSize {
		panic("client: a block of more than blockSize numbers")
	}
	// First the shared values, each once, and the size of every text.
	index := map[string]uint16{"": 0}
	sharedValues := []string{""}
	size := 0
	share := func(s string) {
		if _, ok := index[s]; !ok {
			index[s] = uint16(len(sharedValues))
			sharedValues = append(sharedValues, s)
			size += len(s)
		}
	}
	for i := range items {
		n := &items[i]
		share(n.OrgID)
		share(n.ProviderID)
		share(n.IncomingCallsAgentID)
		if st := n.RegistrationStatus; st != nil {
			share(st.State)
			share(st.ErrorDescription)
			share(st.SIPResponseMessage)
		}
		size += len(n.PhoneNumber) + len(n.DisplayName)
		if !isCanonicalUUID(n.ID) {
			size += len(n.ID)
		}
		if !isCanonicalUUID(n.CredentialsID) {
			size += len(n.CredentialsID)
		}
	}
	if int(uint32(size)) != size {
		// A span's uint32 offsets would wrap. Cannot happen for a page
		// (bounded by maxPageBody) or NewListing's test fleets.
		panic("client: a block's texts exceed 4 GiB")
	}
	b := &block{recs: make([]record, len(items)), texts: make([]byte, 0, size), shared: make([]span, len(sharedValues))}
	for i, s := range sharedValues {
		b.shared[i] = b.add(s)
	}
	for i := range items {
		n, r := &items[i], &b.recs[i]
		if b.ident(&r.id, n.ID) {
			r.flags |= flagIDUUID
		}
		if b.ident(&r.credentials, n.CredentialsID) {
			r.flags |= flagCredentialsUUID
		}
		r.phone, r.display = b.add(n.PhoneNumber), b.add(n.DisplayName)
		r.shared[sharedOrg] = index[n.OrgID]
		r.shared[sharedProvider] = index[n.ProviderID]
		r.shared[sharedAgent] = index[n.IncomingCallsAgentID]
		r.setTime(timeCreated, n.CreatedTime)
		r.setTime(timeLastUpdated, Time{})
		r.setTime(timeExpires, Time{})
		if n.Registration {
			r.flags |= flagRegistration
		}
		if st := n.RegistrationStatus; st != nil {
			r.flags |= flagStatus
			r.shared[sharedState] = index[st.State]
			r.shared[sharedError] = index[st.ErrorDescription]
			r.shared[sharedSIP] = index[st.SIPResponseMessage]
			r.setTime(timeLastUpdated, st.LastUpdated)
			r.setTime(timeExpires, st.ExpiresAt)
		}
		if escaped != nil && escaped[i] {
			r.flags |= flagIDEscaped
		}
	}
	return b
}

// add appends s to the block's texts.
func (b *block) add(s string) span {
	sp := span{off: uint32(len(b.texts)), n: uint32(len(s))}
	b.texts = append(b.texts, s...)
	return sp
}

// ident stores s in id: as a binary uuid when it is one in canonical form
// (it reports true), else as a span of the texts.
func (b *block) ident(id *ident, s string) bool {
	if parseUUID(id, s) {
		return true
	}
	sp := b.add(s)
	*id = ident{}
	put32(id[0:4], sp.off)
	put32(id[4:8], sp.n)
	return false
}

func put32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}
