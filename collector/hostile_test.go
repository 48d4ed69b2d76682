package collector

// Hostile input on the collector's side: the scrape header is network input,
// /metrics answers GET and HEAD only, identity labels are bounded, expiry
// does not saturate, and one request cannot take the exporter down.

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/dasha-exporter/dasha_exporter/client"
	"github.com/dasha-exporter/dasha_exporter/internal/fakeapi"
)

// The header as a table: whatever it holds, the listing gets a deadline in
// [0, client.MaxListingTime].
func TestScrapeTimeoutHeader(t *testing.T) {
	const fallback, offset = 7 * time.Second, 500 * time.Millisecond
	max := client.MaxListingTime - offset
	for _, tc := range []struct {
		header string
		want   time.Duration
		ok     bool
	}{
		{"", fallback, true},
		{"10", 9500 * time.Millisecond, true},
		{" 10 ", 9500 * time.Millisecond, true},
		{"0.8", 400 * time.Millisecond, true},    // half, not 300ms
		{"1e-9", 0, true},                        // honoured: it fails at once with dasha_up 0
		{"0x1p3", 7500 * time.Millisecond, true}, // a hex float is a finite number too
		{"86400", max, true},                     // a day: clamped
		{"1e308", max, true},                     // would overflow a Duration
		{"120", max, true},                       // exactly the cap
		{"119.5", client.MaxListingTime - time.Second, true},
		{"NaN", fallback, false},
		{"nan", fallback, false},
		{"Inf", fallback, false},
		{"+Inf", fallback, false},
		{"-Inf", fallback, false},
		{"Infinity", fallback, false},
		{"1e400", fallback, false}, // out of float64's range
		{"0", fallback, false},
		{"-0", fallback, false},
		{"-3", fallback, false},
		{"soon", fallback, false},
		{"10s", fallback, false},
	} {
		t.Run(tc.header, func(t *testing.T) {
			got, ok := scrapeTimeout(tc.header, fallback, offset)
			if got != tc.want || ok != tc.ok {
				t.Errorf("scrapeTimeout(%q) = %v, %v; want %v, %v", tc.header, got, ok, tc.want, tc.ok)
			}
		})
	}
	// --dasha.timeout is capped as well (the flag is checked at start-up;
	// the handler does not rely on it).
	if got, _ := scrapeTimeout("", time.Hour, offset); got != client.MaxListingTime {
		t.Errorf("a fallback of 1h gave %v", got)
	}
	if got, _ := scrapeTimeout("", -time.Second, offset); got != 0 {
		t.Errorf("a negative fallback gave %v", got)
	}
	if got, _ := scrapeTimeout("10", fallback, -time.Second); got != 10*time.Second {
		t.Errorf("a negative offset gave %v", got)
	}
}

// FuzzScrapeTimeout: no header value panics the parsing or gives a deadline
// outside [0, client.MaxListingTime]; one it refuses gives the fallback.
func FuzzScrapeTimeout(f *testing.F) {
	for _, s := range []string{"", "10", "NaN", "-0", "1e-9", "1e308", "86400", "+Inf", "0x1p-1074", "4.9e-324", "garbage", "\xff"} {
		f.Add(s, int64(7*time.Second), int64(500*time.Millisecond))
	}
	f.Fuzz(func(t *testing.T, header string, fallback, offset int64) {
		got, ok := scrapeTimeout(header, time.Duration(fallback), time.Duration(offset))
		if got < 0 || got > client.MaxListingTime {
			t.Fatalf("scrapeTimeout(%q, %v, %v) = %v", header, time.Duration(fallback), time.Duration(offset), got)
		}
		if !ok && got != min(max(time.Duration(fallback), 0), client.MaxListingTime) {
			t.Fatalf("refused %q but gave %v, not the fallback", header, got)
		}
		if secs, err := strconv.ParseFloat(strings.TrimSpace(header), 64); ok && header != "" && (err != nil || math.IsNaN(secs) || secs <= 0) {
			t.Fatalf("accepted %q", header)
		}
	})
}

