package client

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics count and time one account's API requests. They live as long as
// the account (an account whose settings change keeps them) and are never
// registered on the global registry. Metrics is a prometheus.Collector, so
// that whoever holds the current accounts can gather exactly theirs: a
// removed account's series then go with it, and a probe of it still in
// flight counts into metrics nobody gathers any more.
type Metrics struct {
	Requests *prometheus.CounterVec // by code
	Duration prometheus.Histogram
}

const (
	requestsName = "dasha_api_requests_total"
	requestsHelp = "Requests made to the Dasha BlackBox API, by HTTP status code (code=\"error\" when no answer came)."
	durationName = "dasha_api_request_duration_seconds"
	durationHelp = "Latency of Dasha BlackBox API requests, including reading the body."
)

var durationBuckets = []float64{0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// NewMetrics creates the request metrics of one account, with labels as
// constant labels (the account's name when there are several; none for
// the flags' account, as /metrics has always shown it), and registers them
// on reg unless it is nil.
func NewMetrics(reg prometheus.Registerer, labels ...prometheus.Labels) *Metrics {
	var constLabels prometheus.Labels
	if len(labels) > 0 {
		constLabels = labels[0]
	}
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: requestsName, Help: requestsHelp, ConstLabels: constLabels}, []string{"code"}),
		Duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: durationName, Help: durationHelp, Buckets: durationBuckets, ConstLabels: constLabels}),
	}
	if reg != nil {
		reg.MustRegister(m)
	}
	return m
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.Requests.Describe(ch)
	m.Duration.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.Requests.Collect(ch)
	m.Duration.Collect(ch)
}
