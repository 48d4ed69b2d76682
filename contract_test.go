package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/dasha-exporter/dasha_exporter/client"
	"github.com/dasha-exporter/dasha_exporter/collector"
	"github.com/dasha-exporter/dasha_exporter/internal/contract"
	"github.com/dasha-exporter/dasha_exporter/internal/fakeapi"
	"github.com/dasha-exporter/dasha_exporter/internal/testtools"
)

// contractMetrics are the metric names of ../shared/design/contract.md.
var contractMetrics = contract.Metrics

// scrapeDemo runs the exporter's real stack (registry, client, collector,
// handler) against the demo fleet and returns the parsed exposition.
func scrapeDemo(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(scrapeDemoText(t)))
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

// scrapeDemoText returns the demo fleet's exposition as served.
func scrapeDemoText(t *testing.T) []byte {
	t.Helper()
	api := httptest.NewServer(fakeapi.New("k", fakeapi.Demo(time.Now())))
	defer api.Close()
	u, _ := url.Parse(api.URL)
	reg := newRegistry()
	c, err := client.New(client.Config{BaseURL: u, Key: client.StaticKey("k"), PageSize: 7, Concurrency: 2, Metrics: client.NewMetrics(reg)})
	if err != nil {
		t.Fatal(err)
	}
	e, err := collector.New(client.NewShared(c, 0), collector.Options{States: collector.DefaultStates, HealthyStates: collector.DefaultHealthyStates}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(collector.NewHandler(collector.HandlerOpts{Exporter: e, Gatherer: reg, Timeout: 5 * time.Second}))
	defer srv.Close()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// TestPromtoolCheckMetrics runs promtool's linter over a real exposition:
// it must have nothing to say.
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool := testtools.Find(t, "promtool")
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(scrapeDemoText(t))
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// sampleNames lists the names samples of mfs carry (a histogram's
// _bucket, _sum and _count).
func sampleNames(mfs map[string]*dto.MetricFamily) map[string]bool {
	names := map[string]bool{}
	for name, mf := range mfs {
		names[name] = true
		if mf.GetType() == dto.MetricType_HISTOGRAM {
			names[name+"_bucket"], names[name+"_sum"], names[name+"_count"] = true, true, true
		}
	}
	return names
}

func TestEveryContractMetricIsExported(t *testing.T) {
	mfs := scrapeDemo(t)
	for _, name := range contractMetrics {
		if _, ok := mfs[name]; !ok {
			t.Errorf("%s is in the contract but not exported on the demo fleet", name)
		}
	}
}

// TestDashboardsAndAlertsUseExportedMetrics checks that every metric named
// in a PromQL expression of dashboards/ and alerts/ (rules, annotation
// queries, rule tests) is one the exporter really exports, so a renamed
// metric cannot leave a dead panel or a silent alert.
func TestDashboardsAndAlertsUseExportedMetrics(t *testing.T) {
	exported := sampleNames(scrapeDemo(t))
	exprs := map[string][]string{}
	recorded := map[string]bool{} // recording rules of alerts/*.yml
	dashboards, _ := filepath.Glob("dashboards/*.json")
	for _, f := range dashboards {
		var doc any
		if err := json.Unmarshal(readFile(t, f), &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		exprs[f] = jsonQueries(doc)
	}
	rules, _ := filepath.Glob("alerts/*.yml")
	for _, f := range rules {
		var doc struct {
			Groups []struct {
				Rules []struct {
					Record      string            `yaml:"record"`
					Expr        string            `yaml:"expr"`
					Annotations map[string]string `yaml:"annotations"`
				} `yaml:"rules"`
			} `yaml:"groups"`
		}
		if err := yaml.Unmarshal(readFile(t, f), &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, g := range doc.Groups {
			for _, r := range g.Rules {
				if r.Record != "" {
					recorded[r.Record] = true
				}
				exprs[f] = append(exprs[f], r.Expr)
				for _, text := range r.Annotations {
					exprs[f] = append(exprs[f], templateQueries(text)...)
				}
			}
		}
	}
	tests, _ := filepath.Glob("alerts/tests/*.yml")
	for _, f := range tests {
		var doc struct {
			Tests []struct {
				InputSeries []struct {
					Series string `yaml:"series"`
				} `yaml:"input_series"`
				PromQL []struct {
					Expr string `yaml:"expr"`
				} `yaml:"promql_expr_test"`
			} `yaml:"tests"`
		}
		if err := yaml.Unmarshal(readFile(t, f), &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, tc := range doc.Tests {
			for _, s := range tc.InputSeries {
				exprs[f] = append(exprs[f], s.Series)
			}
			for _, p := range tc.PromQL {
				exprs[f] = append(exprs[f], p.Expr)
			}
		}
	}
	if len(dashboards) == 0 || len(rules) == 0 || len(tests) == 0 {
		t.Fatalf("dashboards %v, rules %v, rule tests %v: each should exist", dashboards, rules, tests)
	}

	// A name is a PromQL identifier; recording rules have colons and do not
	// start with dasha_.
	nameRE := regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	quotedRE := regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	recordingRE := regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*:[a-zA-Z0-9_:]*[a-zA-Z0-9_]$`)
	// Range and subquery brackets ([1h:5m]) hold durations, not names.
	rangeRE := regexp.MustCompile(`\[[0-9smhdwy:]+\]`)
	// The one recording rule a user supplies rather than the rule file:
	// provider display names for FleetDegraded (docs/runbook.md, "Provider
	// names"); the description works without it.
	recorded["dasha:sip_provider_display_name:info"] = true
	for f, list := range exprs {
		used := map[string]bool{}
		for _, e := range list {
			for _, name := range nameRE.FindAllString(rangeRE.ReplaceAllString(quotedRE.ReplaceAllString(e, `""`), "[]"), -1) {
				switch {
				case strings.HasPrefix(name, "dasha_"):
					used[name] = true
				case recordingRE.MatchString(name) && !recorded[name]:
					t.Errorf("%s uses the recording rule %s, which alerts/*.yml does not record", f, name)
				}
			}
		}
		if len(used) == 0 {
			t.Errorf("%s: no dasha_ metric found in %d expressions", f, len(list))
		}
		var unknown []string
		for name := range used {
			if !exported[name] {
				unknown = append(unknown, name)
			}
		}
		sort.Strings(unknown)
		if len(unknown) > 0 {
			t.Errorf("%s uses metrics the exporter does not export: %v", f, unknown)
		}
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// jsonQueries collects the PromQL of a Grafana dashboard: every "expr",
// and the templating "query"/"definition" strings.
func jsonQueries(v any) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			if s, ok := child.(string); ok && (k == "expr" || k == "query" || k == "definition") {
				out = append(out, s)
				continue
			}
			out = append(out, jsonQueries(child)...)
		}
	case []any:
		for _, child := range v {
			out = append(out, jsonQueries(child)...)
		}
	}
	return out
}

// templateQueries returns the PromQL format strings that alert annotations
// hand to the query template function: printf "..." arguments.
func templateQueries(text string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`printf\s+"((?:[^"\\]|\\.)*)"`).FindAllStringSubmatch(text, -1) {
		out = append(out, strings.ReplaceAll(m[1], `\"`, `"`))
	}
	return out
}

func TestQueryExtraction(t *testing.T) {
	got := templateQueries(`{{ with printf "dasha_sip_registration_state{id=%q} == 1" $labels.id | query }}x{{ end }} and printf "a\"b"`)
	if len(got) != 2 || got[0] != `dasha_sip_registration_state{id=%q} == 1` || got[1] != `a"b` {
		t.Errorf("templateQueries = %q", got)
	}
	var doc any
	json.Unmarshal([]byte(`{"panels":[{"targets":[{"expr":"dasha_up"}]}],"templating":{"list":[{"query":{"query":"label_values(dasha_up, job)"},"definition":"x"}]}}`), &doc)
	if got := jsonQueries(doc); len(got) != 3 {
		t.Errorf("jsonQueries = %q", got)
	}
}
