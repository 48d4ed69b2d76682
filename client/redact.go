package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// redacted stands where the API echoed the key.
const redacted = "[REDACTED]"

// minKeyPrefix is the shortest start of the key that is redacted where a
// text was cut off ("…") right after it.
const minKeyPrefix = 4

// RedactText replaces the key in s wherever it appears: as is, in any
// mix of escapes (JSON's \uXXXX for any character and \/, Go's and
// JavaScript's \xXX, URL %XX, nested up to maxUnescapeLevels deep), and as
// the start of the key where a text was cut short right after it.
func RedactText(s, key string) string {
	if key == "" {
		return s
	}
	for _, form := range keyForms(key) {
		s = strings.ReplaceAll(s, form, redacted)
	}
	s = redactEscaped(s, key)
	// A text cut off inside the key keeps only its start.
	for from := 0; ; {
		i := strings.Index(s[from:], "…")
		if i < 0 {
			break
		}
		i += from
		for k := min(len(key)-1, i); k >= minKeyPrefix; k-- {
			if strings.HasSuffix(s[:i], key[:k]) {
				s = s[:i-k] + redacted + s[i:]
				i += len(redacted) - k
				break
			}
		}
		from = i + len("…")
	}
	return s
}

// keyForms lists the spellings of key that RedactText replaces as they
// are, the key itself first; redactEscaped finds the others.
func keyForms(key string) []string {
	forms := []string{key}
	add := func(f string) {
		if f != "" && !slices.Contains(forms, f) {
			forms = append(forms, f)
		}
	}
	quoted := strconv.Quote(key)
	add(quoted[1 : len(quoted)-1])
	if j, err := json.Marshal(key); err == nil {
		add(string(j[1 : len(j)-1]))
	}
	add(url.QueryEscape(key))
	add(url.PathEscape(key))
	return forms
}

// maxUnescapeLevels is how many layers of escaping redactEscaped undoes:
// JSON inside a JSON string, a URL inside JSON, and one more.
const maxUnescapeLevels = 3

// redactEscaped replaces every stretch of s that spells the key once its
// escapes are undone, whichever characters were escaped: an encoder may
// escape any of them (.NET's default one writes "+" as \u002B).
func redactEscaped(s, key string) string {
	if !strings.ContainsAny(s, `\%`) {
		return s
	}
	text := make([]spelledByte, len(s))
	for i := range len(s) {
		text[i] = spelledByte{s[i], i, i + 1}
	}
	spans := findCutKey(text, key)
	for range maxUnescapeLevels {
		var changed bool
		if text, changed = unescapeOnce(text); !changed {
			break
		}
		spans = append(spans, findKey(text, key)...)
		spans = append(spans, findCutKey(text, key)...)
	}
	if len(spans) == 0 {
		return s
	}
	slices.SortFunc(spans, func(a, b [2]int) int { return a[0] - b[0] })
	var b strings.Builder
	at := 0
	for _, sp := range spans {
		if sp[1] <= at {
			continue // inside a stretch already redacted
		}
		if sp[0] >= at {
			b.WriteString(s[at:sp[0]])
			b.WriteString(redacted)
		}
		at = sp[1]
	}
	b.WriteString(s[at:])
	return b.String()
}

// spelledByte is one byte of an unescaped text and the stretch [from, to)
// of the original text that spelled it.
type spelledByte struct {
	b        byte
	from, to int
}

// unescapeOnce undoes one layer of escapes that spell an ASCII byte
// (a key is printable ASCII): JSON's \" \\ \/ \b \f \n \r \t \uXXXX, \xXX
// and URL %XX. Anything else is kept as it is.
func unescapeOnce(in []spelledByte) (out []spelledByte, changed bool) {
	out = make([]spelledByte, 0, len(in))
	for i := 0; i < len(in); {
		c, n := unescapeAt(in, i)
		if n == 0 {
			out = append(out, in[i])
			i++
			continue
		}
		out = append(out, spelledByte{c, in[i].from, in[i+n-1].to})
		i += n
		changed = true
	}
	return out, changed
}

// unescapeAt decodes the escape starting at in[i], returning the byte and
// the escape's length, or n == 0 when none starts there.
func unescapeAt(in []spelledByte, i int) (c byte, n int) {
	switch in[i].b {
	case '%':
		if v, ok := hexAt(in, i+1, 2); ok {
			return v, 3
		}
	case '\\':
		if i+1 >= len(in) {
			return 0, 0
		}
		switch e := in[i+1].b; e {
		case '"', '\\', '/':
			return e, 2
		case 'b':
			return '\b', 2
		case 'f':
			return '\f', 2
		case 'n':
			return '\n', 2
		case 'r':
			return '\r', 2
		case 't':
			return '\t', 2
		case 'u':
			if v, ok := hexAt(in, i+2, 4); ok {
				return v, 6
			}
		case 'x':
			if v, ok := hexAt(in, i+2, 2); ok {
				return v, 4
			}
		}
	}
	return 0, 0
}

