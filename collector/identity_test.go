package collector

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/dasha-exporter/dasha_exporter/client"
)

// Issue 15 item 5: a number whose id is exactly another id's cut form (the
// form before the fix: 239 × A, "~" and 16 hex digits of the SHA-256 of
// 300 × A) made two dasha_sip_registration_healthy series with identical
// labels, 1 and 0, and Prometheus kept one: the failing number was hidden.
// Every series must stay unique.
func TestACutIDCannotEqualAnIDLeftWhole(t *testing.T) {
	long := strings.Repeat("A", 300)
	sum := sha256.Sum256([]byte(long))
	oldCut := strings.Repeat("A", 239) + "~" + hex.EncodeToString(sum[:8])
	numbers := []client.PhoneNumber{
		{ID: long, PhoneNumber: "+1", Registration: true, RegistrationStatus: &client.RegistrationStatus{State: "Registered"}},
		{ID: oldCut, PhoneNumber: "+1", Registration: true, RegistrationStatus: &client.RegistrationStatus{State: "Failed", ErrorDescription: "down"}},
	}
	scrape := newTestExporter(t, &stubLister{results: []stubResult{{listing: client.NewListing(numbers)}}}, Options{}).Scrape(context.Background())
	var text bytes.Buffer
	if err := scrape.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	healthy := 0
	for sc := bufio.NewScanner(&text); sc.Scan(); {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		series := line[:strings.LastIndexByte(line, ' ')]
		if seen[series] {
			t.Errorf("two series %s", series)
		}
		seen[series] = true
		if strings.HasPrefix(line, "dasha_sip_registration_healthy{") {
			healthy++
		}
	}
	if healthy != 2 {
		t.Errorf("%d dasha_sip_registration_healthy series, want 2", healthy)
	}
}

// cut and cutID never split a rune, and still end on a text with no rune
// start before their bound (continuation bytes only: not UTF-8, which JSON
// decoding or the client's escaping of ids should already have replaced).
func TestCutsOfContinuationBytesOnly(t *testing.T) {
	s := strings.Repeat("\x80", 2*maxLabelBytes)
	if got := cut(s); got != "" {
		t.Errorf("cut kept %q, want nothing: no whole rune fits", got)
	}
	sum := sha256.Sum256([]byte(s))
	if got, want := cutID(s), strings.Repeat("~", cutIDBytes-2*len(sum))+hex.EncodeToString(sum[:]); got != want {
		t.Errorf("cutID = %q, want only the tildes and the SHA-256", got)
	}
}
