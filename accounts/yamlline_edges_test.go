package accounts

import "testing"

// faultLine judges structure only: block scalars' text, multi-line flow
// collections and quoted brackets are skipped, a return to an enclosing
// block's column is no fault, and the first line is judged like any other.
func TestFaultLineJudgesStructureOnly(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		line     int // 0: no fault
	}{
		{"dedent to an enclosing block", "a:\n  b:\n    c: 1\n  d: 2\n", 0},
		{"first line indented", "  a: 1\n b: 2\n", 2},
		{"block scalar of a top-level key", "a: |\n  x: y\n   z\nb: 1\n", 0},
		{"blank line inside a block scalar", "a:\n  b: |\n    x\n\n    y: z\n  c: 1\n", 0},
		{"block scalar text that looks like a key", "a:\n  b: |\n      x: y\n  c: 1\n", 0},
		{"key under a value right after a block scalar", "a:\n  b: |\n    x\n  c: 1\n   d: 2\n", 5},
		{"flow list over two lines", "a: [\n    x: y]\n", 0},
		{"nested flow lists over lines", "a: [\n  [b,\n  c: d]]\n", 0},
		{"fault after a closed flow list", "a: [\n  b]\nc: 1\n  d: 2\n", 4},
		{"brackets inside quotes", "a: [']]',\n    y: z]\n", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if line, why := faultLine([]byte(tc.in)); line != tc.line {
				t.Errorf("faultLine = %d %q, want %d", line, why, tc.line)
			}
		})
	}
}
