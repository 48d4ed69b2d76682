// Package e2e runs dasha_exporter end to end: the real binary against the
// in-process fake Dasha API, scraped by a real Prometheus that loads the
// shipped alert rules and sends to a real Alertmanager, whose webhook
// notifications the test collects. It also runs every query of the shipped
// Grafana dashboards against that Prometheus and lints the live exposition
// with promtool. See docs/testing.md.
//
// Prometheus, promtool and Alertmanager are found with testtools.Find: a
// missing one skips the test on a developer machine and fails it when CI or
// DASHA_REQUIRE_TOOLS is set.
package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dasha-exporter/dasha_exporter/internal/fakeapi"
)

const (
	apiKey  = "e2e-key"
	jobName = "dasha" // the example scrape job the rules and dashboards assume

	// shortFor replaces every `for:` and `keep_firing_for:` duration in the
	// test's copy of the rule files, so that an alert fires seconds rather
	// than minutes after its condition holds. Long enough that the absent(up)
	// of DashaExporterDown, true for the moment before Prometheus' first
	// scrape, does not fire.
	shortFor = "3s"

	// alertDeadline bounds the wait for a notification.
	alertDeadline = 60 * time.Second
)

// forLineRE matches the `for:` and `keep_firing_for:` lines of a rule file
// (the rule file keeps each on a line of its own for this purpose). Only the
// duration is replaced; expressions and thresholds are left as shipped.
var forLineRE = regexp.MustCompile(`(?m)^([ \t]*)(for|keep_firing_for):[ \t]*["']?[0-9]+[0-9smhdwy]*["']?([ \t]*#.*)?[ \t]*$`)

// anyForLineRE finds every `for:`-like line, to make sure forLineRE missed none.
var anyForLineRE = regexp.MustCompile(`(?m)^[ \t]*(for|keep_firing_for):`)

// The fleet. Fixed ids and numbers so that failures are easy to read.
const (
	targetID    = "e2e00000-0000-4000-8000-000000000004" // healthy, then made to fail
	targetPhone = "+15550100004"
	expiringID  = "e2e00000-0000-4000-8000-000000000007" // Registering; its registration lapses in 8 min
	expiringPh  = "+15550100007"
	disabledID  = "e2e00000-0000-4000-8000-000000000008" // registration off: must never page
	disabledPh  = "+15550100008"
	failError   = "Registration rejected by registrar: 403 Forbidden"
	failSIP     = "SIP/2.0 403 Forbidden"
	// numHealthy numbers are healthy at the start: ids ...01 to ...06 (the
	// target among them) and ...09 to ...12. Ten of them, so that two
	// unhealthy numbers (the target and the expiring one) stay below
	// DashaSIPRegistrationFleetDegraded's 20 % (2 of 11).
	numHealthy   = 10
	fleetSize    = numHealthy + 2
	enabledCount = numHealthy + 1
)

// registrationLifetime is what the registrar grants the healthy numbers:
// the common one hour, so that expiry_seconds of a healthy number is always
// under 3600 (see docs/testing.md).
const registrationLifetime = time.Hour

// fleet returns the numbers the fake API serves at the start:
//   - ten healthy registered numbers (state Registered, 200 OK, registered
//     two minutes ago for the common one hour, so expiring 58 minutes ahead:
//     healthy and kept alive, so not "expiring" on the dashboards however
//     close to expiry; see docs/testing.md),
//   - one number stuck in state Registering whose last registration expires
//     in 8 minutes: it will lapse within the hour unless something changes,
//     the one number the dashboards count as expiring (it is also unhealthy,
//     so DashaSIPRegistrationFailing fires for it),
//   - one number with registration switched off (state Disabled) that also
//     carries an error, a 403 and an expiresAt two hours in the past: every
//     per-number alert condition holds for it except "registration on", so
//     it proves that disabled numbers never page.
func fleet(now time.Time) []fakeapi.Number {
	org := fakeapi.Ptr("org-e2e")
	provider := fakeapi.Ptr("0b6f3b5e-8f0c-4b8a-9a51-7d1f2c3e4aee")
	names := []string{"", "Support line", "Sales EMEA", "Billing", "Front desk", "Claims", "Returns", "Night line", "Old trunk",
		"Reception", "Deliveries", "Recruiting", "Sales US"}
	num := func(i int, registration bool, st *fakeapi.Status) fakeapi.Number {
		return fakeapi.Number{
			ID:                 fmt.Sprintf("e2e00000-0000-4000-8000-%012d", i),
			OrgID:              org,
			PhoneNumber:        fmt.Sprintf("+1555010%04d", i),
			CredentialsID:      fakeapi.Ptr(fmt.Sprintf("c7a1f0e2-0000-4000-8000-%012d", i)),
			CreatedTime:        "2025-01-15T09:00:00Z",
			LastUpdateTime:     "2025-01-15T09:00:00Z",
			RegistrationStatus: st,
			DisplayName:        fakeapi.Ptr(names[i]),
			Registration:       registration,
			ProviderID:         provider,
		}
	}
	var out []fakeapi.Number
	healthy := func(i int) fakeapi.Number {
		registered := now.Add(-2 * time.Minute)
		return num(i, true, &fakeapi.Status{
			State:              fakeapi.Ptr("Registered"),
			SIPResponseMessage: fakeapi.Ptr("SIP/2.0 200 OK"),
			LastUpdated:        fakeapi.Timestamp(registered),
			ExpiresAt:          fakeapi.Timestamp(registered.Add(registrationLifetime)),
		})
	}
	for i := 1; i <= 6; i++ {
		out = append(out, healthy(i))
	}
	// Registered 52 minutes ago for an hour; the re-registration started a
	// minute ago has had no answer yet.
	out = append(out, num(7, true, &fakeapi.Status{
		State:       fakeapi.Ptr("Registering"),
		LastUpdated: fakeapi.Timestamp(now.Add(-1 * time.Minute)),
		ExpiresAt:   fakeapi.Timestamp(now.Add(8 * time.Minute)),
	}))
	out = append(out, num(8, false, &fakeapi.Status{
		State:              fakeapi.Ptr("Disabled"),
		ErrorDescription:   fakeapi.Ptr("Registration disabled by the administrator after: 403 Forbidden"),
		SIPResponseMessage: fakeapi.Ptr(failSIP),
		LastUpdated:        fakeapi.Timestamp(now.Add(-3 * time.Hour)),
		ExpiresAt:          fakeapi.Timestamp(now.Add(-2 * time.Hour)),
	}))
	for i := 9; i < 9+numHealthy-6; i++ {
		out = append(out, healthy(i))
	}
	return out
}

