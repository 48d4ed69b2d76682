package alerts

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dasha-exporter/dasha_exporter/internal/fakeapi"
	"github.com/dasha-exporter/dasha_exporter/internal/testtools"
)

const demoStack = "../scripts/demo-stack.sh"

// demoConfig runs `scripts/demo-stack.sh --config-only` with env added to a
// clean environment and returns the directory it wrote, or fails.
func demoConfig(t *testing.T, env ...string) string {
	t.Helper()
	dir := t.TempDir()
	stdout, stderr, err := runDemoStack(t, append(env, "DEMO_DIR="+dir), "--config-only")
	if err != nil {
		t.Fatalf("demo-stack.sh --config-only %v: %v\n%s", env, err, stderr)
	}
	if got := strings.TrimSpace(stdout); got != dir {
		t.Errorf("demo-stack.sh --config-only printed %q, want the directory %q", got, dir)
	}
	return dir
}

func runDemoStack(t *testing.T, env []string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command("bash", append([]string{demoStack}, args...)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TMPDIR=" + t.TempDir()}, env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// demoPrometheus is what the test reads of the generated prometheus.yml.
type demoPrometheus struct {
	Global struct {
		ScrapeInterval     string `yaml:"scrape_interval"`
		EvaluationInterval string `yaml:"evaluation_interval"`
	} `yaml:"global"`
	RuleFiles []string `yaml:"rule_files"`
	Alerting  struct {
		Alertmanagers []struct {
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"alertmanagers"`
	} `yaml:"alerting"`
	ScrapeConfigs []struct {
		JobName       string `yaml:"job_name"`
		StaticConfigs []struct {
			Targets []string `yaml:"targets"`
		} `yaml:"static_configs"`
	} `yaml:"scrape_configs"`
}

func readYAML(t *testing.T, path string, v any) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return data
}

// TestDemoStackPorts: the DEMO_*_PORT variables move every address of the
// generated configuration, the defaults are the documented ones, and the
// Alertmanager configuration is the example's with only the receiver URLs
// changed, valid for amtool and Prometheus' for promtool.
func TestDemoStackPorts(t *testing.T) {
	amtool := testtools.Find(t, "amtool")
	example, err := os.ReadFile("examples/alertmanager.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		env                                     []string
		exporter, prometheus, alertmanager, rcv string
	}{
		{nil, "9612", "9090", "9093", "9097"},
		{[]string{"DEMO_EXPORTER_PORT=19612", "DEMO_PROMETHEUS_PORT=19090", "DEMO_ALERTMANAGER_PORT=19093", "DEMO_RECEIVER_PORT=19097"},
			"19612", "19090", "19093", "19097"},
		{[]string{"DEMO_RECEIVER_PORT=8080"}, "9612", "9090", "9093", "8080"},
	} {
		dir := demoConfig(t, c.env...)

		var p demoPrometheus
		readYAML(t, filepath.Join(dir, "prometheus/prometheus.yml"), &p)
		if len(p.ScrapeConfigs) != 1 || p.ScrapeConfigs[0].JobName != "dasha" ||
			strings.Join(p.ScrapeConfigs[0].StaticConfigs[0].Targets, ",") != "127.0.0.1:"+c.exporter {
			t.Errorf("%v: prometheus.yml scrapes %+v, want job dasha at 127.0.0.1:%s", c.env, p.ScrapeConfigs, c.exporter)
		}
		if len(p.Alerting.Alertmanagers) != 1 ||
			strings.Join(p.Alerting.Alertmanagers[0].StaticConfigs[0].Targets, ",") != "127.0.0.1:"+c.alertmanager {
			t.Errorf("%v: prometheus.yml alerts %+v, want 127.0.0.1:%s", c.env, p.Alerting, c.alertmanager)
		}
		runPromtool(t, "check", "config", filepath.Join(dir, "prometheus/prometheus.yml"))

		am := filepath.Join(dir, "alertmanager/alertmanager.yml")
		data, err := os.ReadFile(am)
		if err != nil {
			t.Fatal(err)
		}
		urls := regexp.MustCompile(`api_url: '([^']*)'`).FindAllStringSubmatch(string(data), -1)
		if len(urls) < 2 {
			t.Errorf("%v: alertmanager.yml has %d api_url, want the pager's and the tickets'", c.env, len(urls))
		}
		for _, u := range urls {
			if !strings.HasPrefix(u[1], "http://127.0.0.1:"+c.rcv+"/") {
				t.Errorf("%v: alertmanager.yml sends to %s, want the receiver at 127.0.0.1:%s", c.env, u[1], c.rcv)
			}
		}
		if back := strings.ReplaceAll(string(data), "http://127.0.0.1:"+c.rcv+"/", "http://127.0.0.1:9097/"); back != string(example) {
			t.Errorf("%v: alertmanager.yml differs from the example in more than the receiver URLs", c.env)
		}
		if _, err := os.Stat(filepath.Join(dir, "alertmanager/dasha.tmpl")); err != nil {
			t.Errorf("the template is not beside the generated alertmanager.yml: %v", err)
		}
		if out, err := exec.Command(amtool, "check-config", am).CombinedOutput(); err != nil {
			t.Errorf("%v: amtool check-config on the generated configuration: %v\n%s", c.env, err, out)
		}
	}
}

// TestDemoStackRefusesBadSettings: a port that is not one, two services on
// one port and a malformed DEMO_FOR stop the script before anything runs,
// naming the variables.
func TestDemoStackRefusesBadSettings(t *testing.T) {
	for _, c := range []struct {
		env  []string
		want []string
	}{
		{[]string{"DEMO_PROMETHEUS_PORT=http"}, []string{"DEMO_PROMETHEUS_PORT=http", "not a port"}},
		{[]string{"DEMO_ALERTMANAGER_PORT=70000"}, []string{"DEMO_ALERTMANAGER_PORT=70000"}},
		{[]string{"DEMO_RECEIVER_PORT=9093"}, []string{"DEMO_ALERTMANAGER_PORT and DEMO_RECEIVER_PORT are both 9093"}},
		{[]string{"DEMO_FOR=30"}, []string{"DEMO_FOR=30", "unit"}},
	} {
		_, stderr, err := runDemoStack(t, append(c.env, "DEMO_DIR="+t.TempDir()), "--config-only")
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
			t.Errorf("%v: exit %v, want status 2", c.env, err)
		}
		for _, w := range c.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%v: stderr %q does not say %q", c.env, stderr, w)
			}
		}
	}
}

