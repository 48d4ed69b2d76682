// Package alerts holds the Prometheus rule file for dasha_exporter and its
// tests; it has no Go code of its own.
package alerts

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

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

// ruleFileDoc is a Prometheus rule file, with the keys Prometheus' rulefmt
// accepts.
type ruleFileDoc struct {
	Groups []struct {
		Name     string `yaml:"name"`
		Interval string `yaml:"interval"`
		Limit    int    `yaml:"limit"`
		Rules    []rule `yaml:"rules"`
	} `yaml:"groups"`
}

// rule is what the rule file says about one rule, as promtool reads it.
type rule struct {
	Alert         string            `yaml:"alert"`
	Record        string            `yaml:"record"`
	Expr          string            `yaml:"expr"`
	For           string            `yaml:"for"`
	KeepFiringFor string            `yaml:"keep_firing_for"`
	Labels        map[string]string `yaml:"labels"`
	Annotations   map[string]string `yaml:"annotations"`
}

// loadRules reads the rule file with a YAML library, in order, every rule of
// every group (TestPromtoolCheckRules validates the file itself against
// Prometheus' own schema). Keys Prometheus does not know are refused too, so
// that a misspelt key (e.g. "annotation:") fails here with the line number
// rather than reading as an empty map.
func loadRules(t *testing.T) []rule {
	t.Helper()
	data, err := os.ReadFile(ruleFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc ruleFileDoc
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("%s: %v", ruleFile, err)
	}
	var extra any
	if err := dec.Decode(&extra); err != io.EOF {
		t.Fatalf("%s: more than one YAML document (%v)", ruleFile, err)
	}
	var rules []rule
	for _, g := range doc.Groups {
		rules = append(rules, g.Rules...)
	}
	if len(rules) == 0 {
		t.Fatalf("%s: no rules", ruleFile)
	}
	return rules
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

// TestExampleConfigs checks the example Prometheus and Alertmanager
// configurations with their own tools.
func TestExampleConfigs(t *testing.T) {
	runPromtool(t, "check", "config", "examples/prometheus.yml")
	amtool := testtools.Find(t, "amtool")
	out, err := exec.Command(amtool, "check-config", "examples/alertmanager.yml").CombinedOutput()
	if err != nil {
		t.Fatalf("amtool check-config: %v\n%s", err, out)
	}
}

// amConfig is the part of an Alertmanager configuration the inhibition test
// reads.
type amConfig struct {
	InhibitRules []struct {
		SourceMatchers []string `yaml:"source_matchers"`
		TargetMatchers []string `yaml:"target_matchers"`
		Equal          []string `yaml:"equal"`
	} `yaml:"inhibit_rules"`
}

var amMatcherRE = regexp.MustCompile(`^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*")\s*$`)

// amMatch reports whether labels satisfy every matcher, as Alertmanager
// reads them: regular expressions are anchored, and a missing label is "".
func amMatch(t *testing.T, matchers []string, labels map[string]string) bool {
	t.Helper()
	for _, m := range matchers {
		sm := amMatcherRE.FindStringSubmatch(m)
		if sm == nil {
			t.Fatalf("matcher %q: not of the form name<op>\"value\"", m)
		}
		value, err := strconv.Unquote(sm[3])
		if err != nil {
			t.Fatalf("matcher %q: %v", m, err)
		}
		got := labels[sm[1]]
		var ok bool
		switch sm[2] {
		case "=":
			ok = got == value
		case "!=":
			ok = got != value
		case "=~", "!~":
			re, err := regexp.Compile("^(?:" + value + ")$")
			if err != nil {
				t.Fatalf("matcher %q: %v", m, err)
			}
			ok = re.MatchString(got) == (sm[2] == "=~")
		}
		if !ok {
			return false
		}
	}
	return true
}

// TestExampleInhibitions checks what the example Alertmanager configuration
// mutes: which firing alert silences which other one (amtool check-config,
// in TestExampleConfigs, only checks that it parses).
func TestExampleInhibitions(t *testing.T) {
	data, err := os.ReadFile("examples/alertmanager.yml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg amConfig
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	inhibited := func(source, target map[string]string) bool {
		for _, r := range cfg.InhibitRules {
			if !amMatch(t, r.TargetMatchers, target) || !amMatch(t, r.SourceMatchers, source) {
				continue
			}
			equal := true
			for _, l := range r.Equal {
				equal = equal && source[l] == target[l]
			}
			if equal {
				return true
			}
		}
		return false
	}
	num := func(alertname, instance, id string) map[string]string {
		return map[string]string{"alertname": alertname, "instance": instance, "id": id, "job": "dasha", "phone_number": "+1555" + id}
	}
	for _, c := range []struct {
		name           string
		source, target map[string]string
		want           bool
	}{
		{"a number both failed and expired pages once (Expired)",
			num("DashaSIPRegistrationExpired", "exp:9612", "a"), num("DashaSIPRegistrationFailing", "exp:9612", "a"), true},
		{"Expired of one number does not mute Failing of another",
			num("DashaSIPRegistrationExpired", "exp:9612", "a"), num("DashaSIPRegistrationFailing", "exp:9612", "b"), false},
		{"Expired of a number seen by another exporter does not mute Failing",
			num("DashaSIPRegistrationExpired", "exp2:9612", "a"), num("DashaSIPRegistrationFailing", "exp:9612", "a"), false},
		{"Failing does not mute Expired",
			num("DashaSIPRegistrationFailing", "exp:9612", "a"), num("DashaSIPRegistrationExpired", "exp:9612", "a"), false},
		{"Expired mutes ExpiringSoon",
			num("DashaSIPRegistrationExpired", "exp:9612", "a"), num("DashaSIPRegistrationExpiringSoon", "exp:9612", "a"), true},
		{"APIScrapeFailing mutes the exporter's per-number alerts",
			map[string]string{"alertname": "DashaAPIScrapeFailing", "instance": "exp:9612", "job": "dasha"}, num("DashaSIPRegistrationFailing", "exp:9612", "a"), true},
		{"ExporterDown (up == 0) mutes the exporter's per-number alerts",
			map[string]string{"alertname": "DashaExporterDown", "instance": "exp:9612", "job": "dasha"}, num("DashaSIPRegistrationExpired", "exp:9612", "a"), true},
		{"ExporterDown of another exporter mutes nothing here",
			map[string]string{"alertname": "DashaExporterDown", "instance": "exp2:9612", "job": "dasha"}, num("DashaSIPRegistrationFailing", "exp:9612", "a"), false},
		// absent(up{job="dasha"}) has no instance label, so equal: [instance]
		// never holds against a per-number alert, which always has one; the
		// example's comment says so.
		{"ExporterDown from absent() (no instance) mutes no per-number alert",
			map[string]string{"alertname": "DashaExporterDown", "job": "dasha"}, num("DashaSIPRegistrationFailing", "exp:9612", "a"), false},
	} {
		if got := inhibited(c.source, c.target); got != c.want {
			t.Errorf("%s: %s inhibits %s = %v, want %v", c.name, c.source["alertname"], c.target["alertname"], got, c.want)
		}
	}
}