func TestShortenFor(t *testing.T) {
	in := `groups:
  - name: g
    rules:
      - alert: A
        expr: up == 0 # for: 5m in a comment stays
        for: 5m
        keep_firing_for: 1h30m
      - alert: B
        expr: vector(1)
        for: "10m"   # quoted, with a comment
        labels:
          for: x
`
	want := `groups:
  - name: g
    rules:
      - alert: A
        expr: up == 0 # for: 5m in a comment stays
        for: ` + shortFor + `
        keep_firing_for: ` + shortFor + `
      - alert: B
        expr: vector(1)
        for: ` + shortFor + `
        labels:
          for: x
`
	out, n, all := shortenFor([]byte(in))
	if string(out) != want {
		t.Errorf("shortenFor:\n%s\nwant:\n%s", out, want)
	}
	// The label "for: x" is not a duration: the caller refuses such a file
	// rather than guess.
	if n != 3 || all != 4 {
		t.Errorf("rewrote %d of %d lines, want 3 of 4", n, all)
	}
	if err := sameButFor([]byte(in), out); err != nil {
		t.Errorf("sameButFor on a correct rewrite: %v", err)
	}
	// A line of a multi-line description that reads like a for: key is
	// rewritten by the line rule; the YAML comparison catches it.
	block := []byte("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up == 0\n        for: 5m\n        annotations:\n          description: |\n            pending\n            for: 5m\n")
	if short, _, _ := shortenFor(block); sameButFor(block, short) == nil {
		t.Errorf("sameButFor missed a rewritten line inside a block scalar:\n%s", short)
	}
}

