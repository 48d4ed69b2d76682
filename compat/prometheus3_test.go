package compat

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Prometheus 3's promtool (v0.316.0) on the shipped rules and every shipped
// rule test; the exporter's own tests run the same with Debian's 2.x.
func TestPromtool3CheckRules(t *testing.T) {
	promtool := tool(t, "PROMTOOL3", "")
	out := run(t, root, promtool, append([]string{"check", "rules"}, rel(t, glob(t, filepath.Join(root, "alerts", "*.yml")))...)...)
	if strings.Contains(strings.ToLower(out), "warning") {
		t.Errorf("promtool 3 check rules warns:\n%s", out)
	}
}

func TestPromtool3TestRules(t *testing.T) {
	promtool := tool(t, "PROMTOOL3", "")
	run(t, root, promtool, append([]string{"test", "rules"}, rel(t, glob(t, filepath.Join(root, "alerts", "tests", "*.yml")))...)...)
}

// A promtool built with go install reports no version of its own (no
// -ldflags); the Go build information says which module built it.
func TestPromtool3Version(t *testing.T) {
	promtool := tool(t, "PROMTOOL3", "")
	out := run(t, root, "go", "version", "-m", promtool)
	if !regexp.MustCompile(`(?m)^\s+mod\s+github.com/prometheus/prometheus\s+v0\.3\d\d\.`).MatchString(out) {
		t.Errorf("PROMTOOL3 is not built from github.com/prometheus/prometheus v0.3xx (Prometheus 3):\n%s", out)
	}
}

// rel makes paths relative to root, where the tools run.
func rel(t *testing.T, paths []string) []string {
	t.Helper()
	out := make([]string, len(paths))
	for i, p := range paths {
		r, err := filepath.Rel(root, p)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = r
	}
	return out
}
