// Package alerts holds the Prometheus rule file for dasha_exporter and its
// tests; it has no Go code of its own.
package alerts

import (
	"bytes"
	"encoding/json"
	"fmt"
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
	ruleFile = "dasha_exporter.rules.yml"
	runbook  = "../docs/runbook.md"
	// runbookURL is every alert's runbook_url: the external label
	// runbook_base_url when Prometheus has one, else the repository's runbook.
	runbookURL = "{{ with $externalLabels.runbook_base_url }}{{ . }}{{ else }}https://github.com/dasha-exporter/dasha_exporter/blob/main/docs/runbook.md{{ end }}#"
)

var wantAlerts = []string{
	"DashaAPIScrapeFailing",
	"DashaExporterDown",
	"DashaSIPPhoneNumbersVanished",
	"DashaSIPRegistrationExpired",
	"DashaSIPRegistrationExpiringSoon",
	"DashaSIPRegistrationFailing",
	"DashaSIPRegistrationFlapping",
	"DashaSIPRegistrationFleetDegraded",
	"DashaSIPRegistrationLowAvailability",
	"DashaSIPRegistrationNotYetRegistered",
}

// templatedSeverity is the one severity that depends on the data:
// DashaSIPRegistrationFailing is critical while the number holds no valid
// registration and a warning while its last one is still valid.
const templatedSeverity = "{{ if gt $value 0.0 }}warning{{ else }}critical{{ end }}"

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
	records := map[string]string{}
	for _, r := range rules {
		if r.Record != "" {
			records[r.Record] = r.Expr
		}
	}
	var got []string
	for _, r := range rules {
		if r.Alert == "" {
			continue
		}
		got = append(got, r.Alert)
		if s := r.Labels["severity"]; s != "critical" && s != "warning" && (r.Alert != "DashaSIPRegistrationFailing" || s != templatedSeverity) {
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
		if strings.HasPrefix(r.Alert, "DashaSIPRegistration") && !checksEnabled(r.Expr, records) {
			t.Errorf("%s: per-number alert does not check dasha_sip_registration_enabled", r.Alert)
		}
	}
	sort.Strings(got)
	if strings.Join(got, ",") != strings.Join(wantAlerts, ",") {
		t.Errorf("alerts = %v, want exactly %v", got, wantAlerts)
	}
}

// checksEnabled reports whether expr, or a recording rule it uses, looks at
// dasha_sip_registration_enabled.
func checksEnabled(expr string, records map[string]string) bool {
	if strings.Contains(expr, "enabled") {
		return true
	}
	for name, rexpr := range records {
		if strings.Contains(expr, name) && name != "" && !strings.Contains(rexpr, name) && checksEnabled(rexpr, records) {
			return true
		}
	}
	return false
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
	runPromtool(t, "check", "rules", "examples/demo-provider-names.rules.yml")
	amtool := testtools.Find(t, "amtool")
	out, err := exec.Command(amtool, "check-config", "examples/alertmanager.yml").CombinedOutput()
	if err != nil {
		t.Fatalf("amtool check-config: %v\n%s", err, out)
	}
}