func TestEndToEnd(t *testing.T) {
	st := newStack(t, true)
	start := time.Now()
	root, promtool := st.root, st.promtool

	// The fake Dasha API and the webhook receiver run in this process.
	fake := fakeapi.New(apiKey, fleet(time.Now()))
	apiSrv := httptest.NewServer(fake)
	t.Cleanup(apiSrv.Close)
	hook := &amSink{}
	hookSrv := httptest.NewServer(hook)
	t.Cleanup(hookSrv.Close)

	// 1. Build the exporter.
	exporterBin := buildExporter(t, root, st.dir)
	t.Logf("built exporter in %v", time.Since(start).Round(time.Millisecond))

	// 2. Start it against the fake, the key in the environment only.
	// Prometheus scrapes with a 1s timeout (below); the default
	// --dasha.timeout-offset of 0.5s would leave each listing only 0.5s, and
	// under -race on a loaded 2-core machine one slow listing answers
	// dasha_up 0, sets DashaAPIScrapeFailing (for: shortened to seconds)
	// pending and fails NoOtherAlerts. 100ms leaves 0.9s and still answers
	// within the scrape timeout.
	expAddr, _ := st.startExporter(t, exporterBin,
		[]string{"DASHA_URL=" + apiSrv.URL, "DASHA_API_KEY=" + apiKey},
		"--log.level=debug", "--dasha.timeout-offset=100ms")

	// 4. Alertmanager, sending everything to the webhook.
	amAddr := st.startAlertmanager(t, fmt.Sprintf(`route:
  receiver: e2e
  group_by: ['alertname', 'id']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: e2e
    webhook_configs:
      - url: %q
        send_resolved: true
`, hookSrv.URL+"/hook/e2e"), "--log.level=debug")

	// 3. Prometheus, with a copy of the rules whose for: are shortened.
	pc := st.startPrometheus(t, promSetup{interval: "1s", alertmanager: amAddr, scrapeConfigs: scrapeOne(jobName, expAddr)})
	t.Logf("exporter, Alertmanager and Prometheus ready after %v", time.Since(start).Round(time.Millisecond))

	// Wait until the whole fleet is scraped healthy and the recording rules
	// have seen it.
	waitFor(t, 30*time.Second, "the fleet to be scraped healthy", func() (bool, string) {
		n, err := pc.scalar(fmt.Sprintf(`sum(dasha_sip_phone_numbers{job=%q})`, jobName))
		if err != nil || n != fleetSize {
			return false, fmt.Sprintf("dasha_sip_phone_numbers = %v (%v), want %d", n, err, fleetSize)
		}
		h, err := pc.scalar(`count(dasha:sip_registration_healthy:last15m == 1)`)
		if err != nil || h != numHealthy {
			return false, fmt.Sprintf("healthy enabled numbers (recorded) = %v (%v), want %d", h, err, numHealthy)
		}
		return true, ""
	})
	t.Logf("fleet scraped healthy after %v", time.Since(start).Round(time.Millisecond))
	if alerts, err := pc.alerts(); err != nil {
		t.Fatalf("listing alerts: %v", err)
	} else if a := findAlert(alerts, "", targetID); a != nil {
		t.Fatalf("before the failure an alert already names %s: %v", targetID, a)
	}

	// 5. Make one number fail and wait for the page. The registrar rejected
	// it, so it holds no registration (expiresAt null, as for the failed
	// numbers of the demo fleet): it is failing, not expiring. (Had it kept a
	// valid registration it would rightly count as expiring too.)
	setFailed := func(id string) {
		t.Helper()
		if !fake.Update(id, func(n *fakeapi.Number) {
			n.RegistrationStatus.State = fakeapi.Ptr("Failed")
			n.RegistrationStatus.ErrorDescription = fakeapi.Ptr(failError)
			n.RegistrationStatus.SIPResponseMessage = fakeapi.Ptr(failSIP)
			n.RegistrationStatus.LastUpdated = fakeapi.Timestamp(time.Now())
			n.RegistrationStatus.ExpiresAt = nil
		}) {
			t.Fatalf("fake API has no number %s", id)
		}
	}
	failedAt := time.Now()
	setFailed(targetID)

	t.Run("FailingAlertNotified", func(t *testing.T) {
		var got *webhookAlert
		waitFor(t, alertDeadline, "a firing DashaSIPRegistrationFailing notification for "+targetID, func() (bool, string) {
			got = hook.find("DashaSIPRegistrationFailing", targetID, "firing")
			if got != nil {
				return true, ""
			}
			return false, "received so far: " + hook.summary()
		})
		t.Logf("DashaSIPRegistrationFailing notified %v after the failure", time.Since(failedAt).Round(time.Millisecond))
		if got.Labels["phone_number"] != targetPhone {
			t.Errorf("label phone_number = %q, want %q", got.Labels["phone_number"], targetPhone)
		}
		if got.Labels["severity"] != "critical" {
			t.Errorf("label severity = %q, want critical", got.Labels["severity"])
		}
		desc := got.Annotations["description"]
		for _, want := range []string{targetPhone, "Failed", "403"} {
			if !strings.Contains(desc, want) {
				t.Errorf("description does not mention %q:\n%s", want, desc)
			}
		}
		if got.Annotations["summary"] == "" || got.Annotations["runbook_url"] == "" {
			t.Errorf("summary or runbook_url annotation empty: %v", got.Annotations)
		}
		t.Logf("description: %s", desc)
	})

	// 6. Every dashboard query has data on this fleet (one failing, one
	// expiring, one disabled number, ten healthy ones within an hour of
	// expiry).
	t.Run("DashboardQueries", func(t *testing.T) {
		checkDashboards(t, pc, filepath.Join(root, "dashboards"))
	})

	// 7. The exposition passes promtool check metrics.
	t.Run("PromtoolCheckMetrics", func(t *testing.T) {
		checkMetrics(t, promtool, "http://"+expAddr+"/metrics")
	})

	// Recovery: the number registers again and the alert resolves.
	setHealthy := func(id string) {
		t.Helper()
		if !fake.Update(id, func(n *fakeapi.Number) {
			now := time.Now()
			n.RegistrationStatus = &fakeapi.Status{
				State:              fakeapi.Ptr("Registered"),
				SIPResponseMessage: fakeapi.Ptr("SIP/2.0 200 OK"),
				LastUpdated:        fakeapi.Timestamp(now),
				ExpiresAt:          fakeapi.Timestamp(now.Add(registrationLifetime)),
			}
		}) {
			t.Fatalf("fake API has no number %s", id)
		}
	}
	setHealthy(targetID)
	t.Run("FailingAlertResolved", func(t *testing.T) {
		recoveredAt := time.Now()
		waitFor(t, alertDeadline, "a resolved DashaSIPRegistrationFailing notification for "+targetID, func() (bool, string) {
			if hook.find("DashaSIPRegistrationFailing", targetID, "resolved") != nil {
				return true, ""
			}
			return false, "received so far: " + hook.summary()
		})
		t.Logf("DashaSIPRegistrationFailing resolved %v after the recovery", time.Since(recoveredAt).Round(time.Millisecond))
	})

	// Expired: the expiring number's expiresAt passes without a refresh.
	// Flapping: the target fails and recovers once more, which makes four
	// health changes within the rule's (unshortened) 30m window; each state
	// is held until Prometheus has scraped it, and the failure is shorter
	// than the shortened for:, so DashaSIPRegistrationFailing does not fire
	// again.
	expiredAt := time.Now()
	if !fake.Update(expiringID, func(n *fakeapi.Number) {
		n.RegistrationStatus.ExpiresAt = fakeapi.Timestamp(expiredAt.Add(-30 * time.Second))
	}) {
		t.Fatalf("fake API has no number %s", expiringID)
	}
	healthyIs := func(want float64) func() (bool, string) {
		return func() (bool, string) {
			v, err := pc.scalar(fmt.Sprintf(`dasha_sip_registration_healthy{id=%q}`, targetID))
			return err == nil && v == want, fmt.Sprintf("healthy = %v (%v), want %v", v, err, want)
		}
	}
	setFailed(targetID)
	waitFor(t, 20*time.Second, "Prometheus to scrape the second failure", healthyIs(0))
	setHealthy(targetID)
	waitFor(t, 20*time.Second, "Prometheus to scrape the second recovery", healthyIs(1))

	t.Run("ExpiredAlertNotified", func(t *testing.T) {
		var got *webhookAlert
		waitFor(t, alertDeadline, "a firing DashaSIPRegistrationExpired notification for "+expiringID, func() (bool, string) {
			got = hook.find("DashaSIPRegistrationExpired", expiringID, "firing")
			return got != nil, "received so far: " + hook.summary()
		})
		t.Logf("DashaSIPRegistrationExpired notified %v after expiresAt was moved into the past", time.Since(expiredAt).Round(time.Millisecond))
		if got.Labels["phone_number"] != expiringPh {
			t.Errorf("label phone_number = %q, want %q", got.Labels["phone_number"], expiringPh)
		}
		if desc := got.Annotations["description"]; !strings.Contains(desc, expiringPh) || !strings.Contains(desc, "Registering") {
			t.Errorf("description does not mention the number %s and its state Registering:\n%s", expiringPh, desc)
		}
	})
	t.Run("FlappingAlertNotified", func(t *testing.T) {
		var got *webhookAlert
		waitFor(t, alertDeadline, "a firing DashaSIPRegistrationFlapping notification for "+targetID, func() (bool, string) {
			got = hook.find("DashaSIPRegistrationFlapping", targetID, "firing")
			return got != nil, "received so far: " + hook.summary()
		})
		if got.Labels["phone_number"] != targetPhone {
			t.Errorf("label phone_number = %q, want %q", got.Labels["phone_number"], targetPhone)
		}
		if desc := got.Annotations["description"]; !strings.Contains(desc, targetPhone) {
			t.Errorf("description does not mention the number %s:\n%s", targetPhone, desc)
		}
	})

	// 5 (continued). The disabled number never pages. By now every rule
	// has been evaluated for many times its shortened for: on a fleet in
	// which the disabled number met every other condition of the per-number
	// alerts (checked here), so an alert for it would have fired and been
	// notified.
	t.Run("DisabledNeverNotified", func(t *testing.T) {
		for expr, want := range map[string]float64{
			`dasha_sip_registration_enabled{id="` + disabledID + `"}`:                         0,
			`dasha_sip_registration_error{id="` + disabledID + `"}`:                           1,
			`dasha_sip_registration_sip_response_code{id="` + disabledID + `"}`:               403,
			`dasha:sip_registration_expiry_seconds:last15m{id="` + disabledID + `"} < bool 0`: 1,
			`count(dasha_sip_registration_healthy{id="` + disabledID + `"}) or vector(0)`:     0,
		} {
			v, err := pc.scalar(expr)
			if err != nil || v != want {
				t.Errorf("precondition: %s = %v (%v), want %v", expr, v, err, want)
			}
		}
		for _, n := range hook.all() {
			for _, s := range []string{disabledID, disabledPh} {
				if bytes.Contains(n, []byte(s)) {
					t.Errorf("a notification names the disabled number (%s):\n%s", s, n)
				}
			}
		}
		alerts, err := pc.alerts()
		if err != nil {
			t.Fatalf("listing alerts: %v", err)
		}
		if a := findAlert(alerts, "", disabledID); a != nil {
			t.Errorf("Prometheus has an alert for the disabled number %s: %v", disabledID, a)
		}
	})

	// Nothing else went pending or fired at any point: Prometheus' ALERTS
	// series hold every pending and firing alert of the whole run.
	t.Run("NoOtherAlerts", func(t *testing.T) {
		allowed := map[[2]string]bool{
			{"DashaSIPRegistrationFailing", targetID}:   true,
			{"DashaSIPRegistrationFlapping", targetID}:  true,
			{"DashaSIPRegistrationExpired", expiringID}: true,
			// Stuck in Registering from the start: unhealthy, so it pages
			// as failing (after the shortened for:).
			{"DashaSIPRegistrationFailing", expiringID}: true,
			// absent(up) holds until Prometheus' first scrape, which its
			// scrape manager starts up to 5s after start-up; with for:
			// shortened to seconds this can fire for a moment.
			{"DashaExporterDown", ""}: true,
		}
		r, err := pc.rangeQuery(`ALERTS`, time.Since(start)+10*time.Second)
		if err != nil {
			t.Fatalf("querying ALERTS: %v", err)
		}
		for _, s := range r.Samples {
			if !allowed[[2]string{s.Metric["alertname"], s.Metric["id"]}] {
				t.Errorf("unexpected alert during the run: %v", s.Metric)
			}
			if s.Metric["alertname"] == "DashaExporterDown" {
				t.Logf("NOTE: %v at startup (%d samples)", s.Metric, len(s.Values))
			}
		}
	})
	t.Logf("notifications received: %s", hook.summary())
	t.Logf("end-to-end test took %v", time.Since(start).Round(time.Millisecond))
}

