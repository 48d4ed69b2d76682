package client

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// Ids are identities: every series of a number carries its id, so two
// numbers whose ids differ as the API sent them must keep distinct ids
// here, or one would hide the other (a failing number merged into a
// healthy one, or two series with the same labels).
//
// encoding/json reads an id losslessly unless it holds bytes that are not
// UTF-8 or a lone UTF-16 surrogate (\ud800): it turns both into U+FFFD,
// and "num-\xff" and "num-\xfe" would become one number. Such an id is
// read again from the page's bytes and written with escapes instead:
// escapedID. An escaped id can still equal an id the API sent as plain text
// ("num-\\xff" in JSON); assemble refuses the listing then (idSet).

// mayHaveLossyText reports whether encoding/json may have replaced
// something in data: bytes that are not UTF-8, or an escaped surrogate
// (a pair is fine, but finding out costs more than the rare second look).
func mayHaveLossyText(data []byte) bool {
	if !utf8.Valid(data) {
		return true
	}
	for i := 0; ; {
		k := bytes.Index(data[i:], []byte(`\u`))
		if k < 0 || i+k+4 > len(data) {
			return false
		}
		i += k + 2
		if (data[i] == 'd' || data[i] == 'D') && bytes.IndexByte([]byte("89abAB"), data[i+1]) >= 0 {
			return true
		}
	}
}

// escapeIDs reads the ids of p's items again from data, and replaces each
// that encoding/json could not read losslessly with its escapedID.
func escapeIDs(data []byte, p *page) error {
	var raw struct {
		Items []struct {
			ID rawText `json:"id"`
		} `json:"items"`
	}
	if err := json.Unmarshal(data, &raw); err != nil || len(raw.Items) != len(p.Items) {
		return fmt.Errorf("the page's ids could not be read again: %v", err)
	}
	for i, item := range raw.Items {
		if id, ok := escapedID(item.ID); ok {
			if p.escapedIDs == nil {
				p.escapedIDs = make([]bool, len(p.Items))
			}
			p.Items[i].ID, p.escapedIDs[i] = id, true
		}
	}
	return nil
}

// rawText is a JSON value as it stands in the page.
type rawText []byte

func (t *rawText) UnmarshalJSON(b []byte) error {
	*t = append((*t)[:0], b...)
	return nil
}

// escapedID returns the JSON string literal lit as text, and true, when it
// holds bytes that are not UTF-8 or a lone surrogate: such a byte is written
// \xff, such a surrogate \ud800, and a backslash \\, so that distinct
// escaped ids stay distinct. It returns false for any other literal, which
// encoding/json reads losslessly.
func escapedID(lit []byte) (string, bool) {
	s, opened := bytes.CutPrefix(lit, []byte{'"'})
	s, closed := bytes.CutSuffix(s, []byte{'"'})
	if !opened || !closed {
		return "", false // null: there is no id, and parsePage said so
	}
	out := make([]byte, 0, len(s)+8)
	lossy := false
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			e := s[i+1]
			i += 2
			switch e {
			case 'u':
				r, ok := hex4(s, i)
				if !ok {
					return "", false // not JSON; encoding/json refused it already
				}
				i += 4
				if 0xd800 <= r && r < 0xdc00 && i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if lo, ok := hex4(s, i+2); ok && 0xdc00 <= lo && lo < 0xe000 {
						out = utf8.AppendRune(out, 0x10000+(r-0xd800)<<10+(lo-0xdc00))
						i += 6
						continue
					}
				}
				if 0xd800 <= r && r < 0xe000 {
					lossy = true
					out = append(out, `\u`...)
					out = append(out, hexDigits[r>>12], hexDigits[r>>8&15], hexDigits[r>>4&15], hexDigits[r&15])
					continue
				}
				if r == '\\' {
					out = append(out, `\\`...)
					continue
				}
				out = utf8.AppendRune(out, r)
			case '\\':
				out = append(out, `\\`...)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			default: // " and /
				out = append(out, e)
			}
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				lossy = true
				out = append(out, '\\', 'x', hexDigits[c>>4], hexDigits[c&15])
			} else {
				out = append(out, s[i:i+size]...)
			}
			i += size
		}
	}
	return string(out), lossy
}

// hex4 reads the 4 hex digits of a \u escape at s[i:].
func hex4(s []byte, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range s[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// idSet de-duplicates a listing's numbers by id, and refuses two ids that
// differ as sent but read alike: an escaped id equal to a plain one.
type idSet struct {
	uuids map[ident]struct{}
	texts map[string]uint8 // the id, and its flagIDEscaped bit
}

// newIDSet returns a set sized for the numbers of pages.
func newIDSet(pages []*fetched) *idSet {
	uuids, texts := 0, 0
	for _, p := range pages {
		for j := range p.block.recs {
			if p.block.recs[j].flags&flagIDUUID != 0 {
				uuids++
			} else {
				texts++
			}
		}
	}
	return &idSet{uuids: make(map[ident]struct{}, uuids), texts: make(map[string]uint8, texts)}
}

// add adds number r of b and reports whether its id was there already.
func (s *idSet) add(b *block, r *record) (dup bool, err error) {
	if r.flags&flagIDUUID != 0 {
		if _, dup = s.uuids[r.id]; !dup {
			s.uuids[r.id] = struct{}{}
		}
		return dup, nil
	}
	id := b.text(r.id.span())
	escaped := r.flags & flagIDEscaped
	was, dup := s.texts[id]
	if !dup {
		s.texts[id] = escaped
		return false, nil
	}
	if was != escaped {
		return false, fmt.Errorf("two numbers have ids that differ as the API sent them but would both be exported as id %q (one held bytes that are not UTF-8 or a lone surrogate, written as escapes); the listing is refused so that neither hides the other", truncate([]byte(id), 80))
	}
	return true, nil
}
