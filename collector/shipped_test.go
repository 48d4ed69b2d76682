package collector

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"go/format"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"testing"

	"go.yaml.in/yaml/v3"
)

var updateShipped = flag.Bool("update-shipped", false, "rewrite shipped_uses.go from alerts/ and dashboards/")

const shippedUsesFile = "shipped_uses.go"

// TestShippedUsesAreCurrent fails when shippedUses, the table behind the
// start-up warning about dropped families, no longer says which shipped
// alerts and dashboard panels read each per-number family. Regenerate it
// with: go test ./collector -run TestShippedUsesAreCurrent -update-shipped
func TestShippedUsesAreCurrent(t *testing.T) {
	want := shippedUsesFromFiles(t)
	src := renderShippedUses(t, want)
	if *updateShipped {
		if err := os.WriteFile(shippedUsesFile, src, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	have, err := os.ReadFile(shippedUsesFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, src) {
		t.Errorf("%s is stale: alerts/ or dashboards/ changed which families they read; run\n  go test ./collector -run TestShippedUsesAreCurrent -update-shipped\nwant:\n%s", shippedUsesFile, src)
	}
}

// TestShippedUsesSeeEveryReader guards the parser of the test above: it
// must find readers of the families the alerts are built on.
func TestShippedUsesSeeEveryReader(t *testing.T) {
	uses := shippedUsesFromFiles(t)
	for _, c := range []struct{ family, alert, panel string }{
		{"dasha_sip_registration_healthy", "DashaSIPRegistrationLowAvailability", "Availability, 30 days"}, // through avg5m..avg30d rules
		{"dasha_sip_registration_expiry_seconds", "DashaSIPRegistrationExpiringSoon", "Soonest registration expiries"},
		{"dasha_sip_phone_number_info", "", "$number"}, // a dashboard variable
	} {
		u := uses[c.family]
		if c.alert != "" && !slices.Contains(u.Alerts, c.alert) {
			t.Errorf("%s: alerts %v, want %s among them", c.family, u.Alerts, c.alert)
		}
		if !slices.Contains(u.Panels, c.panel) {
			t.Errorf("%s: panels %v, want %q among them", c.family, u.Panels, c.panel)
		}
	}
}

// nameRE matches metric and recording-rule names in PromQL.
var nameRE = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)

// shippedUsesFromFiles reads the rule files and dashboards and works out,
// for each per-number family, the alerts and panels that read it, through
// any chain of recording rules.
func shippedUsesFromFiles(t *testing.T) map[string]shippedUse {
	t.Helper()
	isFamily := map[string]bool{}
	for _, name := range FamilyNames() {
		isFamily[name] = true
	}

	type rule struct{ Record, Alert, Expr string }
	var rules []rule
	ruleFiles, _ := filepath.Glob("../alerts/*.yml")
	if len(ruleFiles) == 0 {
		t.Fatal("no rule files in ../alerts")
	}
	for _, file := range ruleFiles {
		var doc struct {
			Groups []struct{ Rules []rule }
		}
		readYAML(t, file, &doc)
		for _, g := range doc.Groups {
			rules = append(rules, g.Rules...)
		}
	}
	// recorded[name] are the expressions that record name.
	recorded := map[string][]string{}
	for _, r := range rules {
		if r.Record != "" {
			recorded[r.Record] = append(recorded[r.Record], r.Expr)
		}
	}
	var familiesOf func(expr string, seen map[string]bool) map[string]bool
	familiesOf = func(expr string, seen map[string]bool) map[string]bool {
		out := map[string]bool{}
		for _, name := range nameRE.FindAllString(expr, -1) {
			switch {
			case isFamily[name]:
				out[name] = true
			case recorded[name] != nil && !seen[name]:
				seen[name] = true
				for _, e := range recorded[name] {
					for f := range familiesOf(e, seen) {
						out[f] = true
					}
				}
			}
		}
		return out
	}

	uses := map[string]shippedUse{}
	add := func(expr string, alert, panel string) {
		for f := range familiesOf(expr, map[string]bool{}) {
			u := uses[f]
			if alert != "" && !slices.Contains(u.Alerts, alert) {
				u.Alerts = append(u.Alerts, alert)
			}
			if panel != "" && !slices.Contains(u.Panels, panel) {
				u.Panels = append(u.Panels, panel)
			}
			uses[f] = u
		}
	}
	for _, r := range rules {
		if r.Alert != "" {
			add(r.Expr, r.Alert, "")
		}
	}

	dashboards, _ := filepath.Glob("../dashboards/*.json")
	if len(dashboards) == 0 {
		t.Fatal("no dashboards in ../dashboards")
	}
	for _, file := range dashboards {
		var d struct {
			Panels     []panel
			Templating struct {
				List []struct {
					Name  string
					Query any // a string, or {"query": "..."}
				}
			}
		}
		readJSON(t, file, &d)
		var walk func(ps []panel)
		walk = func(ps []panel) {
			for _, p := range ps {
				for _, target := range p.Targets {
					add(target.Expr, "", p.Title)
				}
				walk(p.Panels)
			}
		}
		walk(d.Panels)
		for _, v := range d.Templating.List {
			q := v.Query
			if m, ok := q.(map[string]any); ok {
				q = m["query"]
			}
			if s, ok := q.(string); ok {
				add(s, "", "$"+v.Name)
			}
		}
	}
	for f, u := range uses {
		sort.Strings(u.Alerts)
		sort.Strings(u.Panels)
		uses[f] = u
	}
	return uses
}

type panel struct {
	Title   string
	Targets []struct{ Expr string }
	Panels  []panel // a collapsed row's panels
}

func readYAML(t *testing.T, file string, v any) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

func readJSON(t *testing.T, file string, v any) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

// renderShippedUses writes the table as Go source, in FamilyNames' order.
func renderShippedUses(t *testing.T, uses map[string]shippedUse) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("// Code generated by go test ./collector -run TestShippedUsesAreCurrent -update-shipped; DO NOT EDIT.\n\n")
	b.WriteString("package collector\n\n")
	b.WriteString("// shippedUses says, for each per-number family, which alerts of\n")
	b.WriteString("// alerts/*.yml (directly or through the recording rules they build on) and\n")
	b.WriteString("// which panels and variables of dashboards/*.json read it.\n")
	b.WriteString("var shippedUses = map[string]shippedUse{\n")
	for _, name := range FamilyNames() {
		u, ok := uses[name]
		if !ok {
			continue
		}
		fmt.Fprintf(&b, "%q: {\n", name)
		if len(u.Alerts) > 0 {
			fmt.Fprintf(&b, "Alerts: %#v,\n", u.Alerts)
		}
		if len(u.Panels) > 0 {
			fmt.Fprintf(&b, "Panels: %#v,\n", u.Panels)
		}
		b.WriteString("},\n")
	}
	b.WriteString("}\n")
	src, err := format.Source(b.Bytes())
	if err != nil {
		t.Fatalf("%v\n%s", err, b.Bytes())
	}
	return src
}
