package collector

import "github.com/dasha-exporter/dasha_exporter/client"

// countUnhealthy counts the numbers that dasha_sip_registration_healthy
// reports 0 for (registration enabled, and a state that is not healthy or
// an error), for the record of a listing.
func (r *rules) countUnhealthy(numbers []client.PhoneNumber) int {
	n := 0
	for i := range numbers {
		if numbers[i].Registration && !r.isHealthy(&numbers[i]) {
			n++
		}
	}
	return n
}