// buildExporter builds the module root's main package into dir.
func buildExporter(t *testing.T, root, dir string) string {
	t.Helper()
	// go test puts its own GOROOT/bin first on PATH (runtime.GOROOT is
	// deprecated, SA1019).
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go is not on PATH: %v", err)
	}
	out := filepath.Join(dir, "dasha_exporter")
	cmd := exec.Command(goBin, "build", "-o", out, ".")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build of the exporter in %s: %v\n%s", root, err, b)
	}
	return out
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func mustMkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// copyRules copies alerts/*.yml (and *.yaml) into dir, rewriting every
// `for:` and `keep_firing_for:` line to shortFor. Nothing else changes.
func copyRules(t *testing.T, from, dir string) {
	t.Helper()
	var files []string
	for _, pat := range []string{"*.yml", "*.yaml"} {
		m, err := filepath.Glob(filepath.Join(from, pat))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatalf("no rule files in %s", from)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out, n, all := shortenFor(b)
		if n != all {
			t.Fatalf("%s: %d for:/keep_firing_for: lines, but only %d have the form `for: <duration>` the test can shorten", f, all, n)
		}
		if err := sameButFor(b, out); err != nil {
			t.Fatalf("%s: the shortened copy differs from the original in more than for:/keep_firing_for: durations: %v", f, err)
		}
		t.Logf("%s: shortened %d for:/keep_firing_for: durations to %s", filepath.Base(f), n, shortFor)
		name := strings.TrimSuffix(filepath.Base(f), filepath.Ext(f)) + ".yml"
		writeFile(t, filepath.Join(dir, name), string(out))
	}
}

