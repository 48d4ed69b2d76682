package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
)

// redacted stands where the API echoed the key.
const redacted = "[REDACTED]"

// minKeyPrefix is the shortest start of the key that is redacted where a
// text was cut off ("…") right after it.
const minKeyPrefix = 4

// maxUnescapeLevels is how many layers of escaping RedactText undoes:
// JSON inside a JSON string, a URL inside JSON, and one more.
const maxUnescapeLevels = 3

// RedactText replaces the key in s wherever it appears: as is, in any
// mix of escapes (JSON's \uXXXX for any character and \/, Go's and
// JavaScript's \xXX, URL %XX, nested up to maxUnescapeLevels deep: an
// encoder may escape any character, as .NET's default one writes "+" as
// \u002B), and as the start of the key where a text was cut short right
// after it, perhaps inside an escape.
//
// Every occurrence is found in the text as given, at each layer of
// unescaping, and mapped back to the stretch of s that spells it; the
// stretches are then replaced at once, so that replacing one spelling
// cannot break up another.
func RedactText(s, key string) string {
	if key == "" {
		return s
	}
	text := spelled{b: []byte(s)}
	// The key as is; any other spelling of a key (printable ASCII, no
	// space: see readKey) holds a backslash or a percent sign, and
	// findSpelled reads those.
	spans := text.find(key)
	spans = append(spans, text.findCut(key)...)
	if strings.ContainsAny(s, `\%`) {
		spans = append(spans, text.findSpelled(key)...)
		for range maxUnescapeLevels {
			var changed bool
			if text, changed = text.unescape(); !changed {
				break
			}
			spans = append(spans, text.findSpelled(key)...)
			spans = append(spans, text.findCut(key)...)
		}
	}
	return replaceSpans(s, spans)
}

// replaceSpans replaces each stretch [from, to) of s, overlapping ones
// merged, with the redaction mark.
func replaceSpans(s string, spans [][2]int) string {
	if len(spans) == 0 {
		return s
	}
	slices.SortFunc(spans, func(a, b [2]int) int { return a[0] - b[0] })
	var b strings.Builder
	at := 0
	for _, sp := range spans {
		if sp[0] >= at { // else it overlaps a stretch already redacted
			b.WriteString(s[at:sp[0]])
			b.WriteString(redacted)
		}
		at = max(at, sp[1])
	}
	b.WriteString(s[at:])
	return b.String()
}

// spelled is a text with some layers of escapes undone: b[i] was spelled
// by the original text's bytes from[i] to from[i+1]. A nil from means no
// layer was undone (b is the original).
type spelled struct {
	b    []byte
	from []int32
}

// span returns the stretch of the original text that spells b[i:j].
func (t spelled) span(i, j int) [2]int {
	if t.from == nil {
		return [2]int{i, j}
	}
	return [2]int{int(t.from[i]), int(t.from[j])}
}

// find returns the stretches of the original text that spell each
// occurrence of s in t, overlapping ones included.
func (t spelled) find(s string) [][2]int {
	var spans [][2]int
	for from := 0; ; {
		i := bytes.Index(t.b[from:], []byte(s))
		if i < 0 {
			return spans
		}
		i += from
		spans = append(spans, t.span(i, i+len(s)))
		from = i + 1
	}
}

// findSpelled returns the stretches of the original text that spell key
// when each escape in them is read either as the byte it spells or as its
// own characters: a "%" or "\\" before the key may be literal, so reading
// every escape (as unescape does) could break the key up ("%" then "00…"
// reads as "%00").
func (t spelled) findSpelled(key string) [][2]int {
	var spans [][2]int
	var ends, next []int
	// A spelling starts with the key's first byte or an escape.
	var starts [256]bool
	starts[key[0]], starts['\\'], starts['%'] = true, true, true
	for start, c := range t.b {
		if !starts[c] {
			continue
		}
		ends = append(ends[:0], start)
		for j := 0; j < len(key) && len(ends) > 0; j++ {
			next = next[:0]
			for _, p := range ends {
				if p >= len(t.b) {
					continue // the text ends before the key does
				}
				if t.b[p] == key[j] {
					next = append(next, p+1)
				}
				// Where no escape starts, unescapeAt gives byte 0,
				// which no key holds.
				if c, n := unescapeAt(t.b, p); c == key[j] {
					next = append(next, p+n)
				}
			}
			// Two readings may end alike: keep each end once, or the
			// readings of a run of escapes would multiply.
			slices.Sort(next)
			ends, next = slices.Compact(next), ends
		}
		for _, end := range ends {
			spans = append(spans, t.span(start, end))
		}
	}
	return spans
}