// TestExampleRouting asks amtool where the example configuration sends
// alerts: pages to the pager grouped by account/exporter, tickets to the
// ticket system, per-number tickets on request.
func TestExampleRouting(t *testing.T) {
	amtool := testtools.Find(t, "amtool")
	for _, c := range []struct {
		labels []string
		want   string
	}{
		{[]string{"alertname=DashaSIPRegistrationFailing", "severity=critical", "instance=acme", "id=a", "provider_id=p"}, "pager"},
		{[]string{"alertname=DashaSIPRegistrationFleetDegraded", "severity=critical", "instance=acme"}, "pager"},
		{[]string{"alertname=DashaSIPRegistrationFailing", "severity=warning", "instance=acme", "id=a"}, "tickets"},
		{[]string{"alertname=DashaSIPRegistrationNotYetRegistered", "severity=warning", "ticketing=per-number", "id=a"}, "tickets"},
	} {
		args := append([]string{"config", "routes", "test", "--config.file=examples/alertmanager.yml"}, c.labels...)
		out, err := exec.Command(amtool, args...).Output()
		if err != nil {
			t.Fatalf("amtool %v: %v", args, err)
		}
		if got := strings.TrimSpace(string(out)); got != c.want {
			t.Errorf("%v goes to %q, want %q", c.labels, got, c.want)
		}
	}
	data, err := os.ReadFile("examples/alertmanager.yml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Route struct {
			Routes []struct {
				Matchers []string `yaml:"matchers"`
				GroupBy  []string `yaml:"group_by"`
			} `yaml:"routes"`
		} `yaml:"route"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	// One page per incident: pages are grouped by the account/exporter, not
	// by alert or number, so FleetDegraded and its numbers share a page.
	for _, r := range cfg.Route.Routes {
		if len(r.Matchers) == 1 && r.Matchers[0] == `severity="critical"` {
			if got := strings.Join(r.GroupBy, ","); got != "instance,exporter" {
				t.Errorf("critical route groups by %s, want instance,exporter", got)
			}
			return
		}
	}
	t.Error("no route for severity=\"critical\"")
}

// TestNotificationTemplate renders dasha.tmpl with amtool for a page of
// 25 numbers and a fleet alert: the fleet alert in full, then the first 20
// numbers once each with name, state and SIP answer, then "and 5 more".
func TestNotificationTemplate(t *testing.T) {
	amtool := testtools.Find(t, "amtool")
	type alert struct {
		Status      string            `json:"status"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	}
	alerts := []alert{{Status: "firing",
		Labels:      map[string]string{"alertname": "DashaSIPRegistrationFleetDegraded", "instance": "acme", "job": "dasha", "severity": "critical"},
		Annotations: map[string]string{"summary": "40% of SIP registrations seen by acme are failing", "description": "Shared cause: 100% of them share provider id p1."},
	}}
	for i := 0; i < 25; i++ {
		alerts = append(alerts, alert{Status: "firing",
			Labels: map[string]string{"alertname": "DashaSIPRegistrationFailing", "instance": "acme", "job": "dasha", "severity": "critical",
				"id": fmt.Sprintf("id-%02d", i), "phone_number": fmt.Sprintf("+1555000%02d", i), "provider_id": "p1"},
			Annotations: map[string]string{"display_name": fmt.Sprintf("Line %02d", i), "state": "Failed", "sip_answer": "503 Service Unavailable"},
		})
	}
	alerts = append(alerts, alert{Status: "resolved",
		Labels: map[string]string{"alertname": "DashaSIPRegistrationExpired", "instance": "acme", "id": "r", "phone_number": "+19990000"}})
	b, err := json.Marshal(map[string]any{"receiver": "pager", "status": "firing", "alerts": alerts,
		"groupLabels": map[string]string{"instance": "acme"}, "commonLabels": map[string]string{"instance": "acme", "job": "dasha"}})
	if err != nil {
		t.Fatal(err)
	}
	dataFile := filepath.Join(t.TempDir(), "data.json")
	if err := os.WriteFile(dataFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(amtool, "template", "render", "--template.glob=examples/dasha.tmpl", "--template.data="+dataFile,
		`--template.text={{ template "dasha.title" . }}`+"\n"+`{{ template "dasha.text" . }}`).CombinedOutput()
	if err != nil {
		t.Fatalf("amtool template render: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{
		"[FIRING:26] Dasha SIP registrations: 25 numbers on acme",
		"Shared cause: 100% of them share provider id p1.",
		"Firing numbers (25):",
		"- Line 00 +155500000: Failed, answer 503 Service Unavailable (Failing, provider p1)",
		"- and 5 more",
		"Resolved (1):\n- +19990000 (Expired)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("notification lacks %q:\n%s", want, text)
		}
	}
	listed := regexp.MustCompile(`\+1555000\d\d`).FindAllString(text, -1)
	seen := map[string]bool{}
	for _, n := range listed {
		if seen[n] {
			t.Errorf("%s listed twice", n)
		}
		seen[n] = true
	}
	if len(seen) != 20 {
		t.Errorf("%d numbers listed, want the first 20 (then \"and 5 more\"):\n%s", len(seen), text)
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
	// Config-file mode: instance is the account, exporter the exporter.
	probeAccount := func(alertname, account, exporter string) map[string]string {
		return map[string]string{"alertname": alertname, "instance": account, "exporter": exporter, "job": "dasha"}
	}
	probeNum := func(alertname, account, exporter, id string) map[string]string {
		l := probeAccount(alertname, account, exporter)
		l["id"], l["phone_number"] = id, "+1555"+id
		return l
	}
	exporterDown := func(exporter string) map[string]string {
		return map[string]string{"alertname": "DashaExporterDown", "exporter": exporter, "job": "dasha"}
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
		{"in config-file mode one replica's ExporterDown does not mute the other replica's alerts",
			map[string]string{"alertname": "DashaExporterDown", "instance": "acme", "exporter": "exp1:9612", "job": "dasha"},
			map[string]string{"alertname": "DashaSIPRegistrationFailing", "instance": "acme", "exporter": "exp2:9612", "id": "a"}, false},
		{"Expired of a number seen by another replica does not mute this replica's Failing",
			map[string]string{"alertname": "DashaSIPRegistrationExpired", "instance": "acme", "exporter": "exp1:9612", "id": "a"},
			map[string]string{"alertname": "DashaSIPRegistrationFailing", "instance": "acme", "exporter": "exp2:9612", "id": "a"}, false},
		{"FleetDegraded mutes no number (it shares their page instead)",
			map[string]string{"alertname": "DashaSIPRegistrationFleetDegraded", "instance": "exp:9612", "job": "dasha"}, num("DashaSIPRegistrationFailing", "exp:9612", "a"), false},
		{"ExporterDown from absent() (no instance) mutes no per-number alert",
			map[string]string{"alertname": "DashaExporterDown", "job": "dasha"}, num("DashaSIPRegistrationFailing", "exp:9612", "a"), false},
		// Config-file mode: an exporter down for all its accounts is one
		// DashaExporterDown with exporter and no instance.
		{"config-file mode: an exporter down mutes the per-number alerts of each of its accounts",
			exporterDown("e1:9612"), probeNum("DashaSIPRegistrationFailing", "acme-us", "e1:9612", "a"), true},
		{"config-file mode: an exporter down mutes another account's per-number alerts through it",
			exporterDown("e1:9612"), probeNum("DashaSIPRegistrationExpired", "acme-ru", "e1:9612", "b"), true},
		{"config-file mode: an exporter down mutes its accounts' FleetDegraded",
			exporterDown("e1:9612"), probeAccount("DashaSIPRegistrationFleetDegraded", "acme-us", "e1:9612"), true},
		{"config-file mode: an exporter down mutes its accounts' APIScrapeFailing",
			exporterDown("e1:9612"), probeAccount("DashaAPIScrapeFailing", "acme-us", "e1:9612"), true},
		{"config-file mode: an exporter down mutes its accounts' PhoneNumbersVanished",
			exporterDown("e1:9612"), probeAccount("DashaSIPPhoneNumbersVanished", "acme-us", "e1:9612"), true},
		{"config-file mode: an exporter down does not mute the other replica's alerts of the same account",
			exporterDown("e1:9612"), probeNum("DashaSIPRegistrationFailing", "acme-us", "e2:9612", "a"), false},
		{"config-file mode: an exporter down does not mute the other replica's ExporterDown",
			exporterDown("e1:9612"), exporterDown("e2:9612"), false},
		{"config-file mode: an exporter down does not mute one account's ExporterDown through the other replica",
			exporterDown("e1:9612"), probeAccount("DashaExporterDown", "lab", "e2:9612"), false},
		{"an exporter down in config-file mode mutes nothing in flag mode",
			exporterDown("e1:9612"), num("DashaSIPRegistrationFailing", "exp:9612", "a"), false},
		{"config-file mode: one account's ExporterDown mutes that account's per-number alerts through that exporter",
			probeAccount("DashaExporterDown", "lab", "e1:9612"), probeNum("DashaSIPRegistrationFailing", "lab", "e1:9612", "a"), true},
		{"config-file mode: one account's ExporterDown does not mute the exporter's other accounts",
			probeAccount("DashaExporterDown", "lab", "e1:9612"), probeNum("DashaSIPRegistrationFailing", "acme-us", "e1:9612", "a"), false},
		{"config-file mode: APIScrapeFailing of one account does not mute the exporter's other accounts",
			probeAccount("DashaAPIScrapeFailing", "acme-ru", "e1:9612"), probeNum("DashaSIPRegistrationFailing", "acme-us", "e1:9612", "a"), false},
	} {
		if got := inhibited(c.source, c.target); got != c.want {
			t.Errorf("%s: %s inhibits %s = %v, want %v", c.name, c.source["alertname"], c.target["alertname"], got, c.want)
		}
	}
}

// TestRunbookSectionsOpenWithFirstChecks: at 3 a.m. the responder reads the
// top of the section; every alert's section opens with what to check first,
// and the reasons for its thresholds come after.
func TestRunbookSectionsOpenWithFirstChecks(t *testing.T) {
	data, err := os.ReadFile(runbook)
	if err != nil {
		t.Fatal(err)
	}
	sections := regexp.MustCompile(`(?m)^## `).Split(string(data), -1)
	found := 0
	for _, sec := range sections[1:] {
		heading, body, _ := strings.Cut(sec, "\n")
		if !strings.HasPrefix(heading, "Dasha") {
			continue
		}
		found++
		if !strings.HasPrefix(strings.TrimSpace(body), "**First checks.**") {
			first, _, _ := strings.Cut(strings.TrimSpace(body), "\n")
			t.Errorf("runbook section %s opens with %q, want **First checks.**", heading, first)
		}
	}
	if found != len(wantAlerts) {
		t.Errorf("%d alert sections in %s, want %d", found, runbook, len(wantAlerts))
	}
}