// shortenFor rewrites every `for: <duration>` and `keep_firing_for:
// <duration>` line of a rule file to shortFor, keeping the indentation and
// dropping a trailing comment. It returns how many lines it rewrote and how
// many for:/keep_firing_for: lines there are in all.
func shortenFor(b []byte) (out []byte, rewritten, all int) {
	all = len(anyForLineRE.FindAll(b, -1))
	out = forLineRE.ReplaceAllFunc(b, func(line []byte) []byte {
		rewritten++
		m := forLineRE.FindSubmatch(line)
		return []byte(string(m[1]) + string(m[2]) + ": " + shortFor)
	})
	return out, rewritten, all
}

// sameButFor parses both rule files with a YAML library and reports where
// they differ other than in the values of rules' for: and keep_firing_for:
// keys. The line rewrite cannot tell a `for:` key from a line of a
// multi-line string (an expr or a description) that happens to read
// `for: 5m`; this catches that.
func sameButFor(orig, short []byte) error {
	var a, b any
	if err := yaml.Unmarshal(orig, &a); err != nil {
		return fmt.Errorf("original: %v", err)
	}
	if err := yaml.Unmarshal(short, &b); err != nil {
		return fmt.Errorf("copy: %v", err)
	}
	return yamlDiff("", a, b)
}

func yamlDiff(path string, a, b any) error {
	switch a := a.(type) {
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok || len(a) != len(bm) {
			return fmt.Errorf("%s: %v became %v", path, a, b)
		}
		for k, av := range a {
			bv, ok := bm[k]
			if !ok {
				return fmt.Errorf("%s: key %q lost", path, k)
			}
			if k == "for" || k == "keep_firing_for" {
				if _, isRule := a["expr"]; isRule {
					if s, ok := bv.(string); !ok || s != shortFor {
						return fmt.Errorf("%s.%s: %v, want %s", path, k, bv, shortFor)
					}
					continue
				}
			}
			if err := yamlDiff(path+"."+k, av, bv); err != nil {
				return err
			}
		}
		return nil
	case []any:
		bl, ok := b.([]any)
		if !ok || len(a) != len(bl) {
			return fmt.Errorf("%s: %v became %v", path, a, b)
		}
		for i := range a {
			if err := yamlDiff(fmt.Sprintf("%s[%d]", path, i), a[i], bl[i]); err != nil {
				return err
			}
		}
		return nil
	default:
		if a != b {
			return fmt.Errorf("%s: %q became %q", path, a, b)
		}
		return nil
	}
}

// checkRules runs promtool check rules on the shortened copies, so that a
// rewriting mistake shows as such rather than as a Prometheus that will not
// start.
func checkRules(t *testing.T, promtool, dir string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.yml"))
	out, err := exec.Command(promtool, append([]string{"check", "rules"}, files...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules on the shortened copy: %v\n%s", err, out)
	}
}

// checkMetrics fetches the exposition and runs promtool check metrics on it.
func checkMetrics(t *testing.T, promtool, metricsURL string) {
	t.Helper()
	resp, err := http.Get(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", metricsURL, resp.StatusCode, err)
	}
	for _, s := range []string{targetID, disabledID, expiringID} {
		if !bytes.Contains(body, []byte(s)) {
			t.Errorf("exposition has no series for %s", s)
		}
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// proc is a child process whose output goes to a log file.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error // set before done is closed
}

// startProc starts bin with args (and env added to ours) and arranges for it
// to be stopped, and for its log tail to be shown if the test failed.
func startProc(t *testing.T, name, dir string, env []string, bin string, args ...string) *proc {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = f
	cmd.Stderr = f
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("starting %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		// Stop this one process, by its own pid: SIGTERM, then SIGKILL.
		select {
		case <-p.done:
		default:
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-p.done
			}
		}
		if t.Failed() {
			t.Logf("---- last lines of the %s log (%s) ----\n%s", name, logPath, tail(logPath, 40))
		}
	})
	return p
}

