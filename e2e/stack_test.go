package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/dasha-exporter/dasha_exporter/internal/testtools"
)

// stack is what the end-to-end tests share to start a real Prometheus and
// Alertmanager: the tools found, the module root (for the shipped rules)
// and the test's temporary directory.
type stack struct {
	prometheus, promtool, alertmanager string
	root, dir                          string
}

// newStack skips the test in -short mode (unless tools are required),
// finds Prometheus and promtool, and Alertmanager when the test sends
// alerts, and makes the test's temporary directory.
func newStack(t *testing.T, withAlertmanager bool) stack {
	t.Helper()
	if testing.Short() && !testtools.Required() { // CI never skips it
		t.Skip("end-to-end test skipped in -short mode")
	}
	s := stack{
		prometheus: testtools.Find(t, "prometheus"),
		promtool:   testtools.Find(t, "promtool"),
	}
	if withAlertmanager {
		s.alertmanager = testtools.Find(t, "prometheus-alertmanager", "alertmanager")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root %s has no go.mod: %v", root, err)
	}
	s.root, s.dir = root, t.TempDir()
	return s
}

// startExporter starts the exporter built at bin, with env added to ours and
// args to its listen address, and returns its address and process once it
// is ready.
func (s stack) startExporter(t *testing.T, bin string, env []string, args ...string) (string, *proc) {
	t.Helper()
	addr := freeAddr(t)
	p := startProc(t, "exporter", s.dir, env, bin, append([]string{"--web.listen-address=" + addr}, args...)...)
	waitReady(t, p, "http://"+addr+"/-/ready", 20*time.Second)
	return addr, p
}

// startAlertmanager starts Alertmanager in dir/alertmanager with config (the
// text of its alertmanager.yml) and args added to the usual ones, and returns
// its address once it is ready.
func (s stack) startAlertmanager(t *testing.T, config string, args ...string) string {
	t.Helper()
	addr := freeAddr(t)
	dir := filepath.Join(s.dir, "alertmanager")
	mustMkdir(t, dir)
	path := filepath.Join(dir, "alertmanager.yml")
	writeFile(t, path, config)
	am := startProc(t, "alertmanager", s.dir, nil, s.alertmanager, append([]string{
		"--config.file=" + path,
		"--storage.path=" + filepath.Join(dir, "data"),
		"--web.listen-address=" + addr,
		"--cluster.listen-address=", // no gossip
	}, args...)...)
	waitReady(t, am, "http://"+addr+"/-/ready", 20*time.Second)
	return addr
}

// promSetup is what differs between the tests' Prometheus servers.
type promSetup struct {
	// interval is the scrape and evaluation interval, and the scrape timeout.
	interval string
	// alertmanager is the address alerts go to; "" sends them nowhere.
	alertmanager string
	// scrapeConfigs is the YAML list under scrape_configs.
	scrapeConfigs string
}

// startPrometheus starts Prometheus in dir/prometheus with a copy of the
// shipped rules whose for: are shortened (see copyRules) and the setup p,
// both checked with promtool first, and returns a client once it is ready.
func (s stack) startPrometheus(t *testing.T, p promSetup) *promClient {
	t.Helper()
	dir := filepath.Join(s.dir, "prometheus")
	ruleDir := filepath.Join(dir, "rules")
	mustMkdir(t, ruleDir)
	copyRules(t, filepath.Join(s.root, "alerts"), ruleDir)
	checkRules(t, s.promtool, ruleDir)
	config := fmt.Sprintf(`global:
  scrape_interval: %[1]s
  scrape_timeout: %[1]s
  evaluation_interval: %[1]s
rule_files:
  - %[2]q
`, p.interval, filepath.Join(ruleDir, "*.yml"))
	if p.alertmanager != "" {
		config += fmt.Sprintf(`alerting:
  alertmanagers:
    - static_configs:
        - targets: [%q]
`, p.alertmanager)
	}
	config += "scrape_configs:\n" + p.scrapeConfigs
	path := filepath.Join(dir, "prometheus.yml")
	writeFile(t, path, config)
	if out, err := exec.Command(s.promtool, "check", "config", path).CombinedOutput(); err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
	addr := freeAddr(t)
	prom := startProc(t, "prometheus", s.dir, nil, s.prometheus,
		"--config.file="+path,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr)
	waitReady(t, prom, "http://"+addr+"/-/ready", 30*time.Second)
	return &promClient{base: "http://" + addr}
}

// scrapeOne is a scrape_configs list of one job scraping target's /metrics.
func scrapeOne(job, target string) string {
	return fmt.Sprintf(`  - job_name: %s
    static_configs:
      - targets: [%q]
`, job, target)
}
