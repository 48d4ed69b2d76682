package e2e

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dasha-exporter/dasha_exporter/internal/fakeapi"
)

// exampleExporter is the exporter address alerts/examples/prometheus.yml
// uses; the test puts the real one in its place.
const exampleExporter = "localhost:9612"

// TestAccountsEndToEnd runs the real binary with a configuration file of two
// accounts on two fake platforms (each refusing the other's key), scraped by
// a real Prometheus through the relabel configuration of
// alerts/examples/prometheus.yml, with the shipped rules. One number fails
// on one platform: the per-number alert fires for that account only. Then
// the file is reloaded by SIGHUP and POST /-/reload, good and bad.
func TestAccountsEndToEnd(t *testing.T) {
	st := newStack(t, false)
	start := time.Now()
	root, tmp, promtool := st.root, st.dir, st.promtool

	// Two platforms, one key each; the fleet of the other e2e test on both.
	us := fakeapi.New("us-key", fleet(time.Now()))
	usSrv := httptest.NewServer(us)
	t.Cleanup(usSrv.Close)
	ru := fakeapi.New("ru-key", fleet(time.Now()))
	ruSrv := httptest.NewServer(ru)
	t.Cleanup(ruSrv.Close)

	exporterBin := buildExporter(t, root, tmp)
	keyFile := filepath.Join(tmp, "acme-us.key")
	writeFile(t, keyFile, "us-key\n")
	config := filepath.Join(tmp, "dasha.yml")
	accountsYAML := func(extra string) string {
		return fmt.Sprintf(`accounts:
  acme-us:
    url: %s
    api_key_file: acme-us.key   # relative to this file
  acme-ru:
    url: %s
    api_key_env: ACME_RU_KEY
%s`, usSrv.URL, ruSrv.URL, extra)
	}
	writeFile(t, config, accountsYAML(""))
	env := []string{"ACME_RU_KEY=ru-key", "DASHA_API_KEY=", "DASHA_URL="}

	t.Run("ConfigCheck", func(t *testing.T) {
		// ACME_RU_KEY is not set for the check: a warning, exit 0.
		out, err := exec.Command(exporterBin, "--config.check", "--config.file="+config).CombinedOutput()
		if err != nil || !strings.Contains(string(out), `account "acme-ru": api_key_env ACME_RU_KEY: the environment variable is not set or empty`) || !strings.Contains(string(out), ": OK") {
			t.Errorf("--config.check of the good file: %v\n%s", err, out)
		}
		bad := filepath.Join(tmp, "bad.yml")
		writeFile(t, bad, accountsYAML("  acme-us:\n    platform: us\n"))
		out, err = exec.Command(exporterBin, "--config.check", "--config.file="+bad).CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), `line 8: account "acme-us" is defined twice (first at line 2)`) {
			t.Errorf("--config.check of a bad file: %v\n%s", err, out)
		}
	})

	expAddr, exporter := st.startExporter(t, exporterBin, env,
		"--config.file="+config, "--log.level=debug", "--dasha.timeout-offset=100ms")
	base := "http://" + expAddr

	// A URL-shaped target reaches no API.
	before := us.Requests() + ru.Requests()
	for _, target := range []string{usSrv.URL, strings.TrimPrefix(ruSrv.URL, "http://"), "nobody"} {
		code, body := httpGet(t, base+"/probe?target="+url.QueryEscape(target))
		if code != http.StatusBadRequest {
			t.Errorf("probe of target %q: %d %s, want 400", target, code, body)
		}
	}
	if n := us.Requests() + ru.Requests() - before; n != 0 {
		t.Errorf("bad targets sent %d requests to the fake APIs", n)
	}

	// Prometheus, with the example configuration's scrape jobs and
	// relabelling, pointed at this exporter.
	pc := st.startPrometheus(t, promSetup{interval: "1s",
		scrapeConfigs: exampleScrapeConfigs(t, filepath.Join(root, "alerts", "examples", "prometheus.yml"), expAddr)})

	waitFor(t, 30*time.Second, "both accounts scraped through /probe", func() (bool, string) {
		for _, account := range []string{"acme-us", "acme-ru"} {
			n, err := pc.scalar(fmt.Sprintf(`dasha_sip_phone_numbers{job=%q,instance=%q,exporter=%q}`, jobName, account, expAddr))
			if err != nil || n != fleetSize {
				return false, fmt.Sprintf("%s: dasha_sip_phone_numbers = %v (%v), want %d", account, n, err, fleetSize)
			}
		}
		for _, expr := range []string{
			`up{job="dasha_exporter"}`,
			`dasha_exporter_config_last_reload_successful{job="dasha_exporter"}`,
			`sum(dasha_api_requests_total{job="dasha_exporter",account="acme-ru",code="200"}) > bool 0`,
			`sum(dasha_api_requests_total{job="dasha_exporter",account="acme-us",code="200"}) > bool 0`,
		} {
			if v, err := pc.scalar(expr); err != nil || v != 1 {
				return false, fmt.Sprintf("%s = %v (%v), want 1", expr, v, err)
			}
		}
		return true, ""
	})
	t.Logf("both accounts scraped after %v", time.Since(start).Round(time.Millisecond))
	// The exporter's own metrics are on /metrics only, not in probes.
	if v, err := pc.scalar(`count(go_goroutines{job="dasha"}) or vector(0)`); err != nil || v != 0 {
		t.Errorf("probes carry the exporter's own metrics: %v %v", v, err)
	}

	// Both probes are up: DashaExporterDown's expression holds nothing,
	// neither per account nor per exporter.
	t.Run("ExporterDownQuiet", func(t *testing.T) {
		expr := alertExpr(t, filepath.Join(root, "alerts", "dasha_exporter.rules.yml"), "DashaExporterDown")
		if r, err := pc.instant(expr); err != nil || !r.empty() {
			t.Errorf("DashaExporterDown's expression with both probes up: %+v (%v)\nexpr: %s", r.Samples, err, expr)
		}
	})

	// The dashboard's panels of the exporter's own metrics find them under
	// job dasha_exporter, for all accounts and for one.
	t.Run("DashboardExporterPanels", func(t *testing.T) {
		exprs := panelExprs(t, filepath.Join(root, "dashboards", "dasha-sip-registrations.json"),
			"API requests by status", "API request latency", "Exporter version")
		for _, instance := range []string{".*", "acme-ru"} {
			for title, expr := range exprs {
				expr = strings.NewReplacer("$job", jobName, "$instance", instance, "$__rate_interval", "1m").Replace(expr)
				waitFor(t, 15*time.Second, fmt.Sprintf("%q with instance=~%q to have data", title, instance), func() (bool, string) {
					r, err := pc.instant(expr)
					if err != nil || r.empty() {
						return false, fmt.Sprintf("%v (%v)", r.Samples, err)
					}
					if title == "Exporter version" && (len(r.Samples) != 1 || r.Samples[0].Metric["instance"] != expAddr) {
						return false, fmt.Sprintf("%v, want this exporter's build info once", r.Samples)
					}
					return true, ""
				})
			}
		}
	})

	// One number fails on the RU platform only.
	failedAt := time.Now()
	if !ru.Update(targetID, func(n *fakeapi.Number) {
		n.RegistrationStatus.State = fakeapi.Ptr("Failed")
		n.RegistrationStatus.ErrorDescription = fakeapi.Ptr(failError)
		n.RegistrationStatus.SIPResponseMessage = fakeapi.Ptr(failSIP)
		n.RegistrationStatus.ExpiresAt = nil
	}) {
		t.Fatalf("fake API has no number %s", targetID)
	}
	t.Run("FailingAlertForOneAccount", func(t *testing.T) {
		var got *promAlert
		waitFor(t, alertDeadline, "DashaSIPRegistrationFailing firing for "+targetID+" on acme-ru", func() (bool, string) {
			alerts, err := pc.alerts()
			if err != nil {
				return false, err.Error()
			}
			for i, a := range alerts {
				if a.Labels["alertname"] == "DashaSIPRegistrationFailing" && a.Labels["id"] == targetID && a.Labels["instance"] == "acme-ru" && a.State == "firing" {
					got = &alerts[i]
					return true, ""
				}
			}
			return false, fmt.Sprintf("%d alerts", len(alerts))
		})
		t.Logf("DashaSIPRegistrationFailing fired %v after the failure: %v", time.Since(failedAt).Round(time.Millisecond), got.Labels)
		if got.Labels["exporter"] != expAddr || got.Labels["phone_number"] != targetPhone {
			t.Errorf("alert labels %v, want exporter=%s and phone_number=%s", got.Labels, expAddr, targetPhone)
		}
		// Never, at any point of the run, for the healthy account.
		r, err := pc.rangeQuery(fmt.Sprintf(`ALERTS{id=%q,instance="acme-us"}`, targetID), time.Since(start)+10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range r.Samples {
			t.Errorf("an alert for %s on the healthy account acme-us: %v", targetID, s.Metric)
		}
	})

	t.Run("PromtoolCheckMetrics", func(t *testing.T) {
		for _, path := range []string{"/probe?target=acme-ru", "/metrics"} {
			_, body := httpGet(t, base+path)
			cmd := exec.Command(promtool, "check", "metrics")
			cmd.Stdin = strings.NewReader(body)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("promtool check metrics %s: %v\n%s", path, err, out)
			}
		}
	})

	t.Run("ReloadBySIGHUP", func(t *testing.T) {
		writeFile(t, config, accountsYAML("  lab:\n    url: "+usSrv.URL+"\n    api_key_file: acme-us.key\n"))
		if err := exporter.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 20*time.Second, "the added account to answer", func() (bool, string) {
			code, body := httpGet(t, base+"/probe?target=lab")
			return code == http.StatusOK && strings.Contains(body, "dasha_up 1"), fmt.Sprintf("%d %.200s", code, body)
		})
	})

	t.Run("ReloadByPOST", func(t *testing.T) {
		writeFile(t, config, accountsYAML("  lab:\n    url: "+usSrv.URL+"\n"))
		code, body := httpPost(t, base+"/-/reload")
		if code != http.StatusInternalServerError || !strings.Contains(body, `account "lab": no API key source`) {
			t.Errorf("POST /-/reload of a bad file: %d %s", code, body)
		}
		if _, metrics := httpGet(t, base+"/metrics"); !strings.Contains(metrics, "dasha_exporter_config_last_reload_successful 0") {
			t.Error("a failed reload does not show in dasha_exporter_config_last_reload_successful")
		}
		if code, _ := httpGet(t, base+"/probe?target=lab"); code != http.StatusOK {
			t.Errorf("after a bad reload the running configuration does not answer: %d", code)
		}
		// Remove lab and acme-us: they stop answering; acme-ru goes on.
		writeFile(t, config, fmt.Sprintf("accounts:\n  acme-ru:\n    url: %s\n    api_key_env: ACME_RU_KEY\n", ruSrv.URL))
		if code, body := httpPost(t, base+"/-/reload"); code != http.StatusOK {
			t.Fatalf("POST /-/reload: %d %s", code, body)
		}
		for target, want := range map[string]int{"lab": 400, "acme-us": 400, "acme-ru": 200} {
			if code, body := httpGet(t, base+"/probe?target="+target); code != want {
				t.Errorf("after removing accounts, probe of %s: %d %.200s, want %d", target, code, body, want)
			}
		}
		if _, metrics := httpGet(t, base+"/metrics"); !strings.Contains(metrics, "dasha_exporter_config_last_reload_successful 1") || strings.Contains(metrics, `account="lab"`) {
			t.Errorf("after a good reload /metrics shows:\n%s", grepLines(metrics, "reload", `account="lab"`))
		}
	})
	t.Logf("accounts end-to-end test took %v", time.Since(start).Round(time.Millisecond))
}

