package collector

// SIPCode returns the first SIP status code (100–699) that stands as a
// word in a registrar answer such as "403 Forbidden" or
// "SIP/2.0 408 Request Timeout". A word is three digits not joined to a
// letter, another digit, or a decimal point between digits ("2.0", "1.403"
// are versions and numbers, not codes).
func SIPCode(msg string) (int, bool) {
	for i := 0; i+3 <= len(msg); i++ {
		if !isDigit(msg[i]) {
			continue
		}
		j := i
		for j < len(msg) && isDigit(msg[j]) {
			j++
		}
		if j-i == 3 && standsAlone(msg, i, j) {
			code := int(msg[i]-'0')*100 + int(msg[i+1]-'0')*10 + int(msg[i+2]-'0')
			if code >= 100 && code <= 699 {
				return code, true
			}
		}
		i = j // skip the rest of this run of digits
	}
	return 0, false
}

// standsAlone reports whether msg[i:j] is bounded by non-word characters.
func standsAlone(msg string, i, j int) bool {
	if i > 0 {
		c := msg[i-1]
		if isLetter(c) || (c == '.' && i > 1 && isDigit(msg[i-2])) {
			return false
		}
	}
	if j < len(msg) {
		c := msg[j]
		if isLetter(c) || (c == '.' && j+1 < len(msg) && isDigit(msg[j+1])) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isLetter counts any byte of a multi-byte UTF-8 rune as a letter, so that
// digits glued to non-ASCII text are not taken for a code.
func isLetter(c byte) bool {
	return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || c == '_' || c >= 0x80
}