// exited reports whether the process has ended, and how.
func (p *proc) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// waitReady polls url until it answers 200, failing early if p exits.
func waitReady(t *testing.T, p *proc, url string, timeout time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		if done, err := p.exited(); done {
			t.Fatalf("%s exited before it was ready (%v); log:\n%s", p.name, err, tail(p.log, 40))
		}
		resp, err := client.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, bytes.TrimSpace(b))
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s not ready at %s within %v: %s", p.name, url, timeout, last)
}

// waitFor polls cond every 250ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s: %s", timeout, what, why)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// amNotification is what Alertmanager sends: the webhook payload (with the
// group key and every alert), or a Slack-style message rendered from
// dasha.tmpl.
type amNotification struct {
	Receiver string
	At       time.Time
	// Webhook.
	GroupKey string         `json:"groupKey"`
	Status   string         `json:"status"`
	Alerts   []webhookAlert `json:"alerts"`
	Raw      []byte         `json:"-"` // the body as sent
	// Slack.
	Attachments []struct {
		Title string `json:"title"`
		Text  string `json:"text"`
	} `json:"attachments"`
}

// amSink collects the notifications of every receiver: /hook/<receiver>
// takes the webhook integration, /slack/<receiver> the Slack one.
type amSink struct {
	mu    sync.Mutex
	hooks []amNotification
	texts []amNotification
}

func (s *amSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var n amNotification
	if err := json.Unmarshal(b, &n); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	kind, receiver, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	n.Receiver, n.At, n.Raw = receiver, time.Now(), b
	s.mu.Lock()
	defer s.mu.Unlock()
	switch kind {
	case "hook":
		s.hooks = append(s.hooks, n)
	case "slack":
		s.texts = append(s.texts, n)
	default:
		http.NotFound(w, r)
	}
}

// webhooks returns the webhook notifications of a receiver, in order.
func (s *amSink) webhooks(receiver string) []amNotification {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []amNotification
	for _, n := range s.hooks {
		if n.Receiver == receiver {
			out = append(out, n)
		}
	}
	return out
}

// lastText returns the text of the latest Slack-style notification of a
// receiver whose title contains title.
func (s *amSink) lastText(receiver, title string) (string, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.texts) - 1; i >= 0; i-- {
		n := s.texts[i]
		if n.Receiver == receiver && len(n.Attachments) > 0 && strings.Contains(n.Attachments[0].Title, title) {
			return n.Attachments[0].Title, n.Attachments[0].Text
		}
	}
	return "", ""
}

// find returns an alert of a webhook notification (of any receiver) with
// that alertname, id and status.
func (s *amSink) find(alertname, id, status string) *webhookAlert {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.hooks {
		for i, a := range n.Alerts {
			if a.Labels["alertname"] == alertname && a.Labels["id"] == id && a.Status == status {
				return &n.Alerts[i]
			}
		}
	}
	return nil
}

// all returns the raw bodies of every webhook notification.
func (s *amSink) all() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out [][]byte
	for _, n := range s.hooks {
		out = append(out, n.Raw)
	}
	return out
}

// summary lists the alerts of every webhook notification as
// alertname{id,instance}=status.
func (s *amSink) summary() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, n := range s.hooks {
		for _, a := range n.Alerts {
			out = append(out, fmt.Sprintf("%s{id=%q,instance=%q}=%s", a.Labels["alertname"], a.Labels["id"], a.Labels["instance"], a.Status))
		}
	}
	if len(out) == 0 {
		return "(none)"
	}
	return strings.Join(out, ", ")
}

type webhookAlert struct {
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

// promClient queries Prometheus' HTTP API.
type promClient struct{ base string }

type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
	Values [][2]any          `json:"values"`
}

type promResult struct {
	Type    string
	Samples []promSample
	Scalar  *float64
}

// empty reports whether the result holds no data.
func (r promResult) empty() bool { return r.Scalar == nil && len(r.Samples) == 0 }

func (c *promClient) get(path string, q url.Values, data any) error {
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(c.base + path + "?" + q.Encode())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var env struct {
		Status    string          `json:"status"`
		ErrorType string          `json:"errorType"`
		Error     string          `json:"error"`
		Warnings  []string        `json:"warnings"`
		Data      json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return fmt.Errorf("HTTP %d, undecodable answer %q: %v", resp.StatusCode, b, err)
	}
	if env.Status != "success" {
		return fmt.Errorf("%s: %s", env.ErrorType, env.Error)
	}
	if len(env.Warnings) > 0 {
		return fmt.Errorf("warnings: %v", env.Warnings)
	}
	return json.Unmarshal(env.Data, data)
}

func (c *promClient) query(path string, q url.Values) (promResult, error) {
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := c.get(path, q, &data); err != nil {
		return promResult{}, err
	}
	r := promResult{Type: data.ResultType}
	switch data.ResultType {
	case "vector", "matrix":
		if err := json.Unmarshal(data.Result, &r.Samples); err != nil {
			return r, err
		}
	case "scalar":
		var v [2]any
		if err := json.Unmarshal(data.Result, &v); err != nil {
			return r, err
		}
		f, err := sampleValue(v)
		if err != nil {
			return r, err
		}
		r.Scalar = &f
	default:
		return r, fmt.Errorf("unexpected result type %q", data.ResultType)
	}
	return r, nil
}

