package fakeapi

import (
	"strings"
	"testing"
	"time"
)

// TestDemoNumbersHaveDisplayNames: notifications name a number by its
// display name, and the README and runbook name the demo numbers that way;
// a number without one shows as "+1415555…: Unknown".
func TestDemoNumbersHaveDisplayNames(t *testing.T) {
	seen := map[string]bool{}
	for _, n := range Demo(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		if n.DisplayName == nil || *n.DisplayName == "" {
			t.Errorf("%s has no display name", n.PhoneNumber)
			continue
		}
		if seen[*n.DisplayName] {
			t.Errorf("display name %q is used twice", *n.DisplayName)
		}
		seen[*n.DisplayName] = true
	}
	// The names README "Demo stack" uses for the numbers it describes.
	for _, name := range []string{"Pharmacy", "Legacy PBX", "Branch Lyon", "Partner hotline", "Flaky trunk",
		"Marketing line", "Old office", "Migration test", "New number", "Half configured"} {
		if !seen[name] {
			t.Errorf("no demo number is named %q", name)
		}
	}
}

// demoUnhealthy is the demo's count of numbers the rules see failing
// (dasha:sip_registration_failing:last15m): registration on, state not
// Registered or an error, and not a number created in the last day that
// never registered.
func demoUnhealthy(now time.Time) (failing []string, enabled int) {
	for _, n := range Demo(now) {
		if !n.Registration {
			continue
		}
		enabled++
		st := n.RegistrationStatus
		if st == nil && strings.HasPrefix(n.CreatedTime, now.UTC().Format("2006-01-02")) {
			continue // new: DashaSIPRegistrationNotYetRegistered, not Failing
		}
		if st == nil || st.State == nil || *st.State != "Registered" || (st.ErrorDescription != nil && *st.ErrorDescription != "") {
			name := n.PhoneNumber
			if n.DisplayName != nil {
				name = *n.DisplayName
			}
			failing = append(failing, name)
		}
	}
	return failing, enabled
}

// TestDemoNormalDropOutsStayShort guards what `make demo-stack` with
// DEMO_FOR relies on (scripts/demo-stack.sh keeps DashaSIPRegistrationFailing
// and DashaSIPRegistrationFleetDegraded at 3m at least): Pharmacy's
// re-registration and Flaky trunk's unhealthy half last two minutes, and
// together they never hold the fleet's unhealthy share at 20% or more
// (FleetDegraded's threshold) for longer than two minutes while nothing
// really fails (Partner hotline's outage is the real failure). Pharmacy
// changes health at most 3 times in any 30 minutes (Flapping needs 4).
func TestDemoNormalDropOutsStayShort(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const step = 15 * time.Second
	var run, pharmacy, flaky time.Duration
	var pharmacyChanges []time.Time
	wasHealthy := true
	for now := start; now.Before(start.Add(4 * time.Hour)); now = now.Add(step) {
		failing, enabled := demoUnhealthy(now)
		has := func(name string) bool {
			for _, f := range failing {
				if f == name {
					return true
				}
			}
			return false
		}
		if healthy := !has("Pharmacy"); healthy != wasHealthy {
			wasHealthy = healthy
			pharmacyChanges = append(pharmacyChanges, now)
			if n := len(pharmacyChanges); n >= 4 && now.Sub(pharmacyChanges[n-4]) < 30*time.Minute {
				t.Fatalf("%v: Pharmacy changed health 4 times since %v: it would be flapping", now, pharmacyChanges[n-4])
			}
		}
		for _, c := range []struct {
			name string
			run  *time.Duration
		}{{"Pharmacy", &pharmacy}, {"Flaky trunk", &flaky}} {
			if has(c.name) {
				*c.run += step
				if *c.run > 2*time.Minute {
					t.Fatalf("%v: %s unhealthy for %v, more than its normal two minutes", now, c.name, *c.run)
				}
			} else {
				*c.run = 0
			}
		}
		if has("Partner hotline") || float64(len(failing)) < 0.2*float64(enabled) {
			run = 0
			continue
		}
		run += step
		if run > 2*time.Minute {
			t.Fatalf("%v: %d of %d numbers unhealthy (%v) for %v without a real failure", now, len(failing), enabled, failing, run)
		}
	}
}
