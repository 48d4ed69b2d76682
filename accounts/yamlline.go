package accounts

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// syntaxError makes the YAML library's error one line that names the line
// of the fault. The library reports where the enclosing block began for a
// mis-indented line ("line 1: did not find expected key" for line 4) and
// the line before a tab in the indentation; a second pass over the text
// (faultLine) finds those. Its answer is taken only when it is at or after
// the library's line: the library never reports past the fault.
func syntaxError(data []byte, err error) error {
	msg := strings.ReplaceAll(strings.TrimPrefix(err.Error(), "yaml: "), "\n", "; ")
	reported := 0
	if m := reportedLineRE.FindStringSubmatch(msg); m != nil {
		reported, _ = strconv.Atoi(m[1])
	}
	if line, why := faultLine(data); line > 0 && line >= reported {
		return &lineError{line: line, msg: why}
	}
	return errors.New(msg)
}

var (
	reportedLineRE = regexp.MustCompile(`^line (\d+):`)
	// blockScalarRE is a line whose value is a literal or folded block
	// (`key: |`, `- >-`): the lines below it are text, not structure.
	blockScalarRE = regexp.MustCompile(`(^-|[:-])\s+[|>][0-9+-]*\s*(#.*)?$`)
	// opensRE is a line after which a more indented block may follow: a
	// key without a value (or with only an anchor or tag), or a list item.
	opensRE = regexp.MustCompile(`(:|^-|:\s+[&!]\S*)\s*(#.*)?$`)
)

// faultLine scans block-style YAML for the two faults the library places
// badly: a tab in the indentation, and a line indented to a column that no
// enclosing block uses. It returns 0 when it finds neither. Flow
// collections ([...], {...}) spanning lines and block scalars are skipped,
// not judged.
func faultLine(data []byte) (line int, why string) {
	indents := []int{0} // the columns of the enclosing blocks
	opens := true       // the line before may start a more indented block
	blockScalar := -1   // inside a block scalar: the indentation of its key
	flow := 0           // depth of an open flow collection
	for i, raw := range strings.Split(string(data), "\n") {
		n := i + 1
		text := strings.TrimRight(raw, " \r")
		spaces := len(text) - len(strings.TrimLeft(text, " "))
		rest := text[spaces:]
		if blockScalar >= 0 {
			if rest == "" || spaces > blockScalar {
				continue
			}
			blockScalar = -1
		}
		if strings.HasPrefix(rest, "\t") {
			return n, "a tab in the indentation; YAML indents with spaces only"
		}
		if rest == "" || rest[0] == '#' || strings.HasPrefix(rest, "---") || strings.HasPrefix(rest, "...") || rest[0] == '%' {
			continue
		}
		if flow > 0 {
			flow = max(0, flow+brackets(rest))
			continue
		}
		top := indents[len(indents)-1]
		switch {
		case spaces > top && opens:
			indents = append(indents, spaces)
		case spaces > top && isKey(rest):
			return n, fmt.Sprintf("this key is indented by %d spaces under a line that opens no block (a value is already set above, at %d spaces)", spaces, top)
		case spaces < top:
			open := columns(indents)
			for len(indents) > 1 && indents[len(indents)-1] > spaces {
				indents = indents[:len(indents)-1]
			}
			if indents[len(indents)-1] != spaces {
				return n, fmt.Sprintf("this line is indented by %d spaces, which matches no enclosing block (%s spaces)", spaces, open)
			}
		}
		opens = opensRE.MatchString(rest)
		if strings.HasPrefix(rest, "- ") && isKey(rest[2:]) {
			// "- key: value": the item's mapping continues two columns in.
			indents = append(indents, spaces+2)
		}
		if blockScalarRE.MatchString(rest) {
			blockScalar = spaces
		}
		flow = max(0, brackets(rest))
	}
	return 0, ""
}

// isKey reports whether a line's text starts a mapping entry.
func isKey(rest string) bool {
	return strings.Contains(rest, ": ") || strings.HasSuffix(rest, ":")
}

// brackets is the flow collections a line opens minus those it closes,
// outside quotes and comments.
func brackets(s string) int {
	depth := 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#' && (i == 0 || s[i-1] == ' '):
			return depth
		case c == '[' || c == '{':
			depth++
		case c == ']' || c == '}':
			depth--
		}
	}
	return depth
}

// columns lists the enclosing blocks' columns for a message: "0, 2 or 4".
func columns(indents []int) string {
	s := make([]string, len(indents))
	for i, c := range indents {
		s[i] = strconv.Itoa(c)
	}
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}