// TestDemoStackNamesMissingPackages: without Prometheus and Alertmanager on
// PATH the stack fails at once, naming the Debian packages and the command
// that installs them (and needing neither root nor a browser).
func TestDemoStackNamesMissingPackages(t *testing.T) {
	bin := t.TempDir()
	for _, tool := range []string{"bash", "dirname", "awk", "go"} {
		path, err := exec.LookPath(tool)
		if err != nil {
			t.Skipf("%s not on PATH", tool)
		}
		if err := os.Symlink(path, filepath.Join(bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(filepath.Join(bin, "bash"), demoStack)
	cmd.Env = []string{"PATH=" + bin, "DEMO_DIR=" + t.TempDir()}
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Errorf("exit %v, want status 1\n%s", err, out)
	}
	for _, w := range []string{"prometheus prometheus-alertmanager not found", "apt-get install --no-install-recommends prometheus prometheus-alertmanager"} {
		if !strings.Contains(string(out), w) {
			t.Errorf("output does not say %q:\n%s", w, out)
		}
	}
	if strings.Contains(string(out), "chromium") || strings.Contains(string(out), "go not found") {
		t.Errorf("output asks for more than the stack needs:\n%s", out)
	}
}

// demoForDurations reads every alert's `for:` from a rule file.
func demoForDurations(t *testing.T, path string) map[string]string {
	t.Helper()
	var doc ruleFileDoc
	readYAML(t, path, &doc)
	got := map[string]string{}
	for _, g := range doc.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				got[r.Alert] = r.For
			}
		}
	}
	return got
}

