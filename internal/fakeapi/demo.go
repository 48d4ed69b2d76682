package fakeapi

import (
	"fmt"
	"time"
)

// Demo returns the built-in simulated fleet as it stands at now: 30 numbers
// whose registrations refresh, fail, flap, expire and recover on fixed
// cycles of wall-clock time, so that the metrics, dashboards and alerts of
// a --demo exporter move. The same now always gives the same fleet.
func Demo(now time.Time) []Number {
	now = now.UTC().Truncate(time.Second)
	providers := []*string{Ptr("0b6f3b5e-8f0c-4b8a-9a51-7d1f2c3e4a01"), Ptr("0b6f3b5e-8f0c-4b8a-9a51-7d1f2c3e4a02")}
	org := Ptr("org-demo")
	created := "2025-01-15T09:00:00Z"

	numbers := make([]Number, 0, 30)
	add := func(i int, name string, registration bool, st *Status) {
		n := Number{
			ID:                 fmt.Sprintf("8d0e9c1a-0000-4000-8000-%012d", i),
			OrgID:              org,
			PhoneNumber:        fmt.Sprintf("+1415555%04d", 100+i),
			CredentialsID:      Ptr(fmt.Sprintf("c7a1f0e2-0000-4000-8000-%012d", i)),
			CreatedTime:        created,
			LastUpdateTime:     created,
			RegistrationStatus: st,
			Description:        Ptr("demo number " + name),
			DisplayName:        Ptr(name),
			Registration:       registration,
			ProviderID:         providers[i%2],
		}
		if i%3 == 0 {
			n.IncomingCallsAgentID = Ptr(fmt.Sprintf("agent-%d", i%5))
		}
		numbers = append(numbers, n)
	}

	// A healthy registration: re-registered every refresh, valid for expires.
	// phase spreads the refreshes of different numbers apart.
	registered := func(phase, expires, refresh time.Duration) *Status {
		last := cycleStart(now.Add(-phase), refresh).Add(phase)
		return &Status{State: Ptr("Registered"), SIPResponseMessage: Ptr("200 OK"),
			LastUpdated: Timestamp(last), ExpiresAt: Timestamp(last.Add(expires))}
	}
	failed := func(since time.Time, sip, why string) *Status {
		return &Status{State: Ptr("Failed"), SIPResponseMessage: Ptr(sip), ErrorDescription: Ptr(why),
			LastUpdated: Timestamp(since)}
	}

	names := []string{
		"Support line", "Sales EMEA", "Sales US", "Billing", "Front desk",
		"Appointments", "After hours", "Claims", `Acme "Gold" line`, `Ops\Night`,
		"Reception\nLondon", "Returns", "Deliveries", "Recruiting", "Outbound A",
		"Outbound B", "Survey bot", "Callback queue",
	}
	for i, name := range names {
		add(i, name, true, registered(time.Duration(i)*97*time.Second, time.Hour, 55*time.Minute))
	}

	// 18: an ordinary hourly re-registration: state Registering from
	// minute 22 to 24 of every hour. Once an hour is two changes of health
	// in any 30 minutes, under DashaSIPRegistrationFlapping's four; minutes
	// 22-24 fall on Flaky trunk's unhealthy half (22) and outside Partner
	// hotline's outages (21), so the fleet's unhealthy share stays above
	// DashaSIPRegistrationFleetDegraded's 20% for those two minutes only.
	if in := now.Sub(cycleStart(now, time.Hour)); in >= 22*time.Minute && in < 24*time.Minute {
		add(18, "Pharmacy", true, &Status{State: Ptr("Registering"), LastUpdated: Timestamp(cycleStart(now, time.Hour).Add(22 * time.Minute))})
	} else {
		add(18, "Pharmacy", true, registered(24*time.Minute, 90*time.Minute, time.Hour))
	}
	// 19, 20: failing for good, with different registrar answers.
	add(19, "Legacy PBX", true, failed(now.Add(-3*time.Hour), "403 Forbidden", "Registration rejected by registrar: 403 Forbidden"))
	add(20, "Branch Lyon", true, failed(now.Add(-40*time.Minute), "SIP/2.0 408 Request Timeout", "No answer from registrar sip.example.net"))
	// 21: the provider is unavailable 15 minutes in every 30.
	if since := cycleStart(now, 30*time.Minute); now.Sub(since) < 15*time.Minute {
		add(21, "Partner hotline", true, failed(since, "503 Service Unavailable", "Registrar unavailable"))
	} else {
		add(21, "Partner hotline", true, registered(15*time.Minute, 30*time.Minute, 30*time.Minute))
	}
	// 22: flaps between registered and rejected every two minutes.
	if cycleStart(now, 2*time.Minute).Unix()/120%2 == 0 {
		add(22, "Flaky trunk", true, registered(0, 5*time.Minute, 2*time.Minute))
	} else {
		add(22, "Flaky trunk", true, failed(cycleStart(now, 2*time.Minute), "401 Unauthorized", "Authentication failed"))
	}
	// 23: stopped refreshing; lapses 20 minutes into every two hours, then
	// is fixed at the start of the next.
	period := cycleStart(now, 2*time.Hour)
	add(23, "Marketing line", true, &Status{State: Ptr("Registered"), SIPResponseMessage: Ptr("200 OK"),
		LastUpdated: Timestamp(period.Add(-40 * time.Minute)), ExpiresAt: Timestamp(period.Add(20 * time.Minute))})
	// 24: expired long ago and still trying.
	add(24, "Old office", true, &Status{State: Ptr("Registering"), SIPResponseMessage: Ptr("SIP/2.0 480 Temporarily Unavailable"),
		ErrorDescription: Ptr("Registration expired; retrying"), LastUpdated: Timestamp(now.Add(-5 * time.Minute)),
		ExpiresAt: Timestamp(now.Add(-6 * time.Hour))})
	// 25, 26: registration switched off on purpose (the provider needs none).
	add(25, "Static trunk A", false, &Status{State: Ptr("Disabled")})
	add(26, "Static trunk B", false, &Status{State: Ptr("Disabled"), ErrorDescription: Ptr("")})
	// 27: a state nobody documented.
	add(27, "Migration test", true, &Status{State: Ptr("Unregistering"), SIPResponseMessage: Ptr("200 OK"),
		LastUpdated: Timestamp(now.Add(-time.Minute)), ExpiresAt: Timestamp(now.Add(5 * time.Minute))})
	// 28: just created (ten minutes ago, always): no registration status
	// at all. Not a page: it never registered (DashaSIPRegistrationNotYetRegistered).
	add(28, "New number", true, nil)
	numbers[28].CreatedTime = *Timestamp(now.Add(-10 * time.Minute))
	// 29: a status whose every field is null, and no credentials or
	// provider; it keeps its display name, which notifications show.
	add(29, "Half configured", true, &Status{})
	numbers[29].CredentialsID, numbers[29].ProviderID = nil, nil
	return numbers
}

// cycleStart returns the start of the cycle of length d that holds t.
func cycleStart(t time.Time, d time.Duration) time.Time {
	return t.Truncate(d)
}