// A scrape timeout header of any value, through the handler: the deadline the listing gets, and the warning
// that names a refused header.
func TestHandlerDeadlineFromHostileHeaders(t *testing.T) {
	for header, want := range map[string]time.Duration{
		"NaN":   7 * time.Second,
		"86400": client.MaxListingTime - 500*time.Millisecond,
		"1e308": client.MaxListingTime - 500*time.Millisecond,
		"-0":    7 * time.Second,
	} {
		t.Run(header, func(t *testing.T) {
			lister := &stubLister{results: []stubResult{{listing: &client.Listing{}}}}
			var logs syncBuffer
			h := NewHandler(HandlerOpts{Exporter: newTestExporter(t, lister, Options{}), Timeout: 7 * time.Second, TimeoutOffset: 500 * time.Millisecond,
				Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			start := time.Now()
			scrapeOnce(t, h, http.Header{"X-Prometheus-Scrape-Timeout-Seconds": {header}})
			dl, ok := lister.gotCtx.Deadline()
			if got := dl.Sub(start); !ok || got < want || got > want+time.Since(start) {
				t.Errorf("deadline %v after the request, want %v", got, want)
			}
			refused := strings.Contains(logs.String(), "ignoring a bad scrape timeout header")
			if wantRefused := want == 7*time.Second; refused != wantRefused {
				t.Errorf("logged a refused header: %v, want %v\n%s", refused, wantRefused, logs.String())
			}
		})
	}
}

// A deadline that passes at once: a tiny header, or --dasha.timeout=1ns, through the real
// client, Shared and the fake API. The exporter used to panic inside
// singleflight and die; now the scrape answers dasha_up 0 and the next one
// is complete.
func TestTinyDeadlineDoesNotKillTheExporter(t *testing.T) {
	for _, tc := range []struct {
		header  string
		timeout time.Duration
	}{
		{"0.000000001", 5 * time.Second},
		{"1e-9", 5 * time.Second},
		{"", time.Nanosecond},
	} {
		t.Run(fmt.Sprintf("%q %v", tc.header, tc.timeout), func(t *testing.T) {
			fake := fakeapi.New("k", fakeapi.Demo(time.Now()))
			var logs syncBuffer
			h := newFakeBackedHandler(t, fake, "k", &logs)
			h.(*handler).opts.Timeout = tc.timeout
			header := http.Header{}
			if tc.header != "" {
				header.Set("X-Prometheus-Scrape-Timeout-Seconds", tc.header)
			}
			resp, body := scrapeOnce(t, h, header)
			mfs := parse(t, []byte(body))
			if resp.StatusCode != http.StatusOK || mfs["dasha_up"].GetMetric()[0].GetGauge().GetValue() != 0 {
				t.Fatalf("status %d, dasha_up %v; want 200 and 0", resp.StatusCode, mfs["dasha_up"].GetMetric())
			}
			if _, ok := mfs["dasha_sip_phone_number_info"]; ok {
				t.Error("a partial fleet was exported")
			}
			// It failed by the deadline, not by a bug that was recovered.
			if !strings.Contains(logs.String(), "deadline exceeded") || strings.Contains(logs.String(), "internal error") {
				t.Errorf("the listing did not fail by its deadline:\n%s", logs.String())
			}
			h.(*handler).opts.Timeout = 5 * time.Second
			_, body = scrapeOnce(t, h, nil)
			if got := parse(t, []byte(body))["dasha_sip_phone_numbers"].GetMetric()[0].GetGauge().GetValue(); got != 30 {
				t.Errorf("the next scrape listed %v numbers, want 30", got)
			}
		})
	}
}

// Methods: /metrics answers GET and HEAD; any other method gets 405 with
// Allow, and no listing (no API request) is made for it or for HEAD.
func TestHandlerMethods(t *testing.T) {
	lister := &stubLister{results: []stubResult{{listing: &client.Listing{}}}}
	h := NewHandler(HandlerOpts{Exporter: newTestExporter(t, lister, Options{}), Timeout: time.Second})
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions, "PROPFIND"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, "/metrics", strings.NewReader("x")))
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: %d, Allow %q; want 405 and GET, HEAD", method, rec.Code, rec.Header().Get("Allow"))
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodHead, "/metrics", nil))
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != contentType || rec.Body.Len() != 0 {
		t.Errorf("HEAD: %d, %q, %d bytes", rec.Code, rec.Header().Get("Content-Type"), rec.Body.Len())
	}
	if lister.calls != 0 {
		t.Errorf("%d listings for requests that are not GET", lister.calls)
	}
	scrapeOnce(t, h, nil)
	if lister.calls != 1 {
		t.Errorf("GET made %d listings, want 1", lister.calls)
	}
}