// findCut returns the stretches of the original text that spell the
// start of the key (minKeyPrefix bytes or more) right before an ellipsis,
// where a text was cut off inside the key, perhaps inside an escape.
func (t spelled) findCut(key string) [][2]int {
	var spans [][2]int
	for from := 0; ; {
		i := bytes.Index(t.b[from:], []byte("…"))
		if i < 0 {
			return spans
		}
		i += from
		from = i + len("…")
		end := i - partialEscape(t.b[:i])
		for k := min(len(key)-1, end); k >= minKeyPrefix; k-- {
			if bytes.HasSuffix(t.b[:end], []byte(key[:k])) {
				spans = append(spans, t.span(end-k, i))
				break
			}
		}
	}
}

// unescape undoes one layer of the escapes that spell an ASCII byte (a
// key is printable ASCII): JSON's \" \\ \/ \b \f \n \r \t \uXXXX, \xXX
// and URL %XX. Anything else is kept as it is.
func (t spelled) unescape() (out spelled, changed bool) {
	out.b = make([]byte, 0, len(t.b))
	out.from = make([]int32, 0, len(t.b)+1)
	for i := 0; i < len(t.b); {
		c, n := unescapeAt(t.b, i)
		if n == 0 {
			c, n = t.b[i], 1
		} else {
			changed = true
		}
		out.b = append(out.b, c)
		out.from = append(out.from, int32(t.span(i, i+n)[0]))
		i += n
	}
	out.from = append(out.from, int32(t.span(len(t.b), len(t.b))[0]))
	return out, changed
}

// unescapeAt decodes the escape starting at b[i], returning the byte and
// the escape's length, or n == 0 when none starts there.
func unescapeAt(b []byte, i int) (c byte, n int) {
	switch b[i] {
	case '%':
		if v, ok := hexByte(b[i+1:], 2); ok {
			return v, 3
		}
	case '\\':
		if i+1 >= len(b) {
			return 0, 0
		}
		switch e := b[i+1]; e {
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
			if v, ok := hexByte(b[i+2:], 4); ok {
				return v, 6
			}
		case 'x':
			if v, ok := hexByte(b[i+2:], 2); ok {
				return v, 4
			}
		}
	}
	return 0, 0
}

// hexByte reads n hexadecimal digits at the start of b that spell a byte
// (\u0100 and up spell none; bytes past ASCII are read, but never match a
// key, which is printable ASCII).
func hexByte(b []byte, n int) (byte, bool) {
	if len(b) < n || !isHex(b[:n]) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(b[:n]), 16, 8)
	return byte(v), err == nil
}

// partialEscape returns the length of the escape that b ends in the
// middle of ("\\u00", "%2"), or 0.
//
// Such an escape is at most 5 bytes long and starts at the last backslash
// or percent sign of the text: the rest of it is "u" or "x" and hex digits.
func partialEscape(b []byte) int {
	last := b[max(len(b)-5, 0):]
	i := bytes.LastIndexAny(last, `\%`)
	if i < 0 {
		return 0
	}
	switch tail := last[i:]; tail[0] {
	case '\\':
		if len(tail) == 1 || (tail[1] == 'u' || tail[1] == 'x') && isHex(tail[2:]) {
			return len(tail)
		}
	case '%':
		if len(tail) <= 2 && isHex(tail[1:]) {
			return len(tail)
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