// alertExpr returns the expression of the alert named in a rule file.
func alertExpr(t *testing.T, path, alert string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, g := range doc.Groups {
		for _, r := range g.Rules {
			if r.Alert == alert {
				return r.Expr
			}
		}
	}
	t.Fatalf("%s: no alert %s", path, alert)
	return ""
}

// panelExprs returns the first query of each titled panel of a dashboard.
func panelExprs(t *testing.T, path string, titles ...string) map[string]string {
	t.Helper()
	d := loadDashboard(t, path)
	found := map[string]string{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if len(p.Targets) > 0 {
				found[p.Title] = p.Targets[0].Expr
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	out := map[string]string{}
	for _, title := range titles {
		if found[title] == "" {
			t.Fatalf("%s: no panel %q", path, title)
		}
		out[title] = found[title]
	}
	return out
}

// exampleScrapeConfigs returns the scrape jobs of
// alerts/examples/prometheus.yml for this test: their relabelling as
// shipped, the exporter's address in place of the example's, and no
// intervals of their own (the test's Prometheus sets 1s for all). The rest
// of the example (global, rule_files, alerting) is the test's own.
func exampleScrapeConfigs(t *testing.T, path, exporter string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), exampleExporter) {
		t.Fatalf("%s no longer names the exporter as %s", path, exampleExporter)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(strings.ReplaceAll(string(b), exampleExporter, exporter)), &cfg); err != nil {
		t.Fatal(err)
	}
	for k := range cfg {
		switch k {
		case "global", "rule_files", "alerting", "scrape_configs":
		default:
			t.Fatalf("%s: the test's Prometheus does not carry over %s", path, k)
		}
	}
	jobs, _ := cfg["scrape_configs"].([]any)
	found := false
	for _, j := range jobs {
		job := j.(map[string]any)
		delete(job, "scrape_interval")
		delete(job, "scrape_timeout")
		if job["job_name"] == jobName {
			found = true
			if job["metrics_path"] != "/probe" {
				t.Fatalf("the example's job %s does not scrape /probe", jobName)
			}
		}
	}
	if !found {
		t.Fatalf("the example has no job %s", jobName)
	}
	out, err := yaml.Marshal(jobs)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func httpGet(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func httpPost(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Post(u, "text/plain", nil)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// grepLines returns the lines of s that contain any of subs.
func grepLines(s string, subs ...string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		for _, sub := range subs {
			if strings.Contains(line, sub) {
				out = append(out, line)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}