// instant runs an instant query at the current time.
func (c *promClient) instant(expr string) (promResult, error) {
	return c.query("/api/v1/query", url.Values{"query": {expr}})
}

// rangeQuery runs a range query over the last d with a 1s step.
func (c *promClient) rangeQuery(expr string, d time.Duration) (promResult, error) {
	end := time.Now()
	return c.query("/api/v1/query_range", url.Values{
		"query": {expr},
		"start": {strconv.FormatInt(end.Add(-d).Unix(), 10)},
		"end":   {strconv.FormatInt(end.Unix(), 10)},
		"step":  {"1"},
	})
}

// scalar runs expr and returns its single value.
func (c *promClient) scalar(expr string) (float64, error) {
	r, err := c.instant(expr)
	if err != nil {
		return 0, err
	}
	if r.Scalar != nil {
		return *r.Scalar, nil
	}
	if len(r.Samples) != 1 {
		return 0, fmt.Errorf("%d series", len(r.Samples))
	}
	return sampleValue(r.Samples[0].Value)
}

func sampleValue(v [2]any) (float64, error) {
	s, ok := v[1].(string)
	if !ok {
		return 0, fmt.Errorf("sample value %v is not a string", v[1])
	}
	return strconv.ParseFloat(s, 64)
}

type promAlert struct {
	Labels map[string]string `json:"labels"`
	State  string            `json:"state"`
}

// alerts lists Prometheus' pending and firing alerts.
func (c *promClient) alerts() ([]promAlert, error) {
	var data struct {
		Alerts []promAlert `json:"alerts"`
	}
	err := c.get("/api/v1/alerts", nil, &data)
	return data.Alerts, err
}

// findAlert returns the first alert with that alertname ("" = any) and id.
func findAlert(alerts []promAlert, alertname, id string) *promAlert {
	for i, a := range alerts {
		if (alertname == "" || a.Labels["alertname"] == alertname) && a.Labels["id"] == id {
			return &alerts[i]
		}
	}
	return nil
}

// ---- dashboards ----

type dashboard struct {
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID      int      `json:"id"`
	Title   string   `json:"title"`
	Type    string   `json:"type"`
	Targets []target `json:"targets"`
	Panels  []panel  `json:"panels"` // of a collapsed row
}

type target struct {
	RefID   string `json:"refId"`
	Expr    string `json:"expr"`
	Instant bool   `json:"instant"`
	Range   bool   `json:"range"`
	Hide    bool   `json:"hide"`
}

// loadDashboard reads and decodes a dashboard file.
func loadDashboard(t *testing.T, path string) dashboard {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// dashboardVars are the values the test gives Grafana's variables: the job
// the test scrapes, every instance (the instance variable's "All", a regex
// since every selector matches it with =~), and intervals that are valid for
// a Prometheus scraping every second that has run for some seconds.
var dashboardVars = map[string]string{
	"job":             jobName,
	"instance":        ".*",
	"number":          targetPhone, // the Selected number panels
	"__rate_interval": "1m",
	"__interval":      "15s",
	"__interval_ms":   "15000",
	"__range":         "5m",
	"__range_s":       "300",
	"__range_ms":      "300000",
	"__auto_interval": "15s",
	"__auto":          "15s",
}

// varRE finds Grafana variable references: ${name}, ${name:format},
// [[name]], [[name:format]] and $name. "$1" in a label_replace is the
// regular expression's group, not a variable: Grafana, knowing no variable
// of that name, leaves it as it is, and so does this.
var varRE = regexp.MustCompile(`\$\{(\w+)(?::(\w+))?\}|\[\[(\w+)(?::(\w+))?\]\]|\$([A-Za-z_]\w*)`)

// expand substitutes the dashboard variables in expr with vars (usually
// dashboardVars); an unknown one is left as it is and named in the error.
// Every format gives the raw value: the values here need no escaping, and
// "All" must stay ".*".
func expand(vars map[string]string, expr string) (string, error) {
	var unknown []string
	out := varRE.ReplaceAllStringFunc(expr, func(ref string) string {
		m := varRE.FindStringSubmatch(ref)
		name := m[1] + m[3] + m[5]
		v, ok := vars[name]
		if !ok {
			unknown = append(unknown, ref)
			return ref
		}
		return v
	})
	if len(unknown) > 0 {
		return out, fmt.Errorf("unknown dashboard variables %v", unknown)
	}
	return out, nil
}

// labelValuesRE parses a variable query label_values(metric_or_selector, label)
// or label_values(label).
var labelValuesRE = regexp.MustCompile(`^\s*label_values\(\s*(?:(.+?)\s*,\s*)?(\w+)\s*\)\s*$`)

func checkDashboards(t *testing.T, pc *promClient, dir string) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards in %s: %v", dir, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		if err := json.Unmarshal(b, &d); err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		name := filepath.Base(f)
		checkVariables(t, pc, name, d)
		var walk func([]panel)
		n := 0
		walk = func(ps []panel) {
			for _, p := range ps {
				for _, tg := range p.Targets {
					n++
					checkTarget(t, pc, name, p, tg)
				}
				walk(p.Panels)
			}
		}
		walk(d.Panels)
		t.Logf("%s: ran %d panel queries", name, n)
		if n == 0 {
			t.Errorf("%s: no panel queries found", name)
		}
	}
}

