package collector

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dasha-exporter/dasha_exporter/internal/fakeapi"
)

// The Accept headers Prometheus sends, by version and scrape_protocols.
// The handler answers every one of them in the text format 0.0.4: Prometheus
// 2 and 3 both list it, and Prometheus 3 parses the answer by its
// Content-Type (it refuses a missing or unknown one unless
// fallback_scrape_protocol is set), so the header must be exact.
var prometheusAccepts = []struct{ name, accept string }{
	{"Prometheus 2.42 default",
		"application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"},
	{"Prometheus 3 default (OpenMetrics first, escaping=allow-utf-8)",
		"application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1"},
	{"Prometheus 3 protobuf first (native histograms)",
		"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.5,application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.4,application/openmetrics-text;version=0.0.1;q=0.3,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.2,text/plain;version=0.0.4;q=0.1"},
	{"Prometheus 3 metric_name_escaping_scheme: underscores",
		"application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.5,text/plain;version=1.0.0;escaping=underscores;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1"},
	{"Prometheus 3 escaping=dots", "text/plain;version=1.0.0;escaping=dots;q=0.3,text/plain;version=0.0.4;q=0.2"},
	{"Prometheus 3 escaping=values", "application/openmetrics-text;version=1.0.0;escaping=values,text/plain;version=0.0.4;q=0.2"},
	{"scrape_protocols: [PrometheusText1.0.0] only", "text/plain;version=1.0.0;escaping=allow-utf-8"},
	{"scrape_protocols: [PrometheusProto] only", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"},
	{"no Accept header", ""},
}

var typeLine = regexp.MustCompile(`^# TYPE (\S+) (\S+)$`)

func TestPrometheus3AcceptHeadersGetText004(t *testing.T) {
	h := newFakeBackedHandler(t, fakeapi.New("k", fakeapi.Demo(time.Now())), "k", io.Discard)
	for _, tc := range prometheusAccepts {
		for _, gz := range []bool{false, true} {
			name := tc.name
			if gz {
				name += ", gzip"
			}
			t.Run(name, func(t *testing.T) {
				header := http.Header{"X-Prometheus-Scrape-Timeout-Seconds": {"10"}}
				if tc.accept != "" {
					header.Set("Accept", tc.accept)
				}
				if gz {
					header.Set("Accept-Encoding", "gzip")
				}
				resp, body := scrapeOnce(t, h, header)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d", resp.StatusCode)
				}
				if ct := resp.Header.Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
					t.Fatalf("Content-Type %q, want text/plain; version=0.0.4; charset=utf-8", ct)
				}
				if gz {
					zr, err := gzip.NewReader(strings.NewReader(body))
					if err != nil {
						t.Fatalf("gzip: %v", err)
					}
					plain, err := io.ReadAll(zr)
					if err != nil {
						t.Fatalf("gzip: %v", err)
					}
					body = string(plain)
				}
				checkText004(t, []byte(body))
			})
		}
	}
}

// checkText004 checks that body is the text format 0.0.4 with its types
// only, and every per-number family (the demo fleet has them all) a gauge.
func checkText004(t *testing.T, body []byte) {
	t.Helper()
	mfs := parse(t, body) // prometheus/common's 0.0.4 parser
	if strings.Contains(string(body), "# EOF") {
		t.Error("answer carries OpenMetrics' # EOF")
	}
	types := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "# TYPE ") {
			continue
		}
		m := typeLine.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("malformed TYPE line %q", line)
			continue
		}
		switch m[2] {
		case "counter", "gauge", "histogram", "summary", "untyped":
		default:
			t.Errorf("%s: type %q is not a 0.0.4 type", m[1], m[2])
		}
		if _, dup := types[m[1]]; dup {
			t.Errorf("%s: two TYPE lines", m[1])
		}
		types[m[1]] = m[2]
	}
	// Every per-number family, from the table both writers use: OpenMetrics
	// would call the state set a stateset and the *_info families info; the
	// 0.0.4 text format knows neither.
	for _, f := range families {
		name := f.name
		if got := types[name]; got != "gauge" {
			t.Errorf("%s: TYPE %q, want gauge", name, got)
		}
		if len(mfs[name].GetMetric()) == 0 {
			t.Errorf("%s: no series", name)
		}
	}
	if up := mfs["dasha_up"]; up == nil || up.GetMetric()[0].GetGauge().GetValue() != 1 {
		t.Errorf("dasha_up = %v, want 1", up)
	}
}
