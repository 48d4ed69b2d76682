package e2e

// TestFleetPaging runs the paging model end to end at fleet scale: the real
// exporter listing a few thousand numbers from the fake API, a real
// Prometheus with the shipped rules (for: shortened as in TestEndToEnd) and
// a real Alertmanager with the shipped example routing, inhibitions and
// notification template (alerts/examples/alertmanager.yml, dasha.tmpl), its
// receivers pointed at this test. It counts the notifications each receiver
// gets and the numbers each lists, through its phases, each a subtest run
// in order (a phase that fails stops the ones after it):
//
//   - "one failing number pages alone": one page, naming that number;
//   - "unrelated failures join the open page" (2 % across all providers);
//   - "a provider outage joins the page with FleetDegraded" (a fifth of
//     the fleet; DashaSIPRegistrationFleetDegraded names the provider);
//   - "new numbers go to tickets";
//   - "deleted numbers vanish and resolve" (an eighth of the fleet: the
//     deleted numbers leave the page, DashaSIPPhoneNumbersVanished tickets
//     how many are left);
//   - "one page for the whole incident".
//
// The pager sees one page (one group) throughout; its last notification
// lists every failing number exactly once (the webhook payload) and the
// rendered text the first 20 and "and K more". New numbers not yet
// registered go to the ticket receiver, never to the pager. After the
// unrelated failures and the outage every dashboard query runs against the fleet, and each panel drawn
// over time must return at most 50 series.
//
// DASHA_FLEET_NUMBERS (default 2000) and DASHA_FLEET_FAIL_EVERY (default 50)
// change the fleet; DASHA_FLEET_SKIP_OUTAGE=1 skips the outage. The
// dashboard figures of docs and notes were measured with
//
//	DASHA_FLEET_NUMBERS=10000 DASHA_FLEET_FAIL_EVERY=20 DASHA_FLEET_SKIP_OUTAGE=1 \
//	  go test ./e2e -run TestFleetPaging -v

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dasha-exporter/dasha_exporter/internal/fakeapi"
)

// maxPanelSeries is the most series a panel drawn over time may return.
const maxPanelSeries = 50

// groupsNotified returns the distinct groups a receiver was notified of as firing:
// each is one page (one incident in a pager).
func groupsNotified(ns []amNotification) []string {
	seen := map[string]bool{}
	var keys []string
	for _, n := range ns {
		if n.Status == "firing" && !seen[n.GroupKey] {
			seen[n.GroupKey] = true
			keys = append(keys, n.GroupKey)
		}
	}
	return keys
}

// firingNumbers returns, for the latest notification of a group, how often
// each number's id appears among its firing alerts, and the other firing
// alerts by name.
func firingNumbers(n amNotification) (ids map[string]int, others []string) {
	ids = map[string]int{}
	for _, a := range n.Alerts {
		if a.Status != "firing" {
			continue
		}
		if id := a.Labels["id"]; id != "" {
			ids[id]++
		} else {
			others = append(others, a.Labels["alertname"])
		}
	}
	return ids, others
}

func fleetEnv(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q: want a whole number", name, v)
	}
	return n
}

