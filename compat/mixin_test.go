package compat

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// jsonnetEval evaluates expr with go-jsonnet's jsonnet (v0.22.0) in the
// mixin's folder and decodes the JSON it prints.
func jsonnetEval(t *testing.T, expr string) any {
	t.Helper()
	jsonnet := tool(t, "JSONNET", "")
	out := run(t, filepath.Join(root, "mixin"), jsonnet, "-e", expr)
	var v any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("jsonnet -e %s: %v", expr, err)
	}
	return v
}

// asJSON decodes a file (YAML or JSON) into what encoding/json would make
// of it, to compare with jsonnet's output.
func asJSON(t *testing.T, path string) any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out any
	json.Unmarshal(b, &out)
	return out
}

func TestMixinEqualsShippedFiles(t *testing.T) {
	alerts := jsonnetEval(t, `(import "mixin.libsonnet").prometheusAlerts`)
	if want := asJSON(t, filepath.Join(root, "alerts", "dasha_exporter.rules.yml")); !reflect.DeepEqual(alerts, want) {
		t.Errorf("prometheusAlerts differs from alerts/dasha_exporter.rules.yml")
	}
	rules := jsonnetEval(t, `(import "mixin.libsonnet").prometheusRules`)
	if !reflect.DeepEqual(rules, map[string]any{"groups": []any{}}) {
		t.Errorf("prometheusRules = %v, want no groups (the recording rules stay with their alerts)", rules)
	}
	dashboards := jsonnetEval(t, `(import "mixin.libsonnet").grafanaDashboards`).(map[string]any)
	files := glob(t, filepath.Join(root, "dashboards", "*.json"))
	if len(dashboards) != len(files) {
		t.Errorf("grafanaDashboards has %d dashboards, dashboards/ %d", len(dashboards), len(files))
	}
	for _, f := range files {
		if got, want := dashboards[filepath.Base(f)], asJSON(t, f); !reflect.DeepEqual(got, want) {
			t.Errorf("grafanaDashboards[%q] differs from %s", filepath.Base(f), f)
		}
	}
}

// _config changes the job selector in the rules' expressions and the
// runbook base in their runbook_url, and nothing else.
func TestMixinConfig(t *testing.T) {
	const (
		shippedJob     = `job="dasha"`
		shippedRunbook = "https://github.com/dasha-exporter/dasha_exporter/blob/main/docs/runbook.md"
	)
	got := jsonnetEval(t, `((import "mixin.libsonnet") + {_config+:: {jobSelector: 'job="dasha-k8s"', runbookURLBase: 'https://wiki.example/dasha'}}).prometheusAlerts`)
	want := asJSON(t, filepath.Join(root, "alerts", "dasha_exporter.rules.yml"))
	changedExpr, changedURL := 0, 0
	for _, g := range want.(map[string]any)["groups"].([]any) {
		for _, r := range g.(map[string]any)["rules"].([]any) {
			rule := r.(map[string]any)
			if expr, ok := rule["expr"].(string); ok && strings.Contains(expr, shippedJob) {
				rule["expr"] = strings.ReplaceAll(expr, shippedJob, `job="dasha-k8s"`)
				changedExpr++
			}
			if ann, ok := rule["annotations"].(map[string]any); ok {
				if u, ok := ann["runbook_url"].(string); ok && strings.Contains(u, shippedRunbook) {
					ann["runbook_url"] = strings.ReplaceAll(u, shippedRunbook, "https://wiki.example/dasha")
					changedURL++
				}
			}
		}
	}
	if changedExpr == 0 || changedURL == 0 {
		t.Fatalf("the rule file names %s in %d expressions and %s in %d runbook_urls: the mixin's defaults no longer match it", shippedJob, changedExpr, shippedRunbook, changedURL)
	}
	if !reflect.DeepEqual(got, want) {
		gb, _ := json.MarshalIndent(got, "", " ")
		wb, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("with _config the mixin's alerts differ from the rule file with the job and runbook base replaced:\n%s", firstDiff(gb, wb))
	}
}
