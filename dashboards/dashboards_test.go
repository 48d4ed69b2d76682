// Package dashboards holds the Grafana dashboards shipped with dasha_exporter.
// It has no Go code of its own: these tests check the dashboard JSON files
// against the exporter's outside contract.
package dashboards

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/dasha-exporter/dasha_exporter/internal/contract"
	"github.com/dasha-exporter/dasha_exporter/internal/testtools"
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
	orig := expr
	expr = recordingRuleRE.ReplaceAllString(expr, "") // TestRecordingRulesShipped
	matches := metricRE.FindAllStringSubmatch(expr, -1)
	if len(matches) == 0 && !strings.Contains(orig, ":") {
		t.Errorf("%s: names no metric: %s", where, orig)
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
			if exporterOwn[baseName(name)] && strings.Contains(expr, exporterJoin) &&
				(name == "dasha_exporter_build_info" || strings.Contains(matchers, accountMatcher)) {
				continue // config-file mode: the exporter's own /metrics (TestExporterMetricsBothModes)
			}
			t.Errorf("%s: selector %s%s lacks %s and %s", where, name, matchers, jobMatcher, instMatcher)
		}
	}
}

// exporterOwn are the metrics of the exporter's own /metrics. In flag mode
// they are scraped with the listing, under the selected job and instance.
// In config-file mode they are scraped as job dasha_exporter with instance
// set to the exporter's address (the API counters with an account label),
// while the selected job and instances are the probes: a panel reads them
// `and on (instance, account)` (build info: `and on (instance)`) with
// exporterJoin, the probes of the selected accounts relabelled to their
// exporter and account, and the API counters with accountMatcher too.
var exporterOwn = map[string]bool{
	"dasha_api_requests_total":           true,
	"dasha_api_request_duration_seconds": true,
	"dasha_exporter_build_info":          true,
}

const (
	exporterJoin   = `label_replace(label_replace(up{job=~"$job", instance=~"$instance", exporter!=""}, "account", "$1", "instance", "(.*)"), "instance", "$1", "exporter", "(.*)")`
	accountMatcher = `account=~"$instance"`
)

// baseName strips a contract histogram's _bucket, _sum or _count suffix.
func baseName(name string) string {
	if h := histogramRE.FindStringSubmatch(name); h != nil && contractHistograms[h[1]] {
		return h[1]
	}
	return name
}

// TestContractMetricsUsed logs which contract metrics the dashboards use,
// for the cross-check against the real collector.
// deliberatelyUnused are the contract's metrics no dashboard or alert
// needs, and why.
var deliberatelyUnused = map[string]string{
	"dasha_exporter_config_last_reload_successful":                "a failed reload keeps the running configuration and is logged and shown on /; the configuration-management tool that reloads checks the answer of /-/reload",
	"dasha_exporter_config_last_reload_success_timestamp_seconds": "as dasha_exporter_config_last_reload_successful",
}

