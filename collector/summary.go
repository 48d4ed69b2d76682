package collector

import "github.com/dasha-exporter/dasha_exporter/client"

// CountUnhealthy counts the numbers that dasha_sip_registration_healthy
// reports 0 for (registration enabled, and a state that is not healthy or an
// error), for summaries such as the landing page.
func (o Options) CountUnhealthy(l *client.Listing) int {
	r := newRules(o.States, o.HealthyStates)
	n := 0
	for _, number := range l.All() {
		if number.Registration && !r.isHealthy(number) {
			n++
		}
	}
	return n
}