// TestDemoStackDemoFor: without DEMO_FOR the rules run as shipped; with it
// every `for:` is shortened, but DashaSIPRegistrationFailing and
// DashaSIPRegistrationFleetDegraded keep 3m (the demo's normal two-minute
// drop-outs must not page), no alert goes below 30s, and none gets longer
// than shipped.
func TestDemoStackDemoFor(t *testing.T) {
	shipped, err := os.ReadFile(ruleFile)
	if err != nil {
		t.Fatal(err)
	}
	dir := demoConfig(t)
	if got, _ := os.ReadFile(filepath.Join(dir, "rules", ruleFile)); !bytes.Equal(got, shipped) {
		t.Error("without DEMO_FOR the rules differ from the shipped ones")
	}
	ship := demoForDurations(t, ruleFile)
	for _, c := range []struct {
		demoFor string
		want    map[string]string // alerts not named: want the default
		def     string            // "" = as shipped
	}{
		{"30s", map[string]string{"DashaSIPRegistrationFailing": "3m", "DashaSIPRegistrationFleetDegraded": "3m"}, "30s"},
		{"10s", map[string]string{"DashaSIPRegistrationFailing": "3m", "DashaSIPRegistrationFleetDegraded": "3m"}, "30s"},
		{"2m", map[string]string{"DashaSIPRegistrationFailing": "3m", "DashaSIPRegistrationFleetDegraded": "3m",
			"DashaSIPRegistrationExpiringSoon": "1m"}, "2m"},
		{"4m", map[string]string{"DashaSIPRegistrationFailing": "4m", "DashaSIPRegistrationFleetDegraded": "4m",
			"DashaSIPRegistrationExpiringSoon": "1m", "DashaSIPRegistrationExpired": "3m", "DashaSIPPhoneNumbersVanished": "1m"}, "4m"},
		{"1h", nil, ""},
	} {
		dir := demoConfig(t, "DEMO_FOR="+c.demoFor)
		path := filepath.Join(dir, "rules", ruleFile)
		runPromtool(t, "check", "rules", path)
		got := demoForDurations(t, path)
		if len(got) != len(ship) {
			t.Errorf("DEMO_FOR=%s: %d alerts, shipped %d", c.demoFor, len(got), len(ship))
		}
		for alert, shippedFor := range ship {
			want, ok := c.want[alert]
			if !ok {
				want = c.def
			}
			if want == "" || (c.def != "" && !ok && shorterThan(shippedFor, want)) {
				want = shippedFor
			}
			if got[alert] != want {
				t.Errorf("DEMO_FOR=%s: %s for: %s, want %s (shipped %s)", c.demoFor, alert, got[alert], want, shippedFor)
			}
		}
		// Nothing but the `for:` lines changes.
		strip := regexp.MustCompile(`(?m)^(\s+for: )[0-9]+[smhd]$`)
		data, _ := os.ReadFile(path)
		if strip.ReplaceAllString(string(data), "${1}X") != strip.ReplaceAllString(string(shipped), "${1}X") {
			t.Errorf("DEMO_FOR=%s changed more than the for: lines", c.demoFor)
		}
	}
}

// shorterThan compares two single-unit durations (30s, 5m, 1h).
func shorterThan(a, b string) bool {
	secs := func(d string) int {
		n := 0
		for _, r := range d[:len(d)-1] {
			n = n*10 + int(r-'0')
		}
		return n * map[byte]int{'s': 1, 'm': 60, 'h': 3600, 'd': 86400}[d[len(d)-1]]
	}
	return secs(a) < secs(b)
}