// exampleAlertmanagerConfig returns the shipped example configuration with
// only what a test must change: the template path, the receivers' addresses
// (each receiver also gets a webhook, whose payload lists every alert with
// its group key) and the group timings (seconds instead of minutes).
func exampleAlertmanagerConfig(t *testing.T, root, sinkURL string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "alerts", "examples", "alertmanager.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["templates"] = []any{filepath.Join(root, "alerts", "examples", "dasha.tmpl")}
	var shorten func(r map[string]any)
	shorten = func(r map[string]any) {
		for _, k := range []string{"group_wait", "group_interval"} {
			if _, ok := r[k]; ok {
				r[k] = "1s"
			}
		}
		if sub, ok := r["routes"].([]any); ok {
			for _, s := range sub {
				shorten(s.(map[string]any))
			}
		}
	}
	route := cfg["route"].(map[string]any)
	shorten(route)
	route["group_wait"], route["group_interval"] = "1s", "1s"
	for _, r := range cfg["receivers"].([]any) {
		rcv := r.(map[string]any)
		name := rcv["name"].(string)
		slacks, ok := rcv["slack_configs"].([]any)
		if !ok || len(slacks) == 0 {
			t.Fatalf("example receiver %s has no slack_configs (the demo receiver and this test read them)", name)
		}
		for _, s := range slacks {
			s.(map[string]any)["api_url"] = sinkURL + "/slack/" + name
		}
		rcv["webhook_configs"] = []any{map[string]any{"url": sinkURL + "/hook/" + name, "send_resolved": true}}
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestFleetPaging(t *testing.T) {
	st := newStack(t, true)
	size := fleetEnv(t, "DASHA_FLEET_NUMBERS", 2000)
	failEvery := fleetEnv(t, "DASHA_FLEET_FAIL_EVERY", 50)
	const newNumbers = 3
	if size < 200 || failEvery < 5 {
		t.Fatalf("DASHA_FLEET_NUMBERS=%d DASHA_FLEET_FAIL_EVERY=%d: want at least 200 numbers, and 5", size, failEvery)
	}

	start := time.Now()
	root := st.root

	// Phase 0: the fleet healthy, but for a few numbers created minutes ago.
	healthy := fakeapi.ProviderFleet(size, 0, newNumbers, start)
	withUnrelated := fakeapi.ProviderFleet(size, failEvery, newNumbers, start)
	fake := fakeapi.New(apiKey, healthy)
	apiSrv := httptest.NewServer(fake)
	t.Cleanup(apiSrv.Close)
	sink := &amSink{}
	sinkSrv := httptest.NewServer(sink)
	t.Cleanup(sinkSrv.Close)

	exporterBin := buildExporter(t, root, st.dir)
	expAddr, _ := st.startExporter(t, exporterBin,
		[]string{"DASHA_URL=" + apiSrv.URL, "DASHA_API_KEY=" + apiKey},
		"--dasha.timeout-offset=100ms")

	amAddr := st.startAlertmanager(t, exampleAlertmanagerConfig(t, root, sinkSrv.URL))
	// Listing a few thousand numbers and evaluating hundreds of alerts (each
	// with a few template queries) every second would starve a small
	// machine: two seconds for both.
	pc := st.startPrometheus(t, promSetup{interval: "2s", alertmanager: amAddr, scrapeConfigs: scrapeOne(jobName, expAddr)})

	failingCount := func() (float64, string) {
		v, err := pc.scalar(`count(dasha:sip_registration_failing:last15m) or vector(0)`)
		return v, fmt.Sprintf("%v (%v)", v, err)
	}
	if !t.Run("the healthy fleet is scraped", func(t *testing.T) {
		waitFor(t, 60*time.Second, "the fleet to be scraped", func() (bool, string) {
			n, err := pc.scalar(`sum(dasha_sip_phone_numbers)`)
			return err == nil && n == float64(size), fmt.Sprintf("dasha_sip_phone_numbers = %v (%v), want %d", n, err, size)
		})
		t.Logf("fleet of %d numbers scraped after %v", size, time.Since(start).Round(time.Millisecond))
	}) {
		return
	}

	// waitPager waits until the pager's latest webhook notification lists
	// exactly want (ids of failing numbers) and the other alerts named, and
	// returns it.
	waitPager := func(t *testing.T, what string, want map[string]bool, otherAlerts ...string) amNotification {
		t.Helper()
		var last amNotification
		waitFor(t, 3*time.Minute, what, func() (bool, string) {
			ns := sink.webhooks("pager")
			if len(ns) == 0 {
				return false, "no pager notification yet"
			}
			last = ns[len(ns)-1]
			ids, others := firingNumbers(last)
			sort.Strings(others)
			if len(ids) != len(want) || strings.Join(others, ",") != strings.Join(otherAlerts, ",") {
				f, _ := failingCount()
				return false, fmt.Sprintf("latest pager notification lists %d numbers and %v; want %d and %v (Prometheus counts %v failing)", len(ids), others, len(want), otherAlerts, f)
			}
			for id := range want {
				if ids[id] != 1 {
					return false, fmt.Sprintf("%s listed %d times", id, ids[id])
				}
			}
			return true, ""
		})
		return last
	}
	idsOf := func(numbers []fakeapi.Number, failing func(fakeapi.Number) bool) map[string]bool {
		out := map[string]bool{}
		for _, n := range numbers {
			if failing(n) {
				out[n.ID] = true
			}
		}
		return out
	}
	notRegistered := func(n fakeapi.Number) bool {
		return n.RegistrationStatus != nil && *n.RegistrationStatus.State != "Registered"
	}

	// One number fails; it pages alone and names itself. It is the first
	// of the unrelated failures that follow, with the same answer.
	var first amNotification
	if !t.Run("one failing number pages alone", func(t *testing.T) {
		var lone fakeapi.Number
		for _, n := range withUnrelated {
			if notRegistered(n) {
				lone = n
				break
			}
		}
		fake.Update(lone.ID, func(n *fakeapi.Number) { n.RegistrationStatus = lone.RegistrationStatus })
		first = waitPager(t, "the page for the lone failing number", map[string]bool{lone.ID: true})
		_, text := sink.lastText("pager", "")
		if !strings.Contains(text, lone.PhoneNumber) || !strings.Contains(text, *lone.DisplayName) || strings.Contains(text, "more") {
			t.Errorf("the lone failure's page does not name %s (%s) alone:\n%s", lone.PhoneNumber, *lone.DisplayName, text)
		}
		t.Logf("%s paged alone after %v", lone.PhoneNumber, time.Since(start).Round(time.Millisecond))
	}) {
		return
	}

	if !t.Run("unrelated failures join the open page", func(t *testing.T) {
		fake.SetNumbers(withUnrelated)
		unrelated := idsOf(withUnrelated, notRegistered)
		second := waitPager(t, fmt.Sprintf("the %d unrelated failures to join the page", len(unrelated)), unrelated)
		if second.GroupKey != first.GroupKey {
			t.Errorf("unrelated failures paged anew (group %s) instead of joining %s", second.GroupKey, first.GroupKey)
		}
		checkFleetDashboards(t, pc, root, withUnrelated, "unrelated failures")
		checkNotificationText(t, sink, len(unrelated), withUnrelated)
	}) {
		return
	}

	if os.Getenv("DASHA_FLEET_SKIP_OUTAGE") == "" && !t.Run("a provider outage joins the page with FleetDegraded", func(t *testing.T) {
		outageAt := time.Now()
		down := fakeapi.FailProvider(fake, fakeapi.FleetProvider(2), time.Now())
		final := fake.Numbers()
		failing := idsOf(final, notRegistered)
		if len(failing) < size/5 {
			t.Fatalf("only %d of %d numbers fail after the outage of %d", len(failing), size, len(down))
		}
		third := waitPager(t, fmt.Sprintf("the provider outage (%d numbers, %d failing in all) to join the page with FleetDegraded", len(down), len(failing)),
			failing, "DashaSIPRegistrationFleetDegraded")
		t.Logf("outage of %d numbers listed in the open page after %v", len(down), time.Since(outageAt).Round(time.Millisecond))
		if third.GroupKey != first.GroupKey {
			t.Errorf("the provider outage paged anew (group %s) instead of joining %s", third.GroupKey, first.GroupKey)
		}
		for _, a := range third.Alerts {
			if a.Labels["alertname"] == "DashaSIPRegistrationFleetDegraded" {
				desc := a.Annotations["description"]
				if !strings.Contains(desc, "Shared cause") || !strings.Contains(desc, "provider id "+fakeapi.FleetProvider(2)) || !strings.Contains(desc, "SIP answer 503") {
					t.Errorf("FleetDegraded does not name the provider and its 503 as the shared cause:\n%s", desc)
				}
				t.Logf("FleetDegraded: %s", desc)
			}
		}
		checkFleetDashboards(t, pc, root, final, "provider outage")
		checkNotificationText(t, sink, len(failing), final)
	}) {
		return
	}

	// The tickets: the numbers not registered yet, never paged, grouped by
	// provider.
	fresh := idsOf(healthy, func(n fakeapi.Number) bool { return n.RegistrationStatus == nil })
	t.Run("new numbers go to tickets", func(t *testing.T) {
		waitFor(t, time.Minute, "tickets for the new numbers", func() (bool, string) {
			listed := map[string]int{}
			for _, key := range groupsNotified(sink.webhooks("tickets")) {
				var last amNotification
				for _, n := range sink.webhooks("tickets") {
					if n.GroupKey == key {
						last = n
					}
				}
				ids, _ := firingNumbers(last)
				for id, c := range ids {
					listed[id] += c
				}
			}
			for id := range fresh {
				if listed[id] != 1 {
					return false, fmt.Sprintf("new number %s listed %d times in tickets (%v)", id, listed[id], listed)
				}
			}
			return len(listed) == len(fresh), fmt.Sprintf("tickets list %v, want the %d new numbers", listed, len(fresh))
		})
	})

	// An eighth of the fleet is deleted. The deleted failing numbers
	// resolve at once (they are no longer listed, which is not a
	// recovery), and DashaSIPPhoneNumbersVanished tickets how many are left.
	t.Run("deleted numbers vanish and resolve", func(t *testing.T) {
		var kept []fakeapi.Number
		removedFailing := map[string]bool{}
		for i, n := range fake.Numbers() {
			if i%8 != 0 {
				kept = append(kept, n)
			} else if notRegistered(n) {
				removedFailing[n.ID] = true
			}
		}
		fake.SetNumbers(kept)
		want := fmt.Sprintf("now holds %d numbers, %d fewer than the %d", len(kept), size-len(kept), size)
		waitFor(t, 2*time.Minute, "a DashaSIPPhoneNumbersVanished ticket saying "+want, func() (bool, string) {
			for _, n := range sink.webhooks("tickets") {
				for _, a := range n.Alerts {
					if a.Labels["alertname"] == "DashaSIPPhoneNumbersVanished" && a.Status == "firing" {
						d := a.Annotations["description"]
						return strings.Contains(d, want), d
					}
				}
			}
			return false, "no such ticket yet"
		})
		waitFor(t, 2*time.Minute, fmt.Sprintf("the %d deleted failing numbers to leave the page", len(removedFailing)), func() (bool, string) {
			ns := sink.webhooks("pager")
			ids, _ := firingNumbers(ns[len(ns)-1])
			for id := range removedFailing {
				if ids[id] > 0 {
					return false, "still firing: " + id
				}
			}
			return true, ""
		})
		t.Logf("%d numbers deleted (%d of them failing): vanished ticket, and their alerts resolved", size-len(kept), len(removedFailing))
	})

	t.Run("one page for the whole incident", func(t *testing.T) {
		pager, tickets := sink.webhooks("pager"), sink.webhooks("tickets")
		// absent(up) of DashaExporterDown holds until Prometheus' first scrape
		// and, with for: shortened to seconds, may page at start-up on its own
		// (no instance, so a group of its own; TestEndToEnd allows it too). It
		// is not part of the incident.
		var incident []amNotification
		for _, n := range pager {
			startup := true
			for _, a := range n.Alerts {
				startup = startup && a.Labels["alertname"] == "DashaExporterDown" && a.Labels["instance"] == ""
			}
			if startup {
				t.Logf("NOTE: start-up page before the first scrape: %s", n.GroupKey)
				continue
			}
			incident = append(incident, n)
		}
		if p := groupsNotified(incident); len(p) != 1 {
			t.Errorf("the pager got %d pages (groups %v), want 1 for the whole run", len(p), p)
		}
		for _, n := range pager {
			for _, a := range n.Alerts {
				if fresh[a.Labels["id"]] {
					t.Errorf("a number not registered yet was paged: %v", a.Labels)
				}
			}
		}
		t.Logf("notifications: pager %d (incident pages: %d), tickets %d (groups: %d); fleet test took %v",
			len(incident), len(groupsNotified(incident)), len(tickets), len(groupsNotified(tickets)), time.Since(start).Round(time.Millisecond))
	})
}

// checkNotificationText checks the pager's latest rendered text (dasha.tmpl):
// the first 20 numbers, each once, then "and K more" for the rest.
func checkNotificationText(t *testing.T, sink *amSink, failing int, fleet []fakeapi.Number) {
	t.Helper()
	var title, text string
	want := fmt.Sprintf("and %d more", failing-20)
	waitFor(t, time.Minute, "the rendered page to list the first 20 numbers and "+want, func() (bool, string) {
		title, text = sink.lastText("pager", "")
		return strings.Contains(text, want), fmt.Sprintf("latest text (title %q):\n%s", title, text)
	})
	phones := map[string]bool{}
	for _, n := range fleet {
		phones[n.PhoneNumber] = true
	}
	seen := map[string]int{}
	for _, p := range regexp.MustCompile(`\+1628\d{7}`).FindAllString(text, -1) {
		if !phones[p] {
			t.Errorf("the page names %s, not in the fleet", p)
		}
		seen[p]++
	}
	for p, c := range seen {
		if c != 1 {
			t.Errorf("the page names %s %d times", p, c)
		}
	}
	if len(seen) != 20 {
		t.Errorf("the page names %d numbers, want the first 20 then %q:\n%s", len(seen), want, text)
	}
	t.Logf("page title: %s", title)
}

// slowProm is a promClient whose queries may take a minute.
type slowProm struct{ *promClient }

func (c *slowProm) query(path string, q url.Values) (promResult, error) {
	resp, err := (&http.Client{Timeout: time.Minute}).Get(c.base + path + "?" + q.Encode())
	if err != nil {
		return promResult{}, err
	}
	defer resp.Body.Close()
	var env struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []promSample `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return promResult{}, err
	}
	if env.Status != "success" {
		return promResult{}, fmt.Errorf("%s", env.Error)
	}
	return promResult{Samples: env.Data.Result}, nil
}

// checkFleetDashboards runs every dashboard query on the fleet and counts
// its series: at most maxPanelSeries for a panel drawn over time (range
// query), at most the numbers in trouble for a table, one number for the
// Selected number panel.
func checkFleetDashboards(t *testing.T, pc *promClient, root string, fleet []fakeapi.Number, phase string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "dashboards", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards: %v", err)
	}
	inTrouble, err := pc.scalar(`count(dasha_sip_registration_healthy == 0 or dasha_sip_registration_expiry_seconds < 3600 unless dasha_sip_registration_healthy == 1)`)
	if err != nil {
		t.Fatalf("counting the numbers in trouble: %v", err)
	}
	slow := &slowProm{promClient: pc}
	vars := maps.Clone(dashboardVars)
	vars["number"] = fleet[0].PhoneNumber
	for _, f := range files {
		d := loadDashboard(t, f)
		var walk func([]panel)
		walk = func(ps []panel) {
			for _, p := range ps {
				walk(p.Panels)
				for _, tg := range p.Targets {
					expr, err := expand(vars, tg.Expr)
					if err != nil {
						t.Errorf("%s: %v", p.Title, err)
					}
					where := fmt.Sprintf("%s (%s) %q/%s", filepath.Base(f), phase, p.Title, tg.RefID)
					var n int
					var took time.Duration
					switch p.Type {
					case "timeseries", "state-timeline":
						// A slow client: a range query over every number's
						// series can take longer than promClient's 10s on a
						// busy small machine; Grafana waits 30s and more.
						began := time.Now()
						r, err := slow.query("/api/v1/query_range", url.Values{"query": {expr},
							"start": {strconv.FormatInt(time.Now().Add(-5*time.Minute).Unix(), 10)},
							"end":   {strconv.FormatInt(time.Now().Unix(), 10)}, "step": {"5"}})
						took = time.Since(began)
						if err != nil {
							t.Errorf("%s: %v", where, err)
							continue
						}
						n = len(r.Samples)
						if n > maxPanelSeries {
							t.Errorf("%s: %d series over time, want at most %d", where, n, maxPanelSeries)
						}
						if strings.Contains(tg.Expr, "$number") && n > 2 {
							t.Errorf("%s: %d series for one selected number", where, n)
						}
					default:
						r, err := pc.instant(expr)
						if err != nil {
							t.Errorf("%s: %v", where, err)
							continue
						}
						n = len(r.Samples)
						if r.Scalar != nil {
							n = 1
						}
						if p.Type == "table" && float64(n) > inTrouble {
							t.Errorf("%s: %d rows, more than the %v numbers in trouble", where, n, inTrouble)
						}
						if p.Type != "table" && n > 15 {
							t.Errorf("%s: %d values in a %s", where, n, p.Type)
						}
					}
					// A table's column may be empty on this fleet (its failing
					// numbers hold no expiry); every other query has data.
					if n == 0 && (p.Type != "table" || tg.RefID == "A") {
						t.Errorf("%s: no data on the fleet", where)
					}
					if took > 0 {
						t.Logf("series: %s %s = %d (range query over 5m: %v)", where, p.Type, n, took.Round(time.Millisecond))
					} else {
						t.Logf("series: %s %s = %d", where, p.Type, n)
					}
				}
			}
		}
		walk(d.Panels)
	}
	t.Logf("%s: %v numbers in trouble", phase, inTrouble)
}
