// Package dashboards holds the Grafana dashboards shipped with dasha_exporter.
// It has no Go code of its own: these tests check the dashboard JSON files
// against the exporter's outside contract.
package dashboards

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

const (
	mainDashboard = "dasha-sip-registrations.json"
	mainUID       = "dasha-sip-registrations"
	datasourceRef = "${datasource}"
	jobMatcher    = `job=~"$job"`
	instMatcher   = `instance=~"$instance"`
)

// contractMetrics lists every metric name the exporter's outside contract
// (the "Metrics" section of the contract, shared/design/contract.md) fixes,
// plus the `up` series Prometheus adds to every scrape. Dashboards may use
// only these. Histogram series (_bucket, _sum, _count) are checked against
// their base name.
var contractMetrics = map[string]bool{
	// Per phone number.
	"dasha_sip_phone_number_info":                           true,
	"dasha_sip_registration_enabled":                        true,
	"dasha_sip_registration_state":                          true,
	"dasha_sip_registration_healthy":                        true,
	"dasha_sip_registration_error":                          true,
	"dasha_sip_registration_error_info":                     true,
	"dasha_sip_registration_sip_response_code":              true,
	"dasha_sip_registration_expiry_seconds":                 true,
	"dasha_sip_registration_expires_timestamp_seconds":      true,
	"dasha_sip_registration_last_updated_timestamp_seconds": true,
	// The exporter and the API.
	"dasha_up":                             true,
	"dasha_sip_phone_numbers":              true,
	"dasha_scrape_duration_seconds":        true,
	"dasha_last_success_timestamp_seconds": true,
	"dasha_api_requests_total":             true,
	"dasha_api_request_duration_seconds":   true,
	"dasha_exporter_build_info":            true,
	// Added by Prometheus to every scrape.
	"up": true,
}

// contractHistograms are the contract's histograms, whose _bucket, _sum and
// _count series a query may name.
var contractHistograms = map[string]bool{
	"dasha_api_request_duration_seconds": true,
}

