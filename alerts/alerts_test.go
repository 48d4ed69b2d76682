// Package alerts holds the Prometheus rule file for dasha_exporter and its
// tests; it has no Go code of its own.
package alerts

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/dasha-exporter/dasha_exporter/internal/testtools"
)

const (
	ruleFile   = "dasha_exporter.rules.yml"
	runbook    = "../docs/runbook.md"
	runbookURL = "https://github.com/dasha-exporter/dasha_exporter/blob/main/docs/runbook.md#"
)

var wantAlerts = []string{
	"DashaAPIScrapeFailing",
	"DashaExporterDown",
	"DashaSIPRegistrationExpired",
	"DashaSIPRegistrationExpiringSoon",
	"DashaSIPRegistrationFailing",
	"DashaSIPRegistrationFlapping",
	"DashaSIPRegistrationFleetDegraded",
}

func runPromtool(t *testing.T, args ...string) string {
	t.Helper()
	promtool := testtools.Find(t, "promtool")
	cmd := exec.Command(promtool, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestPromtoolCheckRules(t *testing.T) {
	out := runPromtool(t, "check", "rules", ruleFile)
	if strings.Contains(strings.ToLower(out), "warning") {
		t.Errorf("promtool check rules warns:\n%s", out)
	}
}

func TestPromtoolTestRules(t *testing.T) {
	files, err := filepath.Glob("tests/*.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule tests found in tests/: %v", err)
	}
	runPromtool(t, append([]string{"test", "rules"}, files...)...)
}

// rule is what the rule file says about one rule, as promtool reads it.
type rule struct {
	Alert       string            `json:"alert"`
	Record      string            `json:"record"`
	Expr        string            `json:"expr"`
	For         string            `json:"for"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

// loadRules reads the rule file without a YAML library (TestPromtoolCheckRules
// validates the file itself): a small indentation-aware reader that
// understands exactly the subset of YAML the rule file uses.
func loadRules(t *testing.T) []rule {
	t.Helper()
	data, err := os.ReadFile(ruleFile)
	if err != nil {
		t.Fatal(err)
	}
	var rules []rule
	var cur *rule
	var section string // "", "labels", "annotations", "expr"
	var blockKey string
	var block []string
	flush := func() {
		if cur == nil || blockKey == "" {
			return
		}
		text := strings.Join(block, "\n")
		switch section {
		case "expr":
			cur.Expr = text
		case "annotations":
			cur.Annotations[blockKey] = text
		}
		blockKey, block = "", nil
	}
	keyVal := regexp.MustCompile(`^(\s*)(- )?([A-Za-z_]+):\s*(.*)$`)
	sc := bufio.NewScanner(bytes.NewReader(data))
	blockIndent := -1
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		indent := len(line) - len(strings.TrimLeft(line, " "))
		if blockKey != "" {
			if trimmed == "" || indent > blockIndent {
				block = append(block, trimmed)
				continue
			}
			flush()
		}
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		m := keyVal.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		key, val := m[3], m[4]
		if m[2] != "" { // a new list item: a rule, or a group
			cur, section = nil, ""
			if key == "alert" || key == "record" {
				rules = append(rules, rule{Labels: map[string]string{}, Annotations: map[string]string{}})
				cur = &rules[len(rules)-1]
			}
		}
		if cur == nil {
			continue
		}
		switch key {
		case "alert":
			cur.Alert = unquote(val)
			continue
		case "record":
			cur.Record = unquote(val)
			continue
		case "for":
			cur.For = val
			continue
		case "labels", "annotations":
			if val == "" {
				section = key
				continue
			}
		case "expr":
			section = "expr"
			if val == "|" || val == "|-" || val == ">-" {
				blockKey, blockIndent = key, indent
			} else {
				cur.Expr = val
			}
			continue
		}
		switch section {
		case "labels":
			cur.Labels[key] = unquote(val)
		case "annotations":
			if val == "|" || val == "|-" || val == ">-" || val == ">" {
				blockKey, blockIndent = key, indent
			} else {
				cur.Annotations[key] = unquote(val)
			}
		}
	}
	flush()
	return rules
}

func unquote(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		var out string
		if err := json.Unmarshal([]byte(s), &out); err == nil {
			return out
		}
	}
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		return strings.ReplaceAll(s[1:len(s)-1], "''", "'")
	}
	return s
}

// githubAnchor turns a Markdown heading into GitHub's anchor for it.
func githubAnchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	return b.String()
}

func runbookAnchors(t *testing.T) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(runbook)
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	inFence := false
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "```") {
			inFence = !inFence
			continue
		}
		if !inFence && strings.HasPrefix(line, "#") {
			anchors[githubAnchor(strings.TrimLeft(line, "#"))] = true
		}
	}
	return anchors
}

func TestRuleFileContract(t *testing.T) {
	rules := loadRules(t)
	anchors := runbookAnchors(t)
	var got []string
	for _, r := range rules {
		if r.Alert == "" {
			continue
		}
		got = append(got, r.Alert)
		if s := r.Labels["severity"]; s != "critical" && s != "warning" {
			t.Errorf("%s: severity %q, want critical or warning", r.Alert, s)
		}
		for _, a := range []string{"summary", "description", "runbook_url"} {
			if strings.TrimSpace(r.Annotations[a]) == "" {
				t.Errorf("%s: annotation %s missing or empty", r.Alert, a)
			}
		}
		if !strings.Contains(r.Annotations["description"], "{{") {
			t.Errorf("%s: description is not templated", r.Alert)
		}
		want := runbookURL + strings.ToLower(r.Alert)
		if u := r.Annotations["runbook_url"]; u != want {
			t.Errorf("%s: runbook_url %q, want %q", r.Alert, u, want)
		}
		if !anchors[strings.ToLower(r.Alert)] {
			t.Errorf("%s: no heading %q in %s", r.Alert, r.Alert, runbook)
		}
		if r.For == "" {
			t.Errorf("%s: no `for:` duration", r.Alert)
		}
		if strings.Contains(r.Expr, "job=") != (r.Alert == "DashaExporterDown") {
			t.Errorf("%s: the job selector must appear in DashaExporterDown's expr and nowhere else; expr:\n%s", r.Alert, r.Expr)
		}
		if strings.HasPrefix(r.Alert, "DashaSIPRegistration") && !strings.Contains(r.Expr, "enabled") {
			t.Errorf("%s: per-number alert does not check dasha_sip_registration_enabled", r.Alert)
		}
	}
	sort.Strings(got)
	if strings.Join(got, ",") != strings.Join(wantAlerts, ",") {
		t.Errorf("alerts = %v, want exactly %v", got, wantAlerts)
	}
}

// TestForLinesRewritable guards the promise that every `for:` stands on a
// line of its own, so a test can shorten durations by rewriting those lines.
func TestForLinesRewritable(t *testing.T) {
	data, err := os.ReadFile(ruleFile)
	if err != nil {
		t.Fatal(err)
	}
	forLine := regexp.MustCompile(`^\s+for: [0-9]+[smhd]$`)
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, "for:") && !strings.HasPrefix(strings.TrimSpace(line), "#") {
			if !forLine.MatchString(line) {
				t.Errorf("line %q is not of the form `for: <duration>`", line)
			}
			n++
		}
	}
	if n != len(wantAlerts) {
		t.Errorf("found %d `for:` lines, want one per alert (%d)", n, len(wantAlerts))
	}
}
