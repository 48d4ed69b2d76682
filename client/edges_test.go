package client

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Ids that encoding/json would merge are told apart whatever spells the
// lone surrogate: hex in lower or upper case, a second digit of 8 (the
// first of the high surrogates), or right after a literal "\u" (an
// escaped backslash, then u), where the scan for escapes resumes.
func TestLoneSurrogatesStayDistinctInEverySpelling(t *testing.T) {
	for name, tc := range map[string]struct{ ids, want [2]string }{
		"lower-case hex":            {[2]string{`num-\ud800`, `num-\ud801`}, [2]string{`num-\ud800`, `num-\ud801`}},
		"upper-case hex":            {[2]string{`num-\uD800`, `num-\uD8FF`}, [2]string{`num-\ud800`, `num-\ud8ff`}},
		"right after a literal \\u": {[2]string{`a\\u\ud800`, `a\\u\udbff`}, [2]string{`a\\u\ud800`, `a\\u\udbff`}},
	} {
		t.Run(name, func(t *testing.T) {
			h, _ := rawPages(func(int) string {
				return `{"items":[{"id":"` + tc.ids[0] + `","registration":true,"registrationStatus":{"state":"Registered"}},` +
					`{"id":"` + tc.ids[1] + `","registration":true,"registrationStatus":{"state":"Failed"}}],"totalCount":2}`
			})
			c, _, _ := newTestClient(t, h, nil)
			l, err := c.List(listCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			if l.Len() != 2 || l.At(0).ID != tc.want[0] || l.At(1).ID != tc.want[1] {
				t.Errorf("%d numbers, first id %q; want %q", l.Len(), l.At(0).ID, tc.want)
			}
		})
	}
}

// A listing gives back every time as it was sent; only the zero time
// stands for null. Times within the first second of year 1 are not null.
func TestListingKeepsTimesNearTheZeroTime(t *testing.T) {
	for _, at := range []time.Time{
		{},
		time.Date(1, 1, 1, 0, 0, 0, 500, time.UTC),
		time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC),
		time.Date(2026, 12, 1, 12, 0, 0, 123456789, time.UTC),
	} {
		l := NewListing([]PhoneNumber{{ID: "n", CreatedTime: Time{at}, RegistrationStatus: &RegistrationStatus{LastUpdated: Time{at}, ExpiresAt: Time{at}}}})
		n := l.At(0)
		for field, got := range map[string]Time{"createdTime": n.CreatedTime, "lastUpdated": n.RegistrationStatus.LastUpdated, "expiresAt": n.RegistrationStatus.ExpiresAt} {
			if !got.Equal(at) || got.IsZero() != at.IsZero() {
				t.Errorf("%s %v came back as %v", field, at, got.Time)
			}
		}
	}
}

// escapedID joins a surrogate pair at the edges of both ranges, and
// keeps a low surrogate that comes first as an escape, never as part of a
// pair.
func TestEscapedIDSurrogateRangeEdges(t *testing.T) {
	for lit, want := range map[string]string{
		"\"\\ud800\\udc00\xff\"": "\U00010000" + `\xff`,
		"\"\\udbff\\udfff\xff\"": "\U0010FFFF" + `\xff`,
		`"\udc00\udc00"`:         `\udc00\udc00`,
		`"\ud7ff\udc00"`:         "\ud7ff" + `\udc00`,
		"\"\\ud800\\ue000\xff\"": `\ud800` + "\ue000" + `\xff`,
		`"\ud800x"`:              `\ud800x`,
		"\"\\ue000\xff\"":        "\ue000" + `\xff`,
	} {
		if got, lossy := escapedID([]byte(lit)); got != want || !lossy {
			t.Errorf("escapedID(%s) = %q, %v; want %q, true", lit, got, lossy, want)
		}
	}
}

// At refuses an index past the end with its own message, not a runtime
// error from deep inside a block.
func TestListingAtPastTheEnd(t *testing.T) {
	l := NewListing([]PhoneNumber{{ID: "a"}, {ID: "b"}})
	for _, i := range []int{-1, l.Len()} {
		func() {
			defer func() {
				if r := recover(); r != "client: Listing.At index out of range" {
					t.Errorf("At(%d) panicked with %v", i, r)
				}
			}()
			l.At(i)
		}()
	}
}

