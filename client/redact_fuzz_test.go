package client

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// keyAlphabet is what the fuzzed keys are made of: the characters of
// base64, URL-safe base64, JWTs and "sk_live_…" keys.
const keyAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=._~-"

// fillerAlphabet is what the body around the echoes is made of: nothing
// of keyAlphabet, so that any run of key bytes in the shown text came
// from an echo; escape starters and JSON's specials included.
const fillerAlphabet = " !\"#$%&'()*,:;<>?@[\\]^`{|}\té…"

// FuzzRedactBody builds an error body that echoes a key in random
// spellings (raw, any character as \uXXXX in either case, / as \/, any
// character as %XX), in one of the body shapes APIs use, and checks that
// the APIError shows no spelling of the key and no 8-byte run of it.
func FuzzRedactBody(f *testing.F) {
	dotnetSpell := make([]byte, len(echoKey))
	dotnetSpell[strings.IndexByte(echoKey, '+')] = 1
	dotnetSpell[strings.IndexByte(echoKey, '/')] = 3
	for shape := range uint8(7) {
		f.Add([]byte(echoKey), dotnetSpell, []byte("invalid key "), shape)
	}
	f.Add([]byte("sk_live_5hT9xQ2mV8"), []byte{1, 2, 4, 0, 1, 2, 4, 0, 1, 2, 4}, []byte(`\%"…`), uint8(5))
	f.Add([]byte("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc-_"), []byte{2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2}, []byte("x"), uint8(6))
	f.Add([]byte("Zm9vYmFy/YmF6cXV4+c2VjcmV0a2V5MTIzNDU2Nzg5MA=="), []byte{4, 3, 1}, []byte(strings.Repeat("é", 200)), uint8(1))
	f.Fuzz(func(t *testing.T, keySeed, spell, filler []byte, shape uint8) {
		key := fuzzKey(keySeed)
		echoes := 1 + len(spell)%3
		parts := splitFiller(filler, echoes+1)
		var plain strings.Builder // the text with its echoes, before JSON
		var body string
		plain.WriteString(parts[0])
		for i := range echoes {
			plain.WriteString(spellKey(key, spell, i))
			plain.WriteString(parts[i+1])
		}
		body = shapeBody(plain.String(), shape%7)

		e := newAPIError(http.StatusUnauthorized, "/p", []byte(body), key)
		shown := strings.Join([]string{e.Title, e.Detail, e.Type, e.TraceID}, "\n")
		if how := fuzzLeaks(shown, key); how != "" {
			t.Fatalf("key %q, body %s: the error shows the key (%s): %q", key, body, how, shown)
		}
		if run := keyRun(strings.ReplaceAll(shown, redacted, " "), key, 8); run != "" {
			t.Fatalf("key %q, body %s: the error shows %q of the key: %q", key, body, run, shown)
		}
		if !strings.Contains(newAPIError(http.StatusUnauthorized, "/p", nil, key).Error(), key) {
			if how := fuzzLeaks(e.Error(), key); how != "" {
				t.Fatalf("key %q: Error() shows the key (%s): %q", key, how, e.Error())
			}
		}
	})
}

// fuzzKey maps seed onto keyAlphabet, 8 to 64 bytes long.
func fuzzKey(seed []byte) string {
	var b strings.Builder
	for _, c := range seed[:min(len(seed), 64)] {
		if strings.IndexByte(keyAlphabet, c) >= 0 {
			b.WriteByte(c)
		} else {
			b.WriteByte(keyAlphabet[int(c)%len(keyAlphabet)])
		}
	}
	for b.Len() < 8 {
		b.WriteByte(keyAlphabet[b.Len()*7%len(keyAlphabet)])
	}
	return b.String()
}

// splitFiller maps seed onto fillerAlphabet and cuts it into n parts.
func splitFiller(seed []byte, n int) []string {
	runes := []rune(fillerAlphabet)
	var all []rune
	for _, c := range seed[:min(len(seed), 400)] {
		all = append(all, runes[int(c)%len(runes)])
	}
	parts := make([]string, n)
	for i := range n {
		parts[i] = string(all[len(all)*i/n : len(all)*(i+1)/n])
	}
	return parts
}

// spellKey spells the key's echo number i, each character as spell says.
func spellKey(key string, spell []byte, i int) string {
	var b strings.Builder
	for j := range len(key) {
		var how byte
		if len(spell) > 0 {
			how = spell[(i*len(key)+j)%len(spell)] % 5
		}
		c := key[j]
		switch {
		case how == 1:
			fmt.Fprintf(&b, `\u%04X`, c)
		case how == 2:
			fmt.Fprintf(&b, `\u%04x`, c)
		case how == 3 && c == '/':
			b.WriteString(`\/`)
		case how == 4:
			fmt.Fprintf(&b, "%%%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// shapeBody puts text, whose backslash escapes are to be read as JSON's,
// into one of the shapes error bodies come in. The filler's own JSON
// specials are escaped; the echoes' escapes are kept as they are.
func shapeBody(text string, shape uint8) string {
	str := jsonString(text)
	switch shape {
	case 0:
		return `{"title":"Unauthorized","detail":` + str + `}`
	case 1:
		return `{"message":` + str + `}`
	case 2:
		return `{"error":{"code":401,"message":` + str + `}}`
	case 3:
		return `[1,{"errors":[null,` + str + `]}]`
	case 4:
		return `{` + str + `:true}`
	case 5:
		return text
	default: // JSON inside a JSON string
		inner, _ := json.Marshal(`{"message":` + str + `}`)
		return `{"message":` + string(inner) + `}`
	}
}

// jsonString quotes text as a JSON string, escaping what JSON requires
// but keeping the echoes' escapes (a backslash before u, / or %XX-less
// text is the echo's).
func jsonString(text string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '\\' && i+1 < len(text) && (text[i+1] == 'u' || text[i+1] == '/'):
			b.WriteByte(c) // an echo's escape
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// fuzzLeaks is leaks with URL escapes undone too.
func fuzzLeaks(text, key string) string {
	if how := leaks(text, key); how != "" {
		return how
	}
	for _, s := range []string{text, jsonUnescape(text), jsonUnescape(jsonUnescape(strings.ReplaceAll(text, `\\`, `\`)))} {
		if u, err := url.PathUnescape(s); err == nil && strings.Contains(u, key) {
			return "URL-escaped"
		}
	}
	return ""
}

// keyRun returns a run of n bytes of key found in text, or "".
func keyRun(text, key string, n int) string {
	for i := 0; i+n <= len(key); i++ {
		if strings.Contains(text, key[i:i+n]) {
			return key[i : i+n]
		}
	}
	return ""
}
