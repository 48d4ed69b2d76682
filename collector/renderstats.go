package collector

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// RenderStats counts what the exporters' renderings hold and save. It is a
// prometheus.Collector for the exporter's own registry; pass it to every
// Exporter in Options.Renders. A nil *RenderStats counts nothing.
type RenderStats struct {
	held     atomic.Int64
	heldDesc *prometheus.Desc
	rendered prometheus.Counter
	shared   prometheus.Counter
}

// NewRenderStats returns the counters of kept renderings.
func NewRenderStats() *RenderStats {
	return &RenderStats{
		heldDesc: prometheus.NewDesc("dasha_exporter_renderings_bytes",
			"Bytes of compressed exposition kept so that answers sharing a listing (concurrent scrapes, or an HA partner within --dasha.cache-ttl) copy it instead of rendering it again; 0 when nothing can share.", nil, nil),
		rendered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dasha_exporter_rendered_families_total",
			Help: "Per-number families rendered for an answer (formatted and compressed), whether kept for other answers or streamed.",
		}),
		shared: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dasha_exporter_shared_families_total",
			Help: "Per-number families an answer copied from a rendering another answer made, instead of rendering them again.",
		}),
	}
}

// Describe implements prometheus.Collector.
func (s *RenderStats) Describe(ch chan<- *prometheus.Desc) {
	ch <- s.heldDesc
	s.rendered.Describe(ch)
	s.shared.Describe(ch)
}

// Collect implements prometheus.Collector.
func (s *RenderStats) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(s.heldDesc, prometheus.GaugeValue, float64(s.held.Load()))
	s.rendered.Collect(ch)
	s.shared.Collect(ch)
}

func (s *RenderStats) addHeld(n int) {
	if s != nil {
		s.held.Add(int64(n))
	}
}

func (s *RenderStats) countRendered() {
	if s != nil {
		s.rendered.Inc()
	}
}

func (s *RenderStats) countShared() {
	if s != nil {
		s.shared.Inc()
	}
}
