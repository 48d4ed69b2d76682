package client

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics count and time every API request. They live as long as the
// exporter and are registered on its own registry, never the global one.
type Metrics struct {
	Requests *prometheus.CounterVec
	Duration prometheus.Histogram
}

// NewMetrics creates the request metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dasha_api_requests_total",
			Help: "Requests made to the Dasha BlackBox API, by HTTP status code (code=\"error\" when no answer came).",
		}, []string{"code"}),
		Duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "dasha_api_request_duration_seconds",
			Help:    "Latency of Dasha BlackBox API requests, including reading the body.",
			Buckets: []float64{0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}),
	}
	if reg != nil {
		reg.MustRegister(m.Requests, m.Duration)
	}
	return m
}