// TestContractMetricsUsed checks that every metric of the contract is used
// by a dashboard panel or an alert rule, but for those listed in
// deliberatelyUnused with the reason, and that the list holds nothing used
// (a stale entry would hide a metric dropped by mistake).
func TestContractMetricsUsed(t *testing.T) {
	used := map[string]bool{}
	for _, file := range dashboardFiles(t) {
		d := load(t, file)
		for _, p := range allPanels(d.Panels) {
			for _, tg := range p.Targets {
				for _, m := range metricRE.FindAllStringSubmatch(tg.Expr, -1) {
					used[strings.TrimSuffix(m[1], "_bucket")] = true
				}
			}
		}
	}
	rules, err := os.ReadFile(alertRuleFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range metricRE.FindAllStringSubmatch(string(rules), -1) {
		used[m[1]] = true
	}
	for _, name := range append(slices.Clone(contract.Metrics), contract.ConfigFileMetrics...) {
		why, unused := deliberatelyUnused[name]
		switch {
		case !used[name] && !unused:
			t.Errorf("%s is in the contract but no dashboard or alert uses it; use it, or list it in deliberatelyUnused with the reason", name)
		case used[name] && unused:
			t.Errorf("%s is listed as deliberately unused (%s) but is used", name, why)
		}
	}
}

// ---- "expiring within the hour" ----

const (
	expiringStat   = "Expiring < 1h"
	attentionTable = "Unhealthy or expiring numbers"
	// alertRuleFile holds DashaSIPRegistrationExpiringSoon.
	alertRuleFile = "../alerts/dasha_exporter.rules.yml"
)

// refreshClauses are the "its usual refresh did not come" test of the
// DashaSIPRegistrationExpiringSoon alert (alerts/dasha_exporter.rules.yml):
// the time left is below half of the lowest expiry_seconds of the 3h up to
// 15m ago, and expiresAt moved in that window. The dashboard repeats them
// inline rather than reading a recording rule (it must work without the rule
// file); both must change together. They are compared with whitespace
// collapsed and, in the dashboard, the job/instance matchers removed.
var refreshClauses = []string{
	"dasha_sip_registration_expires_timestamp_seconds - time() < 0.5 * min_over_time(dasha_sip_registration_expiry_seconds[3h] offset 15m)",
	"changes(dasha_sip_registration_expires_timestamp_seconds[3h] offset 15m) > 0",
}

// normalizeExpr collapses whitespace and removes the dashboard's job and
// instance matchers, so that a dashboard query can be compared with the
// rule file's text.
func normalizeExpr(expr string) string {
	expr = strings.ReplaceAll(expr, "{"+jobMatcher+", "+instMatcher+"}", "")
	expr = strings.Join(strings.Fields(expr), " ")
	return strings.NewReplacer("( ", "(", " )", ")").Replace(expr)
}

// recordingRuleRE finds a metric name with a colon: by convention only
// recording rules have one.
var recordingRuleRE = regexp.MustCompile(`\b([a-zA-Z_][a-zA-Z0-9_]*:[a-zA-Z0-9_:]*[a-zA-Z0-9_])\s*(\{[^}]*\})?`)

// shippedRecords returns the names of the recording rules in the rule file.
func shippedRecords(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(alertRuleFile)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s*- record: (\S+)`).FindAllStringSubmatch(string(b), -1) {
		names[m[1]] = true
	}
	return names
}

// TestRecordingRulesShipped: a panel may read a recording rule only if the
// rule file ships it, the panel's description says so (it shows No data
// where the rules are not loaded, as the contract asks), and its selector
// filters by job and instance. The fleet overview's stats need no rules.
func TestRecordingRulesShipped(t *testing.T) {
	records := shippedRecords(t)
	for _, file := range dashboardFiles(t) {
		d := load(t, file)
		for _, p := range allPanels(d.Panels) {
			for _, tg := range p.Targets {
				for _, m := range recordingRuleRE.FindAllStringSubmatch(tg.Expr, -1) {
					where := fmt.Sprintf("%s: panel %q/%s", file, p.Title, tg.RefID)
					if !records[m[1]] {
						t.Errorf("%s uses %q, which %s does not record", where, m[1], alertRuleFile)
					}
					if !strings.Contains(p.Description, "recording rule") {
						t.Errorf("%s uses the recording rule %q but its description does not say so", where, m[1])
					}
					if !strings.Contains(m[2], jobMatcher) || !strings.Contains(m[2], instMatcher) {
						t.Errorf("%s: selector %s%s lacks %s and %s", where, m[1], m[2], jobMatcher, instMatcher)
					}
					for _, c := range append(countStats, "Numbers", "Healthy") {
						if p.Title == c {
							t.Errorf("%s: the fleet overview must work without the rule file", where)
						}
					}
				}
			}
		}
	}
}

// perNumberRE finds the per-number metrics (and recording rules): every
// series of theirs is one number.
var perNumberRE = regexp.MustCompile(`\b(dasha_sip_registration_[a-z_]+|dasha_sip_phone_number_[a-z_]+|dasha:sip_registration_[a-z_]+:[a-z0-9_]+)\b`)

// TestNoPanelDrawsEveryNumber: at 10,000 numbers a graph or timeline with
// one line per number is unreadable. A panel drawn over time that reads a
// per-number metric must aggregate it, bound it with topk/bottomk fixed at
// the end of the range (@ end(), so the set does not grow with the range),
// or select the one number of the Number variable. The e2e test counts the
// series on a live fleet (e2e/fleet_test.go).
func TestNoPanelDrawsEveryNumber(t *testing.T) {
	aggregated := regexp.MustCompile(`^\s*(count|sum|avg|min|max|histogram_quantile)\b`)
	for _, file := range dashboardFiles(t) {
		d := load(t, file)
		for _, p := range allPanels(d.Panels) {
			if p.Type != "timeseries" && p.Type != "state-timeline" {
				continue
			}
			for _, tg := range p.Targets {
				expr := recordingRuleRE.ReplaceAllStringFunc(tg.Expr, func(s string) string {
					if strings.HasPrefix(s, "dasha:sip_registration_") {
						return s
					}
					return "" // a fleet-level rule (instance_job:...)
				})
				if !perNumberRE.MatchString(expr) || aggregated.MatchString(expr) {
					continue
				}
				bounded := (strings.Contains(expr, "bottomk(") || strings.Contains(expr, "topk(")) && strings.Contains(expr, "@ end()")
				if !bounded && !strings.Contains(expr, `phone_number="$number"`) {
					t.Errorf("%s: panel %q/%s draws a per-number metric for every number:\n%s", file, p.Title, tg.RefID, tg.Expr)
				}
			}
		}
	}
}

// panelByTitle returns the main dashboard's panel with that title.
func panelByTitle(t *testing.T, title string) panel {
	t.Helper()
	for _, p := range allPanels(load(t, mainDashboard).Panels) {
		if p.Title == title {
			return p
		}
	}
	t.Fatalf("%s: no panel %q", mainDashboard, title)
	return panel{}
}

// TestExpiringMeansNotKeptAlive guards the meaning of "expiring within the
// hour": seconds to expiry below 3600 alone is not it, since a healthy
// registration with the common one-hour lifetime is always below 3600. Every
// query comparing expiry with an hour must also ask whether the number is
// kept alive (healthy, and re-registered on schedule as the ExpiringSoon alert
// measures it), with the alert's own threshold; the table's queries must all
// be cut to the same set of numbers.
func TestExpiringMeansNotKeptAlive(t *testing.T) {
	rules, err := os.ReadFile(alertRuleFile)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(rules), "- alert: DashaSIPRegistrationExpiringSoon")
	if i < 0 {
		t.Fatalf("%s: no DashaSIPRegistrationExpiringSoon", alertRuleFile)
	}
	alert := string(rules)[i:]
	if j := strings.Index(alert, "\n        labels:"); j >= 0 {
		alert = alert[:j] // its expr and for:
	}
	alert = normalizeExpr(alert)
	for _, c := range refreshClauses {
		if !strings.Contains(alert, c) {
			t.Errorf("the ExpiringSoon alert no longer contains %q; update the dashboard's copy of its refresh test together with it:\n%s", c, alert)
		}
	}
	d := load(t, mainDashboard)
	for _, p := range allPanels(d.Panels) {
		for _, tg := range p.Targets {
			if !strings.Contains(tg.Expr, "< 3600") {
				continue
			}
			for _, want := range []string{
				"dasha_sip_registration_healthy{" + jobMatcher + ", " + instMatcher + "} == 0",
				"min_over_time(dasha_sip_registration_expiry_seconds{" + jobMatcher + ", " + instMatcher + "}[3h] offset 15m)",
				"changes(dasha_sip_registration_expires_timestamp_seconds{" + jobMatcher + ", " + instMatcher + "}[3h] offset 15m)",
				"dasha_sip_registration_enabled{" + jobMatcher + ", " + instMatcher + "} == 1",
			} {
				if !strings.Contains(tg.Expr, want) {
					t.Errorf("panel %q/%s compares expiry with an hour but lacks %q:\n%s", p.Title, tg.RefID, want, tg.Expr)
				}
			}
			for _, c := range refreshClauses {
				if !strings.Contains(normalizeExpr(tg.Expr), c) {
					t.Errorf("panel %q/%s compares expiry with an hour but lacks the ExpiringSoon alert's %q:\n%s", p.Title, tg.RefID, c, tg.Expr)
				}
			}
		}
	}
	stat := panelByTitle(t, expiringStat)
	if len(stat.Targets) != 1 || !strings.HasSuffix(strings.TrimSpace(stat.Targets[0].Expr), fallbackZero) {
		t.Errorf("%q: want one query ending in %s (no numbers is 0 while a listing succeeds; TestStatsNoDataAndDedupe)", expiringStat, fallbackZero)
	}
	table := panelByTitle(t, attentionTable)
	cut := ""
	for _, tg := range table.Targets {
		i := strings.Index(tg.Expr, "\n  and on (job, instance, id) (")
		if i < 0 {
			t.Errorf("%q/%s: not cut with `and on (job, instance, id) (...)`", attentionTable, tg.RefID)
			continue
		}
		if cut == "" {
			cut = tg.Expr[i:]
		} else if tg.Expr[i:] != cut {
			t.Errorf("%q/%s: cut to another set of numbers than refId A:\n%s\nwant:\n%s", attentionTable, tg.RefID, tg.Expr[i:], cut)
		}
	}
}

// TestExpiringQueries runs the "Expiring < 1h" stat and the attention table's
// row query (refId A; TestExpiringMeansNotKeptAlive checks that the others
// are cut the same way) through promtool on four hours of synthetic history,
// evaluated at minute 238 (the test clock starts at 0). "Usual low point" is
// the lowest seconds to expiry in the 3h up to 15 min ago, as the
// ExpiringSoon alert measures it. The numbers:
//
//	a  healthy, 1h lifetime re-registered every 55 min: under an hour to
//	   expiry all the time, kept alive: neither counted nor listed
//	b  healthy, 1h lifetime re-registered every 30 min until minute 180,
//	   then no more: 2 min left, usual low point 17 min (its own stuck
//	   decline, 15 min ago, is already lower than the normal 31 min):
//	   counted and listed
//	c  Failed since minute 200 while its last registration is valid for 6
//	   more minutes: counted and listed
//	d  Failed, registration expired: listed, not counted (expired)
//	e  Failed, no expiresAt at all: listed, not counted
//	f  registration switched off, otherwise like b: neither
//	g  healthy state but expired (no refresh came): listed, not counted
//	h  healthy, 1h lifetime re-registered every 55 min (5 min before expiry)
//	   until minute 180, then no more: 2 min left, usual low point 6 min:
//	   counted and listed, as ExpiringSoon fires for it (at 239, with a
//	   minute of for:) before it expires at 240. Under the old "1.5 usual
//	   refresh intervals" measure this common cycle could never count.
func TestExpiringQueries(t *testing.T) {
	promtool := testtools.Find(t, "promtool")
	const minutes = 240
	type num struct {
		id, state string
		enabled   bool
		// expires returns expiresAt (Unix seconds) at minute m, or ok=false
		// when it is null.
		expires func(m int) (float64, bool)
		// healthy at minute m (only exported for enabled numbers).
		healthy func(m int) bool
	}
	refreshed := func(every, lifetime, until, offset int) func(int) (float64, bool) {
		return func(m int) (float64, bool) {
			last := offset + (min(m, until)-offset)/every*every
			if m < offset {
				last = offset - every
			}
			return float64((last + lifetime) * 60), true
		}
	}
	fixed := func(minute int) func(int) (float64, bool) {
		return func(int) (float64, bool) { return float64(minute * 60), true }
	}
	always := func(int) bool { return true }
	never := func(int) bool { return false }
	nums := []num{
		{id: "a", state: "Registered", enabled: true, expires: refreshed(55, 60, minutes, 0), healthy: always},
		{id: "b", state: "Registered", enabled: true, expires: refreshed(30, 60, 180, 0), healthy: always},
		{id: "c", state: "Failed", enabled: true, expires: fixed(244), healthy: func(m int) bool { return m < 200 }},
		{id: "d", state: "Failed", enabled: true, expires: fixed(200), healthy: never},
		{id: "e", state: "Failed", enabled: true, expires: func(int) (float64, bool) { return 0, false }, healthy: never},
		{id: "f", state: "Disabled", enabled: false, expires: refreshed(30, 60, 180, 0), healthy: always},
		{id: "g", state: "Registered", enabled: true, expires: fixed(230), healthy: always},
		{id: "h", state: "Registered", enabled: true, expires: refreshed(55, 60, 180, 15), healthy: always},
	}
	const job, instance = "dasha", "exp:9612"
	var in strings.Builder
	series := func(name, labels string, value func(m int) (float64, bool)) {
		vals := make([]string, 0, minutes+1)
		for m := 0; m <= minutes; m++ {
			if v, ok := value(m); ok {
				vals = append(vals, strconv.FormatFloat(v, 'f', -1, 64))
			} else {
				vals = append(vals, "_")
			}
		}
		fmt.Fprintf(&in, "      - series: '%s{%s}'\n        values: '%s'\n", name, labels, strings.Join(vals, " "))
	}
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	for i, n := range nums {
		labels := fmt.Sprintf(`id=%q,phone_number="+1555000%d",instance=%q,job=%q`, n.id, i, instance, job)
		series("dasha_sip_registration_enabled", labels, func(int) (float64, bool) { return b2f(n.enabled), true })
		series("dasha_sip_registration_state", labels+fmt.Sprintf(`,state=%q`, n.state), func(int) (float64, bool) { return 1, true })
		if n.enabled {
			series("dasha_sip_registration_healthy", labels, func(m int) (float64, bool) { return b2f(n.healthy(m)), true })
		}
		series("dasha_sip_registration_expires_timestamp_seconds", labels, n.expires)
		series("dasha_sip_registration_expiry_seconds", labels, func(m int) (float64, bool) {
			v, ok := n.expires(m)
			return v - float64(m*60), ok
		})
	}
	expand := func(expr string) string {
		return strings.NewReplacer("$job", job, "$instance", ".*").Replace(expr)
	}
	quote := func(s string) string { // a YAML double-quoted scalar
		b, _ := json.Marshal(s)
		return string(b)
	}
	var rows strings.Builder
	for i, n := range nums {
		if !strings.Contains("bcdegh", n.id) { // the numbers the table lists
			continue
		}
		fmt.Fprintf(&rows, "          - labels: %s\n            value: 1\n",
			quote(fmt.Sprintf(`{id=%q,instance=%q,job=%q,phone_number="+1555000%d",state=%q}`, n.id, instance, job, i, n.state)))
	}
	statExpr := panelByTitle(t, expiringStat).Targets[0].Expr
	var tableExpr string
	for _, tg := range panelByTitle(t, attentionTable).Targets {
		if tg.RefID == "A" {
			tableExpr = tg.Expr
		}
	}
	if tableExpr == "" {
		t.Fatalf("%q has no refId A", attentionTable)
	}
	file := fmt.Sprintf(`# generated by TestExpiringQueries
rule_files: []
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
%s    promql_expr_test:
      - expr: %s
        eval_time: 238m
        exp_samples:
          - labels: '{}'
            value: 3
      - expr: %s
        eval_time: 238m
        exp_samples:
%s`, in.String(), quote(expand(statExpr)), quote(expand(tableExpr)), rows.String())
	path := filepath.Join(t.TempDir(), "expiring_test.yml")
	if err := os.WriteFile(path, []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "test", "rules", path).CombinedOutput()
	if err != nil {
		t.Errorf("promtool test rules on the dashboard's expiring queries: %v\n%s", err, out)
	}
}

// ---- "no data" is not "0", and each number counts once ----

// fallbackZero is how the fleet counts turn "no number matched" into 0: only
// while some selected exporter's listing succeeds. Exporter down or listing
// failing is No data, never a green 0.
const fallbackZero = `or on () (0 * max(dasha_up{job=~"$job", instance=~"$instance"} == 1))`

// countStats are the fleet-count stats that show 0 when nothing matches.
var countStats = []string{"Failing", expiringStat, "Registration off"}

// TestStatsNoDataAndDedupe runs the fleet overview's stats through promtool:
// the counts are No data (empty) while no listing succeeds and 0 only when
// one does, and two exporters listing overlapping sets of numbers count each
// number once, as Numbers does.
func TestStatsNoDataAndDedupe(t *testing.T) {
	promtool := testtools.Find(t, "promtool")
	const job = "dasha"
	expand := func(expr string) string {
		return strings.NewReplacer("$job", job, "$instance", ".*").Replace(expr)
	}
	quote := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	num := func(inst, id string, enabled, healthy bool, expiry int) string {
		l := fmt.Sprintf(`id=%q,phone_number="+1555%s",instance=%q,job=%q`, id, id, inst, job)
		b := func(v bool) string {
			if v {
				return "1"
			}
			return "0"
		}
		s := fmt.Sprintf("      - series: 'dasha_sip_phone_number_info{%s,display_name=\"\"}'\n        values: '1x30'\n", l)
		s += fmt.Sprintf("      - series: 'dasha_sip_registration_enabled{%s}'\n        values: '%sx30'\n", l, b(enabled))
		if enabled {
			s += fmt.Sprintf("      - series: 'dasha_sip_registration_healthy{%s}'\n        values: '%sx30'\n", l, b(healthy))
		}
		s += fmt.Sprintf("      - series: 'dasha_sip_registration_expiry_seconds{%s}'\n        values: '%d-60x30'\n", l, expiry)
		s += fmt.Sprintf("      - series: 'dasha_sip_registration_expires_timestamp_seconds{%s}'\n        values: '%dx30'\n", l, expiry)
		return s
	}
	up := func(inst string, up, dashaUp string) string {
		s := fmt.Sprintf("      - series: 'up{instance=%q,job=%q}'\n        values: '%s'\n", inst, job, up)
		if dashaUp != "" {
			s += fmt.Sprintf("      - series: 'dasha_up{instance=%q,job=%q}'\n        values: '%s'\n", inst, job, dashaUp)
		}
		return s
	}
	type want struct {
		title string
		value string // "" for no sample (No data)
	}
	scenarios := []struct {
		name  string
		input string
		wants []want
	}{
		{"exporter down: no data, not 0", up("e1:9612", "0x30", ""),
			[]want{{"Failing", ""}, {expiringStat, ""}, {"Registration off", ""}}},
		{"listing failing: no data, not 0", up("e1:9612", "1x30", "0x30"),
			[]want{{"Failing", ""}, {expiringStat, ""}, {"Registration off", ""}}},
		{"listing works, nothing wrong: 0", up("e1:9612", "1x30", "1x30") + num("e1:9612", "a", true, true, 3000),
			[]want{{"Numbers", "1"}, {"Healthy", "1"}, {"Failing", "0"}, {expiringStat, "0"}, {"Registration off", "0"}}},
		// e1 lists a (healthy), b (failing, registration valid for 30 min:
		// expiring) and c (registration off); e2 lists b and c too.
		{"two exporters, overlapping numbers: each number once",
			up("e1:9612", "1x30", "1x30") + up("e2:9612", "1x30", "1x30") +
				num("e1:9612", "a", true, true, 3000) + num("e1:9612", "b", true, false, 1800) + num("e1:9612", "c", false, false, 1800) +
				num("e2:9612", "b", true, false, 1800) + num("e2:9612", "c", false, false, 1800),
			[]want{{"Numbers", "3"}, {"Healthy", "0.5"}, {"Failing", "1"}, {expiringStat, "1"}, {"Registration off", "1"}}},
	}
	var file strings.Builder
	file.WriteString("# generated by TestStatsNoDataAndDedupe\nrule_files: []\nevaluation_interval: 1m\ntests:\n")
	for _, sc := range scenarios {
		fmt.Fprintf(&file, "  - name: %s\n    interval: 1m\n    input_series:\n%s    promql_expr_test:\n", quote(sc.name), sc.input)
		for _, w := range sc.wants {
			p := panelByTitle(t, w.title)
			fmt.Fprintf(&file, "      - expr: %s\n        eval_time: 10m\n", quote(expand(p.Targets[0].Expr)))
			if w.value == "" {
				file.WriteString("        exp_samples: []\n")
			} else {
				fmt.Fprintf(&file, "        exp_samples:\n          - labels: '{}'\n            value: %s\n", w.value)
			}
		}
	}
	path := filepath.Join(t.TempDir(), "stats_test.yml")
	if err := os.WriteFile(path, []byte(file.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "test", "rules", path).CombinedOutput()
	if err != nil {
		t.Errorf("promtool test rules on the fleet overview's stats: %v\n%s", err, out)
	}
	for _, title := range countStats {
		p := panelByTitle(t, title)
		if len(p.Targets) != 1 || !strings.HasSuffix(strings.TrimSpace(p.Targets[0].Expr), fallbackZero) {
			t.Errorf("%q: want one query ending in %s (0 only while a listing succeeds)", title, fallbackZero)
		}
		if strings.Contains(p.Targets[0].Expr, "vector(0)") {
			t.Errorf("%q: `or vector(0)` shows a green 0 while the exporter is down or cannot list", title)
		}
	}
}

// TestSoonestExpiriesClamped runs the "Soonest registration expiries" query
// through promtool: a registration expired for hours shows as an hour
// expired, so that it does not squash the axis of the others.
func TestSoonestExpiriesClamped(t *testing.T) {
	promtool := testtools.Find(t, "promtool")
	expr := strings.NewReplacer("$job", "dasha", "$instance", ".*").Replace(panelByTitle(t, "Soonest registration expiries").Targets[0].Expr)
	q, _ := json.Marshal(expr)
	file := fmt.Sprintf(`rule_files: []
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'dasha_sip_registration_enabled{id="a",phone_number="+1",instance="e1:9612",job="dasha"}'
        values: '1x10'
      - series: 'dasha_sip_registration_expiry_seconds{id="a",phone_number="+1",instance="e1:9612",job="dasha"}'
        values: '-18000-60x10'
      - series: 'dasha_sip_registration_enabled{id="b",phone_number="+2",instance="e1:9612",job="dasha"}'
        values: '1x10'
      - series: 'dasha_sip_registration_expiry_seconds{id="b",phone_number="+2",instance="e1:9612",job="dasha"}'
        values: '-60-60x10'
    promql_expr_test:
      - expr: %s
        eval_time: 5m
        exp_samples:
          - labels: '{id="a",phone_number="+1",instance="e1:9612",job="dasha"}'
            value: -3600
          - labels: '{id="b",phone_number="+2",instance="e1:9612",job="dasha"}'
            value: -360
`, q)
	path := filepath.Join(t.TempDir(), "soonest_test.yml")
	if err := os.WriteFile(path, []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "test", "rules", path).CombinedOutput(); err != nil {
		t.Errorf("promtool test rules on %q: %v\n%s", "Soonest registration expiries", err, out)
	}
}

// TestExporterMetricsBothModes runs the panels that read the exporter's own
// metrics (API requests, API latency, version) through promtool on a
// Prometheus holding both modes at once: a flag-mode exporter e0 under the
// selected job; two replicas e1 and e2 probing acme-us (and e1 acme-ru) in
// config-file mode, whose own metrics are job dasha_exporter with an account
// label; and, not selected, an exporter e3 probing an account of the same
// name under another job, and a flag-mode exporter of another job. Each
// panel counts every selected series once and nothing else, with "All" and
// with one account or one flag-mode instance selected.
func TestExporterMetricsBothModes(t *testing.T) {
	promtool := testtools.Find(t, "promtool")
	quote := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	var in strings.Builder
	series := func(s, values string) {
		fmt.Fprintf(&in, "      - series: %s\n        values: '%s'\n", quote(s), values)
	}
	// per is the requests per second; every request takes between 0.5s and
	// 1.5s for the selected exporters, longer than 1.5s for e3.
	own := func(labels string, code string, per int, slow bool) {
		series(fmt.Sprintf(`dasha_api_requests_total{%s,code=%q}`, labels, code), fmt.Sprintf("0+%dx10", per*60))
		if code != "200" {
			return
		}
		fast := per * 60
		if slow {
			fast = 0
		}
		series(fmt.Sprintf(`dasha_api_request_duration_seconds_bucket{%s,le="0.5"}`, labels), "0x10")
		series(fmt.Sprintf(`dasha_api_request_duration_seconds_bucket{%s,le="1.5"}`, labels), fmt.Sprintf("0+%dx10", fast))
		series(fmt.Sprintf(`dasha_api_request_duration_seconds_bucket{%s,le="+Inf"}`, labels), fmt.Sprintf("0+%dx10", per*60))
	}
	// Flag mode: e0's /metrics carries everything, under job dasha.
	series(`up{job="dasha",instance="e0:9612"}`, "1x10")
	own(`job="dasha",instance="e0:9612"`, "200", 1, false)
	series(`dasha_exporter_build_info{job="dasha",instance="e0:9612",version="0.1.0",revision="a"}`, "1x10")
	// Config-file mode: probes under job dasha, the exporters' own metrics
	// under job dasha_exporter.
	for _, probe := range [][2]string{{"acme-us", "e1:9612"}, {"acme-ru", "e1:9612"}, {"acme-us", "e2:9612"}} {
		series(fmt.Sprintf(`up{job="dasha",instance=%q,exporter=%q}`, probe[0], probe[1]), "1x10")
	}
	for _, e := range []string{"e1:9612", "e2:9612"} {
		series(fmt.Sprintf(`up{job="dasha_exporter",instance=%q}`, e), "1x10")
		series(fmt.Sprintf(`dasha_exporter_build_info{job="dasha_exporter",instance=%q,version="0.2.0",revision="b"}`, e), "1x10")
	}
	own(`job="dasha_exporter",instance="e1:9612",account="acme-us"`, "200", 2, false)
	own(`job="dasha_exporter",instance="e1:9612",account="acme-ru"`, "200", 4, false)
	own(`job="dasha_exporter",instance="e1:9612",account="acme-ru"`, "429", 1, false)
	own(`job="dasha_exporter",instance="e2:9612",account="acme-us"`, "200", 8, false)
	// Not selected: e3 probes an acme-us of another job; e9 is a flag-mode
	// exporter of another job.
	series(`up{job="dasha-lab",instance="acme-us",exporter="e3:9612"}`, "1x10")
	series(`up{job="dasha_exporter",instance="e3:9612"}`, "1x10")
	series(`dasha_exporter_build_info{job="dasha_exporter",instance="e3:9612",version="9.9.9",revision="z"}`, "1x10")
	own(`job="dasha_exporter",instance="e3:9612",account="acme-us"`, "200", 100, true)
	series(`up{job="other",instance="e9:9612"}`, "1x10")
	series(`dasha_exporter_build_info{job="other",instance="e9:9612",version="9.9.9",revision="z"}`, "1x10")
	own(`job="other",instance="e9:9612"`, "200", 100, true)

	build := func(instances ...string) []string {
		var out []string
		for _, i := range instances {
			if i == "e0:9612" {
				out = append(out, `{__name__="dasha_exporter_build_info",job="dasha",instance="e0:9612",version="0.1.0",revision="a"}`)
			} else {
				out = append(out, fmt.Sprintf(`{__name__="dasha_exporter_build_info",job="dasha_exporter",instance=%q,version="0.2.0",revision="b"}`, i))
			}
		}
		return out
	}
	type want struct {
		title string
		refID string
		// samples: labels -> value
		samples map[string]string
	}
	cases := []struct {
		instance string
		wants    []want
	}{
		{".*", []want{
			{"API requests by status", "A", map[string]string{`{code="200"}`: "15", `{code="429"}`: "1"}},
			{"API request latency", "A", map[string]string{`{}`: "1"}},
			{"Exporter version", "A", nil},
		}},
		{"acme-us", []want{
			{"API requests by status", "A", map[string]string{`{code="200"}`: "10"}},
			{"API request latency", "A", map[string]string{`{}`: "1"}},
			{"Exporter version", "A", nil},
		}},
		{"e0:9612", []want{
			{"API requests by status", "A", map[string]string{`{code="200"}`: "1"}},
			{"API request latency", "A", map[string]string{`{}`: "1"}},
			{"Exporter version", "A", nil},
		}},
	}
	versions := map[string][]string{
		".*":      build("e0:9612", "e1:9612", "e2:9612"),
		"acme-us": build("e1:9612", "e2:9612"),
		"e0:9612": build("e0:9612"),
	}
	var file strings.Builder
	file.WriteString("# generated by TestExporterMetricsBothModes\nrule_files: []\nevaluation_interval: 1m\ntests:\n")
	for _, c := range cases {
		fmt.Fprintf(&file, "  - name: %s\n    interval: 1m\n    input_series:\n%s    promql_expr_test:\n", quote("instance="+c.instance), in.String())
		// $__rate_interval of 150s keeps the window's start off the
		// samples (Prometheus 2 and 3 differ there).
		expand := strings.NewReplacer("$job", "dasha", "$instance", c.instance, "$__rate_interval", "150s").Replace
		for _, w := range c.wants {
			var expr string
			for _, tg := range panelByTitle(t, w.title).Targets {
				if tg.RefID == w.refID {
					expr = tg.Expr
				}
			}
			if expr == "" {
				t.Fatalf("%q has no refId %s", w.title, w.refID)
			}
			fmt.Fprintf(&file, "      - expr: %s\n        eval_time: 5m\n        exp_samples:\n", quote(expand(expr)))
			if w.title == "Exporter version" {
				for _, l := range versions[c.instance] {
					fmt.Fprintf(&file, "          - labels: %s\n            value: 1\n", quote(l))
				}
				continue
			}
			for l, v := range w.samples {
				fmt.Fprintf(&file, "          - labels: %s\n            value: %s\n", quote(l), v)
			}
		}
	}
	path := filepath.Join(t.TempDir(), "exporter_metrics_test.yml")
	if err := os.WriteFile(path, []byte(file.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "test", "rules", path).CombinedOutput(); err != nil {
		t.Errorf("promtool test rules on the panels of the exporter's own metrics: %v\n%s", err, out)
	}
}

// TestNoDataColours checks the value mappings for a stat without a value
// (Grafana passes null to them when a query returns nothing): "Last good
// listing" is red then (never succeeded, or the exporter is down), and the
// counts are not coloured as their 0 would be.
func TestNoDataColours(t *testing.T) {
	b, err := os.ReadFile(mainDashboard)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title       string `json:"title"`
			FieldConfig struct {
				Defaults struct {
					Mappings []struct {
						Type    string `json:"type"`
						Options struct {
							Match  string `json:"match"`
							Result struct {
								Text  string `json:"text"`
								Color string `json:"color"`
							} `json:"result"`
						} `json:"options"`
					} `json:"mappings"`
				} `json:"defaults"`
			} `json:"fieldConfig"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	nullColour := map[string]string{}
	for _, p := range d.Panels {
		for _, m := range p.FieldConfig.Defaults.Mappings {
			if m.Type == "special" && (m.Options.Match == "null" || m.Options.Match == "null+nan") {
				nullColour[p.Title] = m.Options.Result.Color
			}
		}
	}
	if c := nullColour["Last good listing"]; c != "red" {
		t.Errorf("%q: null (no listing ever, or exporter down) is coloured %q, want red", "Last good listing", c)
	}
	for _, title := range countStats {
		if c, ok := nullColour[title]; !ok || c == "green" {
			t.Errorf("%q: no null mapping with a colour other than green (got %q): No data would take the green of 0", title, c)
		}
	}
}
