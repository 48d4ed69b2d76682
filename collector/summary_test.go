package collector

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/dasha-exporter/dasha_exporter/client"
)

func at(t time.Time) client.Time { return client.Time{Time: t} }

// The record names each failing number with what the page shows, and
// picks the alert (so the runbook section) as the shipped rules do.
func TestSummarizeNamesTheFailingNumbers(t *testing.T) {
	now := scrapeTime
	long := strings.Repeat("é", 200) // 400 bytes: cut to 256 without splitting a rune
	numbers := []client.PhoneNumber{
		{ID: "ok", PhoneNumber: "+1", Registration: true, RegistrationStatus: &client.RegistrationStatus{State: "Registered", ExpiresAt: at(now.Add(time.Hour))}},
		{ID: "off", PhoneNumber: "+2", Registration: false, RegistrationStatus: &client.RegistrationStatus{State: "Failed"}},
		{ID: "fail", PhoneNumber: "+3", DisplayName: "Pharmacy", Registration: true, RegistrationStatus: &client.RegistrationStatus{
			State: "Failed", ErrorDescription: "auth failed", SIPResponseMessage: "SIP/2.0 403 Forbidden", LastUpdated: at(now.Add(-time.Hour)), ExpiresAt: at(now.Add(time.Minute))}},
		{ID: "exp", PhoneNumber: "+4", Registration: true, RegistrationStatus: &client.RegistrationStatus{
			State: "Registering", LastUpdated: at(now.Add(-2 * time.Hour)), ExpiresAt: at(now.Add(-time.Minute))}},
		{ID: "new", PhoneNumber: "+5", Registration: true, CreatedTime: at(now.Add(-time.Hour)), RegistrationStatus: &client.RegistrationStatus{State: "Registering"}},
		{ID: "old-never", PhoneNumber: "+6", Registration: true, CreatedTime: at(now.Add(-48 * time.Hour))},
		{ID: "long", PhoneNumber: "+7", Registration: true, RegistrationStatus: &client.RegistrationStatus{State: "Registered", ErrorDescription: long}},
	}
	r := newRules(DefaultStates, DefaultHealthyStates)
	unhealthy, failing := r.summarize(client.NewListing(numbers), now)
	if unhealthy != 5 || failing == nil || failing.More != 0 {
		t.Fatalf("unhealthy %d, failing %+v; want 5 kept", unhealthy, failing)
	}
	got := map[string]FailingNumber{}
	var order []string
	for _, f := range failing.Numbers {
		got[f.ID] = f
		order = append(order, f.ID)
	}
	if want := "exp fail old-never long new"; strings.Join(order, " ") != want {
		t.Errorf("order %v, want %s (worst first, then the listing's order)", order, want)
	}
	want := FailingNumber{Name: "Pharmacy", PhoneNumber: "+3", ID: "fail", State: "Failed", Error: "auth failed", SIPAnswer: "SIP/2.0 403 Forbidden", Since: now.Add(-time.Hour), Attention: Failing}
	if got["fail"] != want {
		t.Errorf("fail: %+v, want %+v", got["fail"], want)
	}
	if f := got["exp"]; f.Attention != Expired || f.Name != "+4" || f.State != "Registering" || !f.Since.Equal(now.Add(-2*time.Hour)) {
		t.Errorf("exp: %+v", f)
	}
	if f := got["new"]; f.Attention != NotYetRegistered || f.Attention.Alert() != "DashaSIPRegistrationNotYetRegistered" {
		t.Errorf("new: %+v", f)
	}
	if f := got["old-never"]; f.Attention != Failing || f.State != UnknownState || !f.Since.IsZero() {
		t.Errorf("a number created two days ago that never registered fails: %+v", f)
	}
	if f := got["long"]; len(f.Error) != 256 || !strings.HasPrefix(long, f.Error) {
		t.Errorf("long error kept as %d bytes, want 256 (whole runes)", len(f.Error))
	}
}

