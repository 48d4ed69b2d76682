package client

// uuidLen is the length of a uuid's text form.
const uuidLen = 36

const hexDigits = "0123456789abcdef"

// isCanonicalUUID reports whether s is a uuid in the API's form: lower-case
// hex, 8-4-4-4-12. Only that form is held as 16 bytes, so that formatting
// it again gives back exactly what the API sent.
func isCanonicalUUID(s string) bool {
	var id ident
	return parseUUID(&id, s)
}

// parseUUID stores s's 16 bytes in id if s is a canonical uuid.
func parseUUID(id *ident, s string) bool {
	if len(s) != uuidLen || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return false
	}
	var out ident
	j := 0
	for i := 0; i < uuidLen; i += 2 {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i++
		}
		hi, ok1 := lowerHex(s[i])
		lo, ok2 := lowerHex(s[i+1])
		if !ok1 || !ok2 {
			return false
		}
		out[j] = hi<<4 | lo
		j++
	}
	*id = out
	return true
}

func lowerHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// formatUUID writes id's text form into buf[:uuidLen].
func formatUUID(buf []byte, id *ident) {
	_ = buf[uuidLen-1]
	j := 0
	for i, b := range id {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			buf[j] = '-'
			j++
		}
		buf[j], buf[j+1] = hexDigits[b>>4], hexDigits[b&15]
		j += 2
	}
}