// Unbounded ids: identity labels are bounded, stay distinct, and a short value is
// left alone.
func TestIdentityLabelsAreBounded(t *testing.T) {
	huge := strings.Repeat("9", 1<<20)
	numbers := make([]client.PhoneNumber, 5)
	for i := range numbers {
		numbers[i] = client.PhoneNumber{
			ID: fmt.Sprintf("%s-%d", huge, i), PhoneNumber: huge + strconv.Itoa(i), OrgID: huge, ProviderID: huge,
			CredentialsID: huge + "é", IncomingCallsAgentID: huge, DisplayName: huge, Registration: true,
		}
	}
	numbers = append(numbers, client.PhoneNumber{ID: "8d0e9c1a-0000-4000-8000-000000000001", PhoneNumber: "+14155550100"})
	scrape := newTestExporter(t, &stubLister{results: []stubResult{{listing: client.NewListing(numbers)}}}, Options{}).Scrape(context.Background())
	var text bytes.Buffer
	if err := scrape.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if text.Len() > 1<<20 {
		t.Errorf("the exposition of 6 numbers is %d KB", text.Len()>>10)
	}
	mfs := parse(t, text.Bytes())
	ids := map[string]bool{}
	for _, m := range mfs["dasha_sip_phone_number_info"].GetMetric() {
		for _, lp := range m.GetLabel() {
			if len(lp.GetValue()) > cutIDBytes {
				t.Errorf("label %s is %d bytes", lp.GetName(), len(lp.GetValue()))
			}
		}
		ids[labelValue(m.GetLabel(), "id")+" "+labelValue(m.GetLabel(), "phone_number")] = true
	}
	if len(ids) != 6 {
		t.Errorf("%d distinct identities, want 6", len(ids))
	}
	if !ids["8d0e9c1a-0000-4000-8000-000000000001 +14155550100"] {
		t.Error("a short id or phone number was changed")
	}
	// The const-metric path cuts the same way.
	ref := canonical(t, exposition(t, scrape), "dasha_up", "dasha_sip_phone_numbers", "dasha_scrape_duration_seconds", "dasha_last_success_timestamp_seconds")
	if got := canonical(t, text.Bytes()); got != ref {
		t.Errorf("WriteText differs from Collect:\n--- WriteText\n%.2000s\n--- Collect\n%.2000s", got, ref)
	}
}

func TestCutID(t *testing.T) {
	long := strings.Repeat("é", 200) // 400 bytes
	a, b := cutID(long+"a"), cutID(long+"b")
	if len(a) != maxLabelBytes+1 || a == b || !strings.HasPrefix(a, strings.Repeat("é", 95)) || !strings.Contains(a, "~") || !utf8.ValidString(a) {
		t.Errorf("cutID: %q, %q", a, b)
	}
	for _, s := range []string{"", "x", strings.Repeat("x", maxLabelBytes)} {
		if cutID(s) != s {
			t.Errorf("cutID changed a value of %d bytes", len(s))
		}
	}
	// A cut value is one byte longer than any uncut one, so the two can
	// never be equal (issue 15 item 5).
	for _, n := range []int{maxLabelBytes + 1, maxLabelBytes + 2, 1000} {
		for _, s := range []string{strings.Repeat("x", n), strings.Repeat("é", n/2+1)} {
			if got := cutID(s); len(got) != maxLabelBytes+1 || !utf8.ValidString(got) {
				t.Errorf("cutID of %d bytes gave %d", len(s), len(got))
			}
		}
	}
}

// Far-away times: expiry_seconds does not saturate at ±292 years and agrees with
// expires_timestamp_seconds.
func TestExpiryFarAway(t *testing.T) {
	for _, expires := range []time.Time{
		time.Date(9999, 12, 31, 23, 59, 59, 999999900, time.UTC),
		time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC),
		scrapeTime.Add(1800*time.Second + 250*time.Millisecond),
	} {
		n := client.PhoneNumber{ID: "a", Registration: true, RegistrationStatus: &client.RegistrationStatus{State: "Registered", ExpiresAt: client.Time{Time: expires}}}
		scrape := newTestExporter(t, &stubLister{results: []stubResult{{listing: client.NewListing([]client.PhoneNumber{n})}}}, Options{}).Scrape(context.Background())
		var text bytes.Buffer
		if err := scrape.WriteText(&text); err != nil {
			t.Fatal(err)
		}
		mfs := parse(t, text.Bytes())
		expiry := mfs["dasha_sip_registration_expiry_seconds"].GetMetric()[0].GetGauge().GetValue()
		at := mfs["dasha_sip_registration_expires_timestamp_seconds"].GetMetric()[0].GetGauge().GetValue()
		want := at - unixSeconds(scrapeTime)
		if math.Abs(expiry-want) > 1e-6*math.Max(1, math.Abs(want)) {
			t.Errorf("expiresAt %v: expiry_seconds %v, but expires_timestamp_seconds - scrape = %v", expires, expiry, want)
		}
	}
}