// checkVariables runs the label_values queries of the query variables and
// checks that they offer the value the test substitutes.
func checkVariables(t *testing.T, pc *promClient, file string, d dashboard) {
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q string
		if err := json.Unmarshal(v.Query, &q); err != nil {
			var obj struct {
				Query string `json:"query"`
			}
			if json.Unmarshal(v.Query, &obj) != nil {
				t.Logf("%s: variable %s: query %s not understood; not checked", file, v.Name, v.Query)
				continue
			}
			q = obj.Query
		}
		m := labelValuesRE.FindStringSubmatch(q)
		if m == nil {
			t.Logf("%s: variable %s: query %q is not label_values(); not checked", file, v.Name, q)
			continue
		}
		match, err := expand(dashboardVars, m[1])
		if err != nil {
			t.Errorf("%s: variable %s: %v", file, v.Name, err)
			continue
		}
		params := url.Values{}
		if match != "" {
			params.Set("match[]", match)
		}
		var values []string
		if err := pc.get("/api/v1/label/"+m[2]+"/values", params, &values); err != nil {
			t.Errorf("%s: variable %s: %q: %v", file, v.Name, q, err)
			continue
		}
		if len(values) == 0 {
			t.Errorf("%s: variable %s: %q offers no values on the live fleet", file, v.Name, q)
			continue
		}
		if v.Name == "job" && !contains(values, jobName) {
			t.Errorf("%s: variable job: %q offers %v, not %q", file, q, values, jobName)
		}
		t.Logf("%s: variable %s: %q offers %v", file, v.Name, q, values)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// statWant holds what some panels, found by title, must show on the live
// fleet once the target number fails: nine of the eleven enabled numbers
// healthy, two unhealthy (the failed target and the number stuck in
// Registering), one expiring within the hour (the Registering one: the
// healthy numbers, 58 minutes from expiry, are kept alive and must not
// count; the failed target holds no registration), one disabled. A panel
// whose title is not here (or no longer in the dashboard) is only checked
// for having data.
var statWant = map[string]float64{
	"Numbers":          fleetSize,
	"Healthy":          float64(enabledCount-2) / enabledCount,
	"Failing":          2,
	"Expiring < 1h":    1,
	"Registration off": 1,
	"Exporter up":      1,
	"API listing":      1,
}

// attentionPanel lists the numbers needing attention: on this fleet exactly
// the failing and the expiring number, never the disabled one.
const attentionPanel = "Unhealthy or expiring numbers"

func checkTarget(t *testing.T, pc *promClient, file string, p panel, tg target) {
	where := fmt.Sprintf("%s: panel %d %q (%s) target %s", file, p.ID, p.Title, p.Type, tg.RefID)
	if strings.TrimSpace(tg.Expr) == "" {
		t.Logf("%s: no PromQL expr; not checked", where)
		return
	}
	expr, err := expand(dashboardVars, tg.Expr)
	if err != nil {
		t.Errorf("%s: %v\nexpr: %s", where, err, tg.Expr)
		return
	}
	r, err := pc.instant(expr)
	if err != nil {
		t.Errorf("%s: query error: %v\nexpr: %s", where, err, expr)
		return
	}
	if r.empty() {
		t.Errorf("%s: no data on the live fleet (failing, expiring and disabled numbers present)\nexpr: %s", where, expr)
		return
	}
	// Panels drawn over time: the range query must have data too.
	if tg.Range || !tg.Instant {
		rr, err := pc.rangeQuery(expr, 20*time.Second)
		if err != nil {
			t.Errorf("%s: range query error: %v\nexpr: %s", where, err, expr)
		} else if rr.empty() {
			t.Errorf("%s: range query has no data\nexpr: %s", where, expr)
		}
	}
	for _, s := range r.Samples {
		if v, err := sampleValue(s.Value); err == nil && math.IsNaN(v) {
			t.Logf("%s: NOTE: value NaN for %v\nexpr: %s", where, s.Metric, expr)
		}
	}

	if want, ok := statWant[p.Title]; ok && tg.RefID == "A" {
		var got float64
		switch {
		case r.Scalar != nil:
			got = *r.Scalar
		case len(r.Samples) == 1:
			got, _ = sampleValue(r.Samples[0].Value)
		default:
			t.Errorf("%s: %d series, want one value %v\nexpr: %s", where, len(r.Samples), want, expr)
			return
		}
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("%s: shows %v, want %v on this fleet\nexpr: %s", where, got, want, expr)
		}
	}
	if p.Title == attentionPanel {
		// The table's rows are its queries merged on the number: refId A
		// (the state) has one row per listed number and must list exactly
		// the failing and the expiring number; the other columns may lack a
		// number (the failed target has no expiry, the Registering number no
		// SIP code) but must not add one.
		var ids []string
		for _, s := range r.Samples {
			ids = append(ids, s.Metric["id"])
		}
		sort.Strings(ids)
		want := []string{targetID, expiringID}
		sort.Strings(want)
		if tg.RefID == "A" {
			if strings.Join(ids, " ") != strings.Join(want, " ") {
				t.Errorf("%s: lists ids %v, want exactly the failing and the expiring number %v\nexpr: %s", where, ids, want, expr)
			}
		} else {
			for _, id := range ids {
				if !contains(want, id) {
					t.Errorf("%s: lists id %s, want only the failing and the expiring number %v\nexpr: %s", where, id, want, expr)
				}
			}
		}
	}
}