// At most MaxFailingKept are kept, the worst first wherever they stand in
// the listing, and the rest are counted.
func TestSummarizeKeepsTheWorstHundred(t *testing.T) {
	now := scrapeTime
	var numbers []client.PhoneNumber
	for i := range 250 {
		n := client.PhoneNumber{ID: fmt.Sprint(i), PhoneNumber: fmt.Sprintf("+1%03d", i), Registration: true,
			RegistrationStatus: &client.RegistrationStatus{State: "Failed", ErrorDescription: "rejected"}}
		if i >= 200 { // the last fifty have expired: they come first
			n.RegistrationStatus.ExpiresAt = at(now.Add(-time.Minute))
		}
		numbers = append(numbers, n)
	}
	r := newRules(DefaultStates, DefaultHealthyStates)
	unhealthy, failing := r.summarize(client.NewListing(numbers), now)
	if unhealthy != 250 || len(failing.Numbers) != MaxFailingKept || failing.More != 150 {
		t.Fatalf("unhealthy %d, kept %d, more %d; want 250, 100, 150", unhealthy, len(failing.Numbers), failing.More)
	}
	for i, f := range failing.Numbers {
		want := fmt.Sprint(200 + i)
		if i >= 50 {
			want = fmt.Sprint(i - 50)
		}
		if f.ID != want {
			t.Fatalf("kept[%d] = %s, want %s: the expired ones in order, then the first failing ones", i, f.ID, want)
		}
	}
	if unsafe.StringData(failing.Numbers[0].Error) != unsafe.StringData(failing.Numbers[99].Error) {
		t.Error("a text repeated across numbers is stored once per number, want once")
	}
}

func TestSummarizeHealthyFleet(t *testing.T) {
	r := newRules(DefaultStates, DefaultHealthyStates)
	l := client.NewListing([]client.PhoneNumber{{ID: "1", Registration: true, RegistrationStatus: &client.RegistrationStatus{State: "Registered"}}})
	if n, f := r.summarize(l, scrapeTime); n != 0 || f != nil {
		t.Errorf("a healthy fleet: %d, %+v", n, f)
	}
}

// BenchmarkSummarize is the one walk a record costs: 100,000 numbers, 5%
// of them failing (fakeapi.Fleet), 100 kept.
func BenchmarkSummarize(b *testing.B) {
	now := time.Now()
	l := bnScrape(b, 100000).Listing
	r := newRules(DefaultStates, DefaultHealthyStates)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if n, f := r.summarize(l, now); n == 0 || len(f.Numbers) != MaxFailingKept {
			b.Fatal(n)
		}
	}
}

// Once MaxFailingKept are kept, a number replaces the least bad of them
// only when it is strictly worse: ties keep the listing's first, and the
// least bad is found again after every replacement, wherever it stands.
func TestSummarizeReplacesOnlyByAStrictlyWorseNumber(t *testing.T) {
	now := scrapeTime
	number := func(i int, a Attention) client.PhoneNumber {
		n := client.PhoneNumber{ID: fmt.Sprint(i), Registration: true}
		switch a {
		case Expired:
			n.RegistrationStatus = &client.RegistrationStatus{State: "Failed", ExpiresAt: at(now.Add(-time.Minute))}
		case Failing:
			n.RegistrationStatus = &client.RegistrationStatus{State: "Failed"}
		case NotYetRegistered:
			n.CreatedTime = at(now.Add(-time.Hour))
		}
		return n
	}
	fleet := func(as ...Attention) *client.Listing {
		var numbers []client.PhoneNumber
		for i, a := range as {
			numbers = append(numbers, number(i, a))
		}
		return client.NewListing(numbers)
	}
	repeat := func(n int, a Attention) []Attention { return slices.Repeat([]Attention{a}, n) }
	keptIDs := func(f *FailingList) string {
		var s []string
		for _, n := range f.Numbers {
			s = append(s, n.ID)
		}
		return strings.Join(s, " ")
	}
	seq := func(from, to int) string { // from..to, inclusive
		var s []string
		for i := from; i <= to; i++ {
			s = append(s, fmt.Sprint(i))
		}
		return strings.Join(s, " ")
	}
	r := newRules(DefaultStates, DefaultHealthyStates)
	for _, tc := range []struct {
		name  string
		fleet []Attention
		want  string
		more  int
	}{
		// The 101st is as bad as the kept ones: the first hundred stay.
		{"a tie", repeat(MaxFailingKept+1, Failing), seq(0, 99), 1},
		// The hundredth kept is the least bad: the 101st, worse, takes its place.
		{"the last kept is the least bad", append(append(repeat(MaxFailingKept-1, Expired), NotYetRegistered), Failing), seq(0, 98) + " 100", 1},
		// After 100 replaced 0 (at index 0), 100 is the least bad: 101 replaces it, not 99.
		{"the least bad after a replacement", append(append(append([]Attention{NotYetRegistered}, repeat(MaxFailingKept-1, Failing)...), Failing), Expired), "101 " + seq(1, 99), 2},
	} {
		_, failing := r.summarize(fleet(tc.fleet...), now)
		if got := keptIDs(failing); got != tc.want || failing.More != tc.more {
			t.Errorf("%s: kept %s, %d more; want %s, %d more", tc.name, got, failing.More, tc.want, tc.more)
		}
	}
}
