package collector

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/dasha-exporter/dasha_exporter/client"
)

// MaxFailingKept bounds the failing numbers a record keeps for people (the
// landing page): the rest are only counted.
const MaxFailingKept = 100

// notYetRegisteredAge is the alerts' window for a new number that has
// never registered (dasha:sip_registration_not_yet_registered:created24h).
const notYetRegisteredAge = 24 * time.Hour

// Attention says which alert's condition an unhealthy number meets, and so
// which runbook section explains it. The order is the page's: the worst
// first.
type Attention int

const (
	// Expired: its registration's expiresAt has passed (calls to it are
	// lost): DashaSIPRegistrationExpired, critical.
	Expired Attention = iota
	// Failing: unhealthy and not new: DashaSIPRegistrationFailing.
	Failing
	// NotYetRegistered: created within a day and never registered (no
	// lastUpdated, no expiresAt): DashaSIPRegistrationNotYetRegistered.
	NotYetRegistered
)

// String names the condition as the alert does, without its prefix.
func (a Attention) String() string {
	switch a {
	case Expired:
		return "Expired"
	case NotYetRegistered:
		return "NotYetRegistered"
	}
	return "Failing"
}

// Alert is the alert whose runbook section explains the condition.
func (a Attention) Alert() string { return "DashaSIPRegistration" + a.String() }

// FailingNumber is one number dasha_sip_registration_healthy reports 0
// for, as the landing page shows it. Its texts are cut to 256 bytes, as
// labels are, and owned (they keep no listing alive).
type FailingNumber struct {
	Name        string // the display name, or the phone number when it has none
	PhoneNumber string
	ID          string
	State       string
	Error       string
	SIPAnswer   string
	Since       time.Time // lastUpdated; zero when unknown
	Attention   Attention
}

// FailingList is the failing numbers a record keeps: at most
// MaxFailingKept, the worst first (Attention, then the listing's order);
// More counts those left out.
type FailingList struct {
	Numbers []FailingNumber
	More    int
	At      time.Time // the time of the listing they come from
}

// summarize walks the listing once: it counts the numbers that
// dasha_sip_registration_healthy reports 0 for (registration enabled, and
// a state that is not healthy or an error) and keeps the worst
// MaxFailingKept of them for the record. now is the listing's time, which
// the alerts' conditions (expired, new) are measured from.
//
// Only kept numbers cost an allocation: a kept number is replaced only by
// a strictly worse one, so each of the MaxFailingKept places changes at
// most twice, and texts repeated across numbers (states, errors, SIP
// answers) are stored once.
func (r *rules) summarize(l *client.Listing, now time.Time) (unhealthy int, failing *FailingList) {
	var kept []keptNumber
	var worst int // index in kept of the least bad number, set once kept is full
	var texts interner
	for i, n := range l.All() {
		if !n.Registration || r.isHealthy(n) {
			continue
		}
		unhealthy++
		a := attentionOf(n, now)
		if len(kept) < MaxFailingKept {
			kept = append(kept, keptNumber{seq: i, FailingNumber: texts.number(n, a)})
			if len(kept) == MaxFailingKept {
				worst = leastBad(kept)
			}
			continue
		}
		if a < kept[worst].Attention {
			kept[worst] = keptNumber{seq: i, FailingNumber: texts.number(n, a)}
			worst = leastBad(kept)
		}
	}
	if unhealthy == 0 {
		return 0, nil
	}
	slices.SortFunc(kept, worseFirst)
	failing = &FailingList{Numbers: make([]FailingNumber, len(kept)), More: unhealthy - len(kept), At: now}
	for i, k := range kept {
		failing.Numbers[i] = k.FailingNumber
	}
	return unhealthy, failing
}

// keptNumber is a failing number with its place in the listing.
type keptNumber struct {
	seq int
	FailingNumber
}

// worseFirst orders failing numbers as the page shows them: by Attention,
// then in the listing's order.
func worseFirst(x, y keptNumber) int {
	return cmp.Or(cmp.Compare(x.Attention, y.Attention), cmp.Compare(x.seq, y.seq))
}

// leastBad returns the index of the kept number a worse one replaces: the
// last in worseFirst's order (a number's seq is its own).
func leastBad(kept []keptNumber) int {
	last := slices.MaxFunc(kept, worseFirst)
	return slices.IndexFunc(kept, func(k keptNumber) bool { return k.seq == last.seq })
}

// attentionOf picks the alert whose condition an unhealthy number meets,
// as the shipped rules decide it from one listing.
func attentionOf(n *client.PhoneNumber, now time.Time) Attention {
	st := n.RegistrationStatus
	var lastUpdated, expires time.Time
	if st != nil {
		lastUpdated, expires = st.LastUpdated.Time, st.ExpiresAt.Time
	}
	switch {
	case !expires.IsZero() && expires.Before(now):
		return Expired
	case lastUpdated.IsZero() && expires.IsZero() && n.CreatedTime.IsSet() && now.Sub(n.CreatedTime.Time) < notYetRegisteredAge:
		return NotYetRegistered
	}
	return Failing
}

// interner stores each text once, owned: the walk's strings point into the
// listing (or are reused by it), which a record must not keep alive.
type interner map[string]string

func (in *interner) text(s string) string {
	if s == "" {
		return ""
	}
	s = cut(s)
	if v, ok := (*in)[s]; ok {
		return v
	}
	if *in == nil {
		*in = interner{}
	}
	v := strings.Clone(s)
	(*in)[v] = v
	return v
}

func (in *interner) number(n *client.PhoneNumber, a Attention) FailingNumber {
	f := FailingNumber{
		PhoneNumber: strings.Clone(cut(n.PhoneNumber)),
		ID:          strings.Clone(cut(n.ID)),
		State:       in.text(stateOf(n)),
		Error:       in.text(errorOf(n)),
		Attention:   a,
	}
	f.Name = f.PhoneNumber
	if n.DisplayName != "" {
		f.Name = strings.Clone(cut(n.DisplayName))
	}
	if st := n.RegistrationStatus; st != nil {
		f.SIPAnswer = in.text(st.SIPResponseMessage)
		f.Since = st.LastUpdated.Time
	}
	return f
}
