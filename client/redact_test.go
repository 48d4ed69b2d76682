package client

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// echoKey is a key with characters encoders like to escape;
// echoEscaped is how .NET's default JSON encoder echoes it.
const (
	echoKey     = `test+key/0123456789ABCDEF`
	echoEscaped = `test\u002Bkey\/0123456789ABCDEF`
)

// escapeEach spells every character of s as \uXXXX, hex in upper or
// lower case.
func escapeEach(s string, upper bool) string {
	var b strings.Builder
	for _, r := range s {
		e := fmt.Sprintf(`\u%04x`, r)
		if upper {
			e = `\u` + strings.ToUpper(e[2:])
		}
		b.WriteString(e)
	}
	return b.String()
}

// jsonUnescape undoes \uXXXX and \/ the way a reader of the text would,
// independently of the code under test.
var jsonEscapeRE = regexp.MustCompile(`\\u[0-9a-fA-F]{4}|\\/`)

func jsonUnescape(s string) string {
	return jsonEscapeRE.ReplaceAllStringFunc(s, func(e string) string {
		if e == `\/` {
			return "/"
		}
		v, _ := strconv.ParseUint(e[2:], 16, 32)
		return string(rune(v))
	})
}

// leaks says how a text still shows key, or "".
func leaks(text, key string) string {
	switch {
	case strings.Contains(text, key):
		return "raw"
	case strings.Contains(jsonUnescape(text), key):
		return "JSON-escaped"
	case strings.Contains(jsonUnescape(jsonUnescape(strings.ReplaceAll(text, `\\`, `\`))), key):
		return "escaped twice"
	}
	return ""
}

// An error body that echoes the key, in any JSON field or as plain text,
// escaped however (.NET writes "+" as \u002B), is redacted from the
// error's text.
func TestEchoedKeyIsRedactedFromEveryBodyShape(t *testing.T) {
	spellings := map[string]string{
		"as .NET writes it":         echoEscaped,
		"each character, upper hex": escapeEach(echoKey, true),
		"each character, lower hex": escapeEach(echoKey, false),
		"raw":                       echoKey,
	}
	shapes := map[string]func(echo string) string{
		"ProblemDetails":   func(e string) string { return `{"title":"Unauthorized","detail":"invalid key ` + e + `"}` },
		"message":          func(e string) string { return `{"message":"invalid key ` + e + `"}` },
		"error.message":    func(e string) string { return `{"error":{"code":401,"message":"invalid key ` + e + `"}}` },
		"array":            func(e string) string { return `["invalid key", {"keys":[null, "` + e + `"]}]` },
		"a field name":     func(e string) string { return `{"` + e + `":"unknown"}` },
		"plain text":       func(e string) string { return "invalid key " + e },
		"HTML":             func(e string) string { return "<html><body><p>invalid key " + e + "</p></body></html>" },
		"JSON inside JSON": func(e string) string { return `{"message":"{\"inner\":\"` + strings.ReplaceAll(e, `\`, `\\`) + `\"}"}` },
	}
	for sname, echo := range spellings {
		for shape, body := range shapes {
			e := newAPIError(http.StatusUnauthorized, "/api/v1/sip/phone-numbers", []byte(body(echo)), echoKey)
			text := e.Error()
			if how := leaks(text, echoKey); how != "" || strings.Contains(text, "0123456789ABCDEF") {
				t.Errorf("%s, %s: the error shows the key (%s): %s", shape, sname, how, text)
			}
			if !strings.Contains(text, redacted) {
				t.Errorf("%s, %s: the error does not say what was redacted: %s", shape, sname, text)
			}
		}
	}
}

// The same through a listing: the API answers 401 with .NET's echo.
func TestIssueEchoIsRedactedFromTheListingError(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"message":"invalid key `+echoEscaped+`"}`)
	})
	c, _, _ := newTestClient(t, h, func(cfg *Config) { cfg.Key = StaticKey(echoKey) })
	_, err := c.List(listCtx(t))
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnauthorized {
		t.Fatalf("List = %v, want the 401", err)
	}
	if how := leaks(err.Error(), echoKey); how != "" {
		t.Errorf("the error shows the key (%s): %v", how, err)
	}
	if want := `{"message":"invalid key [REDACTED]"}`; apiErr.Detail != want {
		t.Errorf("detail %q, want %q", apiErr.Detail, want)
	}
}

// A JSON body that is not ProblemDetails is shown compact, its strings
// decoded and encoded again, numbers as they were.
func TestRedactJSONKeepsTheBodyReadable(t *testing.T) {
	for body, want := range map[string]string{
		`{ "status" : 500, "x": [1.50, true, null, "a\u00e9<b>"] }`: `{"status":500,"x":[1.50,true,null,"aé<b>"]}`,
		`[]`:         `[]`,
		`"a string"`: `"a string"`,
		`{"a":{}}`:   `{"a":{}}`,
	} {
		if got, ok := redactJSON([]byte(body), "some-key-1234"); !ok || got != want {
			t.Errorf("redactJSON(%s) = %s, %v; want %s", body, got, ok, want)
		}
	}
	for _, body := range []string{`{`, `{} {}`, `plain`, ``} {
		if _, ok := redactJSON([]byte(body), "k"); ok {
			t.Errorf("redactJSON(%q) took it for JSON", body)
		}
	}
}

// A text cut off inside an escaped key (an excerpt of a raw body) shows
// none of its start, even when the cut splits an escape.
func TestCutEscapedKeyIsRedacted(t *testing.T) {
	for _, in := range []string{
		`x test\u002Bkey\/0123…`,
		`x test\u002Bkey\/01\u00…`,
		`x test\u002Bkey\…`,
		`x test%2Bkey%2…`,
	} {
		if got := RedactText(in, echoKey); got != "x [REDACTED]…" {
			t.Errorf("RedactText(%q) = %q", in, got)
		}
	}
}
