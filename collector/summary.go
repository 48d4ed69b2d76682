package collector

import "github.com/dasha-exporter/dasha_exporter/client"

// countUnhealthy counts the numbers that dasha_sip_registration_healthy
// reports 0 for (registration enabled, and a state that is not healthy or
// an error), for the record of a listing.
func (r *rules) countUnhealthy(l *client.Listing) int {
	n := 0
	for _, number := range l.All() {
		if number.Registration && !r.isHealthy(number) {
			n++
		}
	}
	return n
}
