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

// _config changes the job selector and the runbook base, and nothing else.
func TestMixinConfig(t *testing.T) {
	got := jsonnetEval(t, `((import "mixin.libsonnet") + {_config+:: {jobSelector: 'job="dasha-k8s"', runbookURLBase: 'https://wiki.example/dasha'}}).prometheusAlerts`)
	want := asJSON(t, filepath.Join(root, "alerts", "dasha_exporter.rules.yml"))
	b, _ := json.Marshal(want)
	s := strings.ReplaceAll(string(b), `job=\"dasha\"`, `job=\"dasha-k8s\"`)
	s = strings.ReplaceAll(s, "https://github.com/dasha-exporter/dasha_exporter/blob/main/docs/runbook.md#", "https://wiki.example/dasha#")
	var wantChanged any
	json.Unmarshal([]byte(s), &wantChanged)
	if !reflect.DeepEqual(got, wantChanged) {
		t.Errorf("with _config: got %v", got)
	}
	if b, _ := json.Marshal(got); !strings.Contains(string(b), `up{job=\"dasha-k8s\"} == 0`) {
		t.Error("jobSelector not applied to DashaExporterDown")
	}
}
