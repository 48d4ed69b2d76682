package collector

import (
	"io"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// ListingTimeout is the listing deadline of a request as the /metrics
// handler takes it: Prometheus' scrape timeout header less offset, or
// fallback (see scrapeTimeout).
func ListingTimeout(r *http.Request, fallback, offset time.Duration) time.Duration {
	t, _ := scrapeTimeout(r.Header.Get(scrapeTimeoutHeader), fallback, offset)
	return t
}

// WriteProbe writes in the text format what a probe answers for s: the
// status families and the per-number families, without the exporter's own
// metrics. The debug output shows it under the listing's log.
func WriteProbe(w io.Writer, s *Scrape) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(s.Status())
	mfs, err := reg.Gather()
	if err != nil {
		return err
	}
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(w, mf); err != nil {
			return err
		}
	}
	return s.WriteText(w)
}