var (
	// metricRE finds metric names in an expression, with the label matchers
	// that directly follow, if any.
	metricRE = regexp.MustCompile(`\b(dasha_[a-z_]+|up)\b(\{[^}]*\})?`)
	// selectorRE finds every name directly followed by label matchers, so
	// that a metric from outside the contract (e.g. scrape_duration_seconds)
	// is caught too when it is written as a selector. A bare name outside
	// dasha_ is not caught; the job/instance rule makes every selector in
	// these dashboards carry matchers anyway.
	selectorRE  = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{`)
	histogramRE = regexp.MustCompile(`^(.*)_(bucket|sum|count)$`)
)

type dashboard struct {
	UID           string     `json:"uid"`
	Title         string     `json:"title"`
	SchemaVersion int        `json:"schemaVersion"`
	Editable      bool       `json:"editable"`
	Tags          []string   `json:"tags"`
	Panels        []panel    `json:"panels"`
	Templating    templating `json:"templating"`
	Time          timeRange  `json:"time"`
	Refresh       string     `json:"refresh"`
}

type timeRange struct {
	From string `json:"from"`
	To   string `json:"to"`
}

type templating struct {
	List []variable `json:"list"`
}

type variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Datasource *dsRef          `json:"datasource"`
	Multi      bool            `json:"multi"`
	IncludeAll bool            `json:"includeAll"`
}

type dsRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type gridPos struct {
	H int `json:"h"`
	W int `json:"w"`
	X int `json:"x"`
	Y int `json:"y"`
}

type panel struct {
	ID          int         `json:"id"`
	Type        string      `json:"type"`
	Title       string      `json:"title"`
	Description string      `json:"description"`
	Datasource  *dsRef      `json:"datasource"`
	GridPos     gridPos     `json:"gridPos"`
	Collapsed   bool        `json:"collapsed"`
	Panels      []panel     `json:"panels"`
	Targets     []target    `json:"targets"`
	FieldConfig fieldConfig `json:"fieldConfig"`
}

type fieldConfig struct {
	Defaults struct {
		Unit string `json:"unit"`
	} `json:"defaults"`
}

type target struct {
	RefID      string `json:"refId"`
	Expr       string `json:"expr"`
	Datasource *dsRef `json:"datasource"`
}

// dashboardFiles returns every dashboard JSON file in this directory.
func dashboardFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no dashboard JSON files found")
	}
	return files
}

func load(t *testing.T, file string) dashboard {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s: invalid JSON: %v", file, err)
	}
	if dec.More() {
		t.Fatalf("%s: trailing data after the JSON object", file)
	}
	return d
}

// TestProvisionable checks that no dashboard needs the UI's import step:
// file provisioning cannot fill ${DS_...} inputs, so every datasource must
// go through the datasource variable.
func TestProvisionable(t *testing.T) {
	for _, file := range dashboardFiles(t) {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "${DS_") {
			t.Errorf("%s: uses an import-time ${DS_...} input; use %s instead", file, datasourceRef)
		}
	}
}

// allPanels returns the panels, including those nested in collapsed rows.
func allPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

func TestMainDashboardIdentity(t *testing.T) {
	d := load(t, mainDashboard)
	if d.UID != mainUID {
		t.Errorf("uid = %q, want %q (links and provisioning rely on it)", d.UID, mainUID)
	}
	if d.Title != "Dasha SIP registrations" {
		t.Errorf("title = %q", d.Title)
	}
	if d.SchemaVersion < 36 {
		t.Errorf("schemaVersion = %d, want a Grafana 10/11 schema (>= 36)", d.SchemaVersion)
	}
	if !d.Editable {
		t.Error("editable should be true")
	}
	if d.Time.From != "now-6h" || d.Refresh != "1m" {
		t.Errorf("time.from = %q, refresh = %q; want now-6h, 1m", d.Time.From, d.Refresh)
	}
	for _, tag := range []string{"dasha", "sip", "prometheus"} {
		found := false
		for _, have := range d.Tags {
			found = found || have == tag
		}
		if !found {
			t.Errorf("tag %q missing from %v", tag, d.Tags)
		}
	}
}

func TestVariables(t *testing.T) {
	for _, file := range dashboardFiles(t) {
		d := load(t, file)
		vars := map[string]variable{}
		for _, v := range d.Templating.List {
			vars[v.Name] = v
		}
		ds, ok := vars["datasource"]
		if !ok {
			t.Errorf("%s: no datasource variable", file)
		} else if ds.Type != "datasource" || string(ds.Query) != `"prometheus"` {
			t.Errorf("%s: datasource variable: type %q query %s; want datasource, \"prometheus\"", file, ds.Type, ds.Query)
		}
		for _, name := range []string{"job", "instance"} {
			v, ok := vars[name]
			if !ok {
				t.Errorf("%s: no %s variable", file, name)
				continue
			}
			if v.Type != "query" {
				t.Errorf("%s: %s variable has type %q, want query", file, name, v.Type)
			}
			if v.Datasource == nil || v.Datasource.UID != datasourceRef {
				t.Errorf("%s: %s variable does not query %s", file, name, datasourceRef)
			}
			checkExpr(t, file+": variable "+name, queryText(v.Query), false)
		}
		if inst, ok := vars["instance"]; ok {
			if !inst.Multi || !inst.IncludeAll {
				t.Errorf("%s: instance variable should be multi-value with All", file)
			}
			if !strings.Contains(queryText(inst.Query), jobMatcher) {
				t.Errorf("%s: instance variable query should filter by %s", file, jobMatcher)
			}
		}
	}
}

// queryText returns a variable's query, which Grafana stores either as a
// string or as an object with a "query" field.
func queryText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var o struct {
		Query string `json:"query"`
	}
	_ = json.Unmarshal(raw, &o)
	return o.Query
}

func TestPanels(t *testing.T) {
	for _, file := range dashboardFiles(t) {
		d := load(t, file)
		ids := map[int]string{}
		nonRow := 0
		for _, p := range allPanels(d.Panels) {
			where := file + ": panel " + p.Title
			if p.ID <= 0 {
				t.Errorf("%s: missing id", where)
			} else if other, dup := ids[p.ID]; dup {
				t.Errorf("%s: id %d already used by %q", where, p.ID, other)
			}
			ids[p.ID] = p.Title
			if p.Title == "" {
				t.Errorf("%s: panel %d has no title", file, p.ID)
			}
			g := p.GridPos
			if g.W <= 0 || g.H <= 0 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
				t.Errorf("%s: gridPos %+v outside the 24-column grid", where, g)
			}
			if p.Type == "row" {
				continue
			}
			nonRow++
			if strings.TrimSpace(p.Description) == "" {
				t.Errorf("%s: no description", where)
			}
			if p.FieldConfig.Defaults.Unit == "" {
				t.Errorf("%s: no unit (fieldConfig.defaults.unit)", where)
			}
			if p.Datasource == nil || p.Datasource.Type != "prometheus" || p.Datasource.UID != datasourceRef {
				t.Errorf("%s: datasource %+v, want {prometheus %s}", where, p.Datasource, datasourceRef)
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: no queries", where)
			}
			refs := map[string]bool{}
			for _, tg := range p.Targets {
				if refs[tg.RefID] {
					t.Errorf("%s: refId %q used twice", where, tg.RefID)
				}
				refs[tg.RefID] = true
				if tg.Datasource != nil && tg.Datasource.UID != datasourceRef {
					t.Errorf("%s/%s: target datasource %+v, want %s", where, tg.RefID, tg.Datasource, datasourceRef)
				}
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("%s/%s: empty expr", where, tg.RefID)
					continue
				}
				checkExpr(t, where+"/"+tg.RefID, tg.Expr, true)
			}
		}
		if nonRow == 0 {
			t.Errorf("%s: no panels", file)
		}
	}
}

// TestNoOverlap checks that no two panels of the top level share a cell of
// the grid.
func TestNoOverlap(t *testing.T) {
	for _, file := range dashboardFiles(t) {
		d := load(t, file)
		taken := map[[2]int]string{}
		for _, p := range d.Panels {
			if other, x, y, ok := claim(taken, p); !ok {
				t.Errorf("%s: panel %q overlaps %q at x=%d y=%d", file, p.Title, other, x, y)
			}
		}
	}
}

// claim marks the cells p covers as taken; it stops at the first cell
// another panel already holds and returns that panel's title.
func claim(taken map[[2]int]string, p panel) (other string, x, y int, ok bool) {
	g := p.GridPos
	for y = g.Y; y < g.Y+g.H; y++ {
		for x = g.X; x < g.X+g.W; x++ {
			if other, held := taken[[2]int{x, y}]; held {
				return other, x, y, false
			}
			taken[[2]int{x, y}] = p.Title
		}
	}
	return "", 0, 0, true
}

// checkExpr checks that every metric an expression names is in the contract
// and, when filtered is set, that each selector carries the job and instance
// matchers. Exceptions: none so far; a query that must not filter (e.g. one
// comparing all instances) would have to be listed here with its reason.
func checkExpr(t *testing.T, where, expr string, filtered bool) {
	t.Helper()
	matches := metricRE.FindAllStringSubmatch(expr, -1)
	if len(matches) == 0 {
		t.Errorf("%s: names no metric: %s", where, expr)
	}
	for _, m := range selectorRE.FindAllStringSubmatch(expr, -1) {
		if strings.HasPrefix(m[1], "dasha_") || m[1] == "up" {
			continue // checked below
		}
		if !contractMetrics[baseName(m[1])] {
			t.Errorf("%s: selector %q is not a contract metric: %s", where, m[1], expr)
		}
	}
	for _, m := range matches {
		name, matchers := m[1], m[2]
		if !contractMetrics[baseName(name)] {
			t.Errorf("%s: metric %q is not in the contract: %s", where, name, expr)
		}
		if !filtered {
			continue
		}
		if !strings.Contains(matchers, jobMatcher) || !strings.Contains(matchers, instMatcher) {
			t.Errorf("%s: selector %s%s lacks %s and %s", where, name, matchers, jobMatcher, instMatcher)
		}
	}
}

// baseName strips a contract histogram's _bucket, _sum or _count suffix.
func baseName(name string) string {
	if h := histogramRE.FindStringSubmatch(name); h != nil && contractHistograms[h[1]] {
		return h[1]
	}
	return name
}

// TestContractMetricsUsed logs which contract metrics the dashboards use,
// for the cross-check against the real collector.
func TestContractMetricsUsed(t *testing.T) {
	used := map[string]bool{}
	for _, file := range dashboardFiles(t) {
		d := load(t, file)
		for _, p := range allPanels(d.Panels) {
			for _, tg := range p.Targets {
				for _, m := range metricRE.FindAllStringSubmatch(tg.Expr, -1) {
					used[m[1]] = true
				}
			}
		}
	}
	var names []string
	for n := range used {
		names = append(names, n)
	}
	sort.Strings(names)
	t.Logf("metrics used by the dashboards: %s", strings.Join(names, ", "))
}