// hexAt reads n hexadecimal digits at in[i:] that spell an ASCII byte.
func hexAt(in []spelledByte, i, n int) (byte, bool) {
	if i+n > len(in) {
		return 0, false
	}
	v := 0
	for _, d := range in[i : i+n] {
		var x int
		switch c := d.b; {
		case c >= '0' && c <= '9':
			x = int(c - '0')
		case c >= 'a' && c <= 'f':
			x = int(c-'a') + 10
		case c >= 'A' && c <= 'F':
			x = int(c-'A') + 10
		default:
			return 0, false
		}
		v = v<<4 | x
	}
	if v >= 0x80 {
		return 0, false
	}
	return byte(v), true
}

// findKey returns the stretches of the original text that spell each
// occurrence of key in text, overlapping ones included.
func findKey(text []spelledByte, key string) [][2]int {
	b := make([]byte, len(text))
	for i, sb := range text {
		b[i] = sb.b
	}
	var spans [][2]int
	for from := 0; ; {
		i := bytes.Index(b[from:], []byte(key))
		if i < 0 {
			return spans
		}
		i += from
		spans = append(spans, [2]int{text[i].from, text[i+len(key)-1].to})
		from = i + 1
	}
}

// findCutKey returns the stretches of the original text that spell the
// start of the key (minKeyPrefix bytes or more) right before an ellipsis,
// where a text was cut off inside the key, perhaps inside an escape.
func findCutKey(text []spelledByte, key string) [][2]int {
	b := make([]byte, len(text))
	for i, sb := range text {
		b[i] = sb.b
	}
	var spans [][2]int
	for from := 0; ; {
		i := bytes.Index(b[from:], []byte("…"))
		if i < 0 {
			return spans
		}
		i += from
		from = i + len("…")
		end := i - partialEscape(b[:i])
		for k := min(len(key)-1, end); k >= minKeyPrefix; k-- {
			if bytes.HasSuffix(b[:end], []byte(key[:k])) {
				spans = append(spans, [2]int{text[end-k].from, text[i-1].to})
				break
			}
		}
	}
}

// partialEscape returns the length of the escape that b ends in the
// middle of ("\u00", "%2"), or 0.
func partialEscape(b []byte) int {
	for n := 1; n <= 5 && n <= len(b); n++ {
		switch tail := b[len(b)-n:]; tail[0] {
		case '\\':
			if n == 1 || (tail[1] == 'u' || tail[1] == 'x') && isHex(tail[2:]) {
				return n
			}
		case '%':
			if isHex(tail[1:]) {
				return n
			}
		}
	}
	return 0
}

func isHex(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// redactJSON returns body, a JSON value, compacted with every string in
// it (names too) decoded, redacted and encoded again: no escape can
// spell the key past the redaction, whichever field holds it. ok is false
// when body is not one JSON value.
func redactJSON(body []byte, key string) (shown string, ok bool) {
	if !json.Valid(body) {
		return "", false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	type level struct {
		object bool
		n      int // values (and names) written
	}
	var stack []level
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", false
		}
		if d, isDelim := tok.(json.Delim); isDelim && (d == '}' || d == ']') {
			b.WriteByte(byte(d))
			stack = stack[:len(stack)-1]
			continue
		}
		if n := len(stack); n > 0 {
			top := &stack[n-1]
			switch {
			case top.n == 0:
			case top.object && top.n%2 == 1:
				b.WriteByte(':')
			default:
				b.WriteByte(',')
			}
			top.n++
		}
		switch v := tok.(type) {
		case json.Delim:
			b.WriteByte(byte(v))
			stack = append(stack, level{object: v == '{'})
		case string:
			enc.Encode(RedactText(v, key))
			b.Truncate(b.Len() - 1) // Encode's newline
		case json.Number:
			b.WriteString(string(v))
		case bool:
			b.WriteString(strconv.FormatBool(v))
		case nil:
			b.WriteString("null")
		}
	}
	return b.String(), true
}

// redactError returns err with the key redacted from its text; errors.Is
// and errors.As still see what it wraps.
func redactError(err error, key string) error {
	if err == nil || key == "" {
		return err
	}
	msg := err.Error()
	if red := RedactText(msg, key); red != msg {
		return &redactedError{msg: red, err: err}
	}
	return err
}

// redactedError hides the text of the error it wraps. It has no Unwrap, so
// that the wrapped text cannot be reached; Is and As answer for it.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string        { return e.msg }
func (e *redactedError) Is(target error) bool { return errors.Is(e.err, target) }
func (e *redactedError) As(target any) bool   { return errors.As(e.err, target) }

// redactNumber replaces the key in every text of n.
func redactNumber(n *PhoneNumber, key string) {
	texts := []*string{&n.ID, &n.OrgID, &n.PhoneNumber, &n.CredentialsID, &n.DisplayName, &n.ProviderID, &n.IncomingCallsAgentID}
	if st := n.RegistrationStatus; st != nil {
		texts = append(texts, &st.State, &st.ErrorDescription, &st.SIPResponseMessage)
	}
	for _, t := range texts {
		if strings.Contains(*t, key) {
			*t = strings.ReplaceAll(*t, key, redacted)
		}
	}
}