// demoSeries turns the demo fleet (internal/fakeapi.Demo) into promtool
// input series as the exporter would export them (the families the rules
// read), scraped every 15s for the given duration from base. Timestamps are
// relative to base, so that promtool's time 0 is base.
func demoSeries(base time.Time, d time.Duration) []map[string]string {
	const step = 15 * time.Second
	steps := int(d / step)
	values := map[string][]string{} // series -> one value per step
	var order []string
	set := func(series string, i int, v string) {
		vs, ok := values[series]
		if !ok {
			vs = make([]string, steps)
			for j := range vs {
				vs[j] = "_"
			}
			values[series] = vs
			order = append(order, series)
		}
		vs[i] = v
	}
	ts := func(s *string) (float64, bool) {
		if s == nil {
			return 0, false
		}
		t, err := time.Parse(time.RFC3339, *s)
		if err != nil {
			panic(err)
		}
		return t.Sub(base).Seconds(), true
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	target := `instance="127.0.0.1:9612",job="dasha"`
	for i := 0; i < steps; i++ {
		now := base.Add(time.Duration(i) * step)
		fleet := fakeapi.Demo(now)
		set(`up{`+target+`}`, i, "1")
		set(`dasha_up{`+target+`}`, i, "1")
		set(`dasha_sip_phone_numbers{`+target+`}`, i, strconv.Itoa(len(fleet)))
		for _, n := range fleet {
			sel := fmt.Sprintf(`id=%q,phone_number=%q,%s`, n.ID, n.PhoneNumber, target)
			str := func(s *string) string {
				if s == nil {
					return ""
				}
				return *s
			}
			set(fmt.Sprintf(`dasha_sip_phone_number_info{%s,display_name=%q,provider_id=%q}`, sel, str(n.DisplayName), str(n.ProviderID)), i, "1")
			if c, ok := ts(&n.CreatedTime); ok {
				set(`dasha_sip_phone_number_created_timestamp_seconds{`+sel+`}`, i, f(c))
			}
			enabled := "0"
			if n.Registration {
				enabled = "1"
			}
			set(`dasha_sip_registration_enabled{`+sel+`}`, i, enabled)
			st := n.RegistrationStatus
			if st == nil {
				st = &fakeapi.Status{}
			}
			state := "Unknown"
			if st.State != nil {
				state = *st.State
			}
			set(fmt.Sprintf(`dasha_sip_registration_state{%s,state=%q}`, sel, state), i, "1")
			if n.Registration {
				healthy := "0"
				if state == "Registered" && str(st.ErrorDescription) == "" {
					healthy = "1"
				}
				set(`dasha_sip_registration_healthy{`+sel+`}`, i, healthy)
			}
			if e, ok := ts(st.ExpiresAt); ok {
				set(`dasha_sip_registration_expires_timestamp_seconds{`+sel+`}`, i, f(e))
				set(`dasha_sip_registration_expiry_seconds{`+sel+`}`, i, f(e-now.Sub(base).Seconds()))
			}
			if u, ok := ts(st.LastUpdated); ok {
				set(`dasha_sip_registration_last_updated_timestamp_seconds{`+sel+`}`, i, f(u))
			}
		}
	}
	series := make([]map[string]string, 0, len(order))
	for _, s := range order {
		// A series that leaves a scrape is marked stale, as Prometheus does.
		vs := values[s]
		for i := len(vs) - 1; i > 0; i-- {
			if vs[i] == "_" && vs[i-1] != "_" {
				vs[i] = "stale"
			}
		}
		series = append(series, map[string]string{"series": s, "values": strings.Join(vs, " ")})
	}
	return series
}

// TestDemoFleetPagesOnlyForFailures runs the rules, as shipped and as
// `make demo-stack` runs them with DEMO_FOR=30s, over 90 minutes of the demo
// fleet (promtool test rules, evaluated every 15s like the stack): the
// fleet's normal behaviour never fires an alert (Pharmacy re-registering)
// or only Flapping (Flaky trunk's flaps), and
// FleetDegraded fires only while Partner hotline is down; the real failures
// do page (the test would pass vacuously otherwise).
func TestDemoFleetPagesOnlyForFailures(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) // on every cycle of the fleet: Partner hotline is down 0-15m and 30-45m
	input := demoSeries(base, 90*time.Minute)           // Pharmacy re-registers at 22m and 82m
	const (
		pharmacy, flaky, legacy = `+14155550118`, `+14155550122`, `+14155550119`
		firing                  = `alertstate="firing"`
	)
	type sample struct {
		Labels string  `yaml:"labels,omitempty"`
		Value  float64 `yaml:"value"`
	}
	type exprTest struct {
		Expr       string   `yaml:"expr"`
		EvalTime   string   `yaml:"eval_time"`
		ExpSamples []sample `yaml:"exp_samples"`
	}
	none := []sample{}
	one := []sample{{Value: 1}}
	tests := []exprTest{
		// Normal behaviour: nothing for Pharmacy's re-registration, nothing
		// but Flapping for Flaky trunk, ever.
		{fmt.Sprintf(`count_over_time(ALERTS{%s,phone_number="%s"}[90m])`, firing, pharmacy), "90m", none},
		{fmt.Sprintf(`count_over_time(ALERTS{%s,phone_number="%s",alertname!="DashaSIPRegistrationFlapping"}[90m])`, firing, flaky), "90m", none},
		// FleetDegraded: not from 2 minutes after Partner hotline is back until it is down again.
		{`count_over_time(ALERTS{` + firing + `,alertname="DashaSIPRegistrationFleetDegraded"}[13m])`, "30m", none},
		{`count_over_time(ALERTS{` + firing + `,alertname="DashaSIPRegistrationFleetDegraded"}[13m])`, "60m", none},
		{`count_over_time(ALERTS{` + firing + `,alertname="DashaSIPRegistrationFleetDegraded"}[13m])`, "90m", none},
		// The controls: Partner hotline's outage degrades the fleet, Legacy
		// PBX fails, Flaky trunk is flapping.
		{`count(count_over_time(ALERTS{` + firing + `,alertname="DashaSIPRegistrationFleetDegraded"}[15m]))`, "15m", one},
		{fmt.Sprintf(`count(ALERTS{%s,alertname="DashaSIPRegistrationFailing",phone_number="%s",severity="critical"})`, firing, legacy), "10m", one},
		{fmt.Sprintf(`count(ALERTS{%s,alertname="DashaSIPRegistrationFlapping",phone_number="%s"})`, firing, flaky), "30m", one},
	}
	for _, demoFor := range []string{"", "30s"} {
		t.Run("DEMO_FOR="+demoFor, func(t *testing.T) {
			var env []string
			if demoFor != "" {
				env = append(env, "DEMO_FOR="+demoFor)
			}
			dir := demoConfig(t, env...)
			doc := map[string]any{
				"rule_files":          []string{filepath.Join(dir, "rules", ruleFile), filepath.Join(dir, "rules", "demo-provider-names.rules.yml")},
				"evaluation_interval": "15s",
				"tests": []map[string]any{{
					"interval":         "15s",
					"input_series":     input,
					"promql_expr_test": tests,
				}},
			}
			data, err := yaml.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "demo_fleet_test.yml")
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			runPromtool(t, "test", "rules", path)
		})
	}
}
