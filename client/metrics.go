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

const (
	requestsName = "dasha_api_requests_total"
	requestsHelp = "Requests made to the Dasha BlackBox API, by HTTP status code (code=\"error\" when no answer came)."
	durationName = "dasha_api_request_duration_seconds"
	durationHelp = "Latency of Dasha BlackBox API requests, including reading the body."
)

var durationBuckets = []float64{0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// NewMetrics creates the request metrics of the one account served from the
// flags (no account label) and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: requestsName, Help: requestsHelp}, []string{"code"}),
		Duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: durationName, Help: durationHelp, Buckets: durationBuckets}),
	}
	if reg != nil {
		reg.MustRegister(m.Requests, m.Duration)
	}
	return m
}

// AccountMetrics are the request metrics of several accounts (a
// configuration file): the same families with an account label.
type AccountMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewAccountMetrics creates the per-account request metrics and registers
// them on reg.
func NewAccountMetrics(reg prometheus.Registerer) *AccountMetrics {
	m := &AccountMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: requestsName, Help: requestsHelp}, []string{"account", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: durationName, Help: durationHelp, Buckets: durationBuckets}, []string{"account"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.duration)
	}
	return m
}

// For returns the metrics one account's client counts in.
func (m *AccountMetrics) For(account string) *Metrics {
	return &Metrics{
		Requests: m.requests.MustCurryWith(prometheus.Labels{"account": account}),
		// A HistogramVec's children are Histograms.
		Duration: m.duration.WithLabelValues(account).(prometheus.Histogram),
	}
}

// Forget drops the series of an account that is no longer configured.
func (m *AccountMetrics) Forget(account string) {
	m.requests.DeletePartialMatch(prometheus.Labels{"account": account})
	m.duration.DeleteLabelValues(account)
}