// A listing's log that kept every line says nothing was cut; one that
// dropped a line counts exactly its bytes.
func TestListingLogCountsOnlyWhatItDropped(t *testing.T) {
	l := NewListingLog(nil)
	line := "level=DEBUG msg=\"API request\"\n"
	l.Write([]byte(line))
	if got := l.Text(); got != line {
		t.Errorf("a short log reads %q", got)
	}
	big := strings.Repeat("x", MaxListingLog) + "\n"
	l.Write([]byte(big))
	if want := line + fmt.Sprintf("(the listing logged %d more bytes, beyond the %d kept)\n", len(big), MaxListingLog); l.Text() != want {
		t.Errorf("a log over its bound reads %.200q, want %.200q", l.Text(), want)
	}
}

// A key spelled with escapes is redacted wherever it stands: followed by
// more text, or in a text ending in a lone backslash; a text that ends
// part way into such a spelling is left as it is.
func TestRedactTextEscapedKeyAnywhere(t *testing.T) {
	const key = "test+key-0123"
	for in, want := range map[string]string{
		`invalid key \u0074est\u002Bkey-0123 and more`:  `invalid key [REDACTED] and more`,
		`invalid key \u0074est\u002Bkey-0123`:           `invalid key [REDACTED]`,
		`invalid test+ke\u0079-0123`:                    `invalid [REDACTED]`, // y is \u0079: a 9 among the digits
		`ends with \u0074es`:                            `ends with \u0074es`,
		`\u0074est\u002Bkey-0123 ends in a backslash \`: `[REDACTED] ends in a backslash \`,
	} {
		if got := RedactText(in, key); got != want {
			t.Errorf("RedactText(%q) = %q, want %q", in, got, want)
		}
	}
}

// A text cut off inside a \u escape with three of its four digits, right
// after the start of the key, still has that start redacted.
func TestRedactTextCutInsideALongEscape(t *testing.T) {
	const key = "test+key-0123"
	in := `invalid key test\u002Bk\u006…`
	if got := RedactText(in, key); strings.Contains(got, "test") {
		t.Errorf("RedactText(%q) = %q", in, got)
	}
}

// Only a partial \u or \x escape counts as cut off: a word that happens to
// start the key, then a whole escape such as \n, then the ellipsis, is
// left as it is.
func TestRedactTextWholeEscapeBeforeTheEllipsis(t *testing.T) {
	const key = "test+key-0123"
	for _, in := range []string{`a test\n…`, `a test\t…`} {
		if got := RedactText(in, key); got != in {
			t.Errorf("RedactText(%q) = %q", in, got)
		}
	}
}

// A redirect's error says where the API URL was set; a bad request's does
// not (the URL is not what is wrong).
func TestRedirectErrorNamesTheURLSetting(t *testing.T) {
	for code, named := range map[int]bool{http.StatusFound: true, http.StatusBadRequest: false} {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if code == http.StatusFound {
				w.Header().Set("Location", "https://elsewhere.example/")
			}
			w.WriteHeader(code)
		})
		c, _, _ := newTestClient(t, h, func(cfg *Config) { cfg.URLSetting = "url of account acme (line 3)" })
		_, err := c.List(listCtx(t))
		if err == nil || strings.Contains(err.Error(), "the API URL from url of account acme (line 3)") != named {
			t.Errorf("%d: error %v; naming the URL setting: want %v", code, err, named)
		}
	}
}

// A timestamp with an escape in it is read; one that is not a JSON string
// is refused, never taken for null.
func TestTimeUnmarshalEscapedAndNotAString(t *testing.T) {
	var tm Time
	if err := tm.UnmarshalJSON([]byte(`"2026-12-01T12:00:00\u005a"`)); err != nil || !tm.Equal(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("escaped timestamp: %v, %v", tm.Time, err)
	}
	if err := tm.UnmarshalJSON([]byte(`1733054400`)); err == nil {
		t.Errorf("a number was taken as the time %v", tm.Time)
	}
}

// An id of uuid length with a hex digit where one of the four dashes
// belongs is not a uuid: it comes back exactly as sent.
func TestNearUUIDComesBackAsSent(t *testing.T) {
	const uuid = "8d0e9c1a-0000-4000-8000-000000000001"
	for _, at := range []int{8, 13, 18, 23} {
		id := uuid[:at] + "a" + uuid[at+1:]
		if got := NewListing([]PhoneNumber{{ID: id, CredentialsID: id}}).At(0); got.ID != id || got.CredentialsID != id {
			t.Errorf("id %q came back as %q, %q", id, got.ID, got.CredentialsID)
		}
	}
}

// An escape whose hex digits hold an "a" (lower case) spells the key too:
// %2a is "*".
func TestRedactTextEscapeWithHexDigitA(t *testing.T) {
	const key = "star*key-0123456789"
	if got := RedactText("echo: star%2akey-0123456789 end", key); got != "echo: [REDACTED] end" {
		t.Errorf("got %q", got)
	}
}