// WriteText stops formatting at the first write error and says where:
// bufio's sticky error would reach the final Flush anyway, so the error
// naming the first family is what shows that it stopped there.
func TestWriteTextStopsAtTheFirstFamily(t *testing.T) {
	numbers := make([]client.PhoneNumber, 5000)
	for i := range numbers {
		numbers[i] = client.PhoneNumber{ID: strings.Repeat("x", 30) + strconv.Itoa(i), PhoneNumber: "+1555", Registration: true}
	}
	e := newTestExporter(t, &stubLister{results: []stubResult{{listing: client.NewListing(numbers)}}}, Options{})
	w := &failingWriter{}
	err := e.Scrape(context.Background()).WriteText(w)
	if err == nil || !strings.Contains(err.Error(), "writing dasha_sip_phone_number_info: broken pipe") {
		t.Fatalf("WriteText = %v, want the write error at the first family", err)
	}
	if w.calls != 1 {
		t.Errorf("%d writes after the first failed", w.calls-1)
	}
}

// The key in a redirect, through the handler: a redirect whose Location carries the key is
// logged without it.
func TestKeyInLocationNeverLogged(t *testing.T) {
	const key = "sk-live-TOPSECRET-0123456789"
	fake := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://login.example/?api_key="+strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), http.StatusFound)
	})
	var logs syncBuffer
	h := newFakeBackedHandler(t, fake, key, &logs)
	_, body := scrapeOnce(t, h, nil)
	if strings.Contains(body+logs.String(), "TOPSECRET") {
		t.Errorf("the key is in the logs or /metrics:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "redirected to https://login.example/?api_key=[REDACTED]") {
		t.Errorf("the log does not say where the API redirected to:\n%s", logs.String())
	}
}

// A lister that returns neither a listing nor an error is a failed
// listing, not a nil dereference.
func TestNilListingIsAFailure(t *testing.T) {
	h := NewHandler(HandlerOpts{Exporter: newTestExporter(t, &stubLister{results: []stubResult{{}}}, Options{}), Timeout: time.Second})
	resp, body := scrapeOnce(t, h, nil)
	if resp.StatusCode != http.StatusOK || parse(t, []byte(body))["dasha_up"].GetMetric()[0].GetGauge().GetValue() != 0 {
		t.Errorf("status %d:\n%s", resp.StatusCode, body)
	}
}

// Labels of exactly the bound are kept whole.
func TestCutAtTheBound(t *testing.T) {
	exact := strings.Repeat("x", maxLabelBytes)
	if cut(exact) != exact || cutID(exact) != exact {
		t.Error("a value of exactly 256 bytes was cut")
	}
}

// secondsBetween counts the nanoseconds of both ends.
func TestSecondsBetween(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 750_000_000, time.UTC)
	to := time.Date(2026, 1, 1, 0, 0, 10, 250_000_000, time.UTC)
	if got := secondsBetween(from, to); got != 9.5 {
		t.Errorf("secondsBetween = %v, want 9.5", got)
	}
	if got := secondsBetween(to, from); got != -9.5 {
		t.Errorf("secondsBetween backwards = %v, want -9.5", got)
	}
}

// A refused header is logged cut to 32 bytes; one of exactly 32 whole.
func TestHeaderValueInTheLog(t *testing.T) {
	exact := strings.Repeat("x", 32)
	if truncate(exact, 32) != exact || truncate(exact+"y", 32) != exact+"…" || truncate(strings.Repeat("é", 20), 31) != strings.Repeat("é", 15)+"…" {
		t.Error("truncate cut a header value wrongly")
	}
	// A header is bytes, not necessarily UTF-8.
	if got := truncate(strings.Repeat("\x80", 40), 32); got != "…" {
		t.Errorf("truncate of continuation bytes = %q", got)
	}
}
