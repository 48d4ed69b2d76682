package collector

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/dasha-exporter/dasha_exporter/client"
)

var update = flag.Bool("update", false, "rewrite the golden files in ../testdata/metrics")

const (
	fixturePage = "../testdata/api/sip-phone-numbers.json"
	goldenFile  = "../testdata/metrics/collector.golden.prom"
)

// scrapeTime is the fixed clock of the golden tests.
var scrapeTime = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// fixtureListing decodes the fixture page through the real client.
func fixtureListing(t testing.TB) *client.Listing {
	t.Helper()
	body, err := os.ReadFile(fixturePage)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	c, err := client.New(client.Config{BaseURL: u, Key: client.StaticKey("k"), PageSize: 1000, Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	l, err := c.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	l.Time = scrapeTime // taken at the fixed clock of these tests
	return l
}

// stubLister returns fixed results, one per call, repeating the last.
type stubLister struct {
	results []stubResult
	calls   int
	gotCtx  context.Context
}

type stubResult struct {
	listing *client.Listing
	err     error
}

func (s *stubLister) List(ctx context.Context) (*client.Listing, error) {
	s.gotCtx = ctx
	r := s.results[min(s.calls, len(s.results)-1)]
	s.calls++
	return r.listing, r.err
}

func newTestExporter(t testing.TB, l client.Lister, opts Options) *Exporter {
	t.Helper()
	if opts.States == nil {
		opts = Options{States: DefaultStates, HealthyStates: DefaultHealthyStates}
	}
	e, err := New(l, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.now = func() time.Time { return scrapeTime }
	return e
}

// exposition gathers c into the text format.
func exposition(t testing.TB, c prometheus.Collector) []byte {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for _, mf := range mfs {
		expfmt.MetricFamilyToText(&buf, mf)
	}
	return buf.Bytes()
}

func TestGolden(t *testing.T) {
	e := newTestExporter(t, &stubLister{results: []stubResult{{listing: fixtureListing(t)}}}, Options{})
	s := e.Scrape(context.Background())
	if !s.OK() {
		t.Fatal(s.Err)
	}
	if *update {
		if err := os.WriteFile(goldenFile, exposition(t, s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden, err := os.Open(goldenFile)
	if err != nil {
		t.Fatal(err)
	}
	defer golden.Close()
	if err := testutil.CollectAndCompare(s, golden); err != nil {
		t.Fatalf("%v\n(run `go test ./collector -run TestGolden -update` after checking the change is wanted)", err)
	}
}

func TestLint(t *testing.T) {
	e := newTestExporter(t, &stubLister{results: []stubResult{{listing: fixtureListing(t)}}}, Options{})
	problems, err := testutil.CollectAndLint(e.Scrape(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// TestSeriesRules checks the contract's rules on the fixture, one by one,
// so that a golden update cannot quietly break them.
func TestSeriesRules(t *testing.T) {
	e := newTestExporter(t, &stubLister{results: []stubResult{{listing: fixtureListing(t)}}}, Options{})
	mfs := parse(t, exposition(t, e.Scrape(context.Background())))
	value := func(name string, labels map[string]string) (float64, bool) {
		for _, m := range mfs[name].GetMetric() {
			match := true
			for _, lp := range m.GetLabel() {
				if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
					match = false
				}
			}
			if match {
				return m.GetGauge().GetValue(), true
			}
		}
		return 0, false
	}
	id := func(n string) map[string]string {
		return map[string]string{"id": "11111111-0000-4000-8000-00000000000" + n}
	}
	withState := func(n, state string) map[string]string {
		l := id(n)
		l["state"] = state
		return l
	}

	for _, tc := range []struct {
		name   string
		metric string
		labels map[string]string
		want   float64
		absent bool
	}{
		{"healthy registered", "dasha_sip_registration_healthy", id("1"), 1, false},
		{"failed is unhealthy", "dasha_sip_registration_healthy", id("2"), 0, false},
		{"disabled has no healthy series", "dasha_sip_registration_healthy", id("4"), 0, true},
		{"disabled is not enabled", "dasha_sip_registration_enabled", id("4"), 0, false},
		{"disabled error still exported", "dasha_sip_registration_error", id("4"), 1, false},
		{"empty error is no error", "dasha_sip_registration_error", id("5"), 0, false},
		{"no error_info without error", "dasha_sip_registration_error_info", id("5"), 0, true},
		{"unknown state flows through", "dasha_sip_registration_state", withState("5", "Unregistering"), 1, false},
		{"configured states listed at 0", "dasha_sip_registration_state", withState("5", "Registered"), 0, false},
		{"null status is Unknown", "dasha_sip_registration_state", withState("6", "Unknown"), 1, false},
		{"null state is Unknown", "dasha_sip_registration_state", withState("7", "Unknown"), 1, false},
		{"null status is unhealthy", "dasha_sip_registration_healthy", id("6"), 0, false},
		{"SIP code from SIP/2.0 line", "dasha_sip_registration_sip_response_code", id("2"), 403, false},
		{"SIP code skips 4031", "dasha_sip_registration_sip_response_code", id("5"), 480, false},
		{"no SIP code without message", "dasha_sip_registration_sip_response_code", id("3"), 0, true},
		{"expiry counts from the scrape", "dasha_sip_registration_expiry_seconds", id("1"), 1800, false},
		{"expired is negative", "dasha_sip_registration_expiry_seconds", id("2"), -3600, false},
		{"sub-second expiry", "dasha_sip_registration_expiry_seconds", id("7"), -0.5, false},
		{"null expiry is absent", "dasha_sip_registration_expiry_seconds", id("3"), 0, true},
		{"expires timestamp", "dasha_sip_registration_expires_timestamp_seconds", id("1"), float64(scrapeTime.Add(30 * time.Minute).Unix()), false},
		{"7-digit fraction kept", "dasha_sip_registration_last_updated_timestamp_seconds", id("2"), float64(scrapeTime.Add(-time.Minute).Unix()) + 0.1234567, false},
		{"null last updated absent", "dasha_sip_registration_last_updated_timestamp_seconds", id("4"), 0, true},
		{"created timestamp", "dasha_sip_phone_number_created_timestamp_seconds", id("1"), float64(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Unix()), false},
		{"created with a 7-digit fraction", "dasha_sip_phone_number_created_timestamp_seconds", id("6"), float64(time.Date(2026, 11, 28, 11, 0, 0, 0, time.UTC).Unix()) + 0.1234567, false},
		{"null created absent", "dasha_sip_phone_number_created_timestamp_seconds", id("7"), 0, true},
	} {
		got, ok := value(tc.metric, tc.labels)
		switch {
		case tc.absent && ok:
			t.Errorf("%s: %s%v = %v, want absent", tc.name, tc.metric, tc.labels, got)
		case !tc.absent && !ok:
			t.Errorf("%s: %s%v absent", tc.name, tc.metric, tc.labels)
		case !tc.absent && got != tc.want:
			t.Errorf("%s: %s%v = %v, want %v", tc.name, tc.metric, tc.labels, got, tc.want)
		}
	}

	// Every number has exactly one state at 1.
	ones := map[string]int{}
	for _, m := range mfs["dasha_sip_registration_state"].GetMetric() {
		if m.GetGauge().GetValue() == 1 {
			ones[labelValue(m.GetLabel(), "id")]++
		}
	}
	for id, n := range ones {
		if n != 1 {
			t.Errorf("%s has %d states at 1", id, n)
		}
	}
	if len(ones) != 7 {
		t.Errorf("%d numbers with a state, want 7", len(ones))
	}

	// Error texts are cut to 256 bytes of valid UTF-8.
	for _, m := range mfs["dasha_sip_registration_error_info"].GetMetric() {
		d := labelValue(m.GetLabel(), "error_description")
		if len(d) > 256 || !utf8.ValidString(d) {
			t.Errorf("error_description %d bytes: %q", len(d), d)
		}
		if strings.HasSuffix(labelValue(m.GetLabel(), "id"), "7") && (len(d) < 250 || !strings.HasPrefix(d, "Регистрация")) {
			t.Errorf("error_description %d bytes: %q", len(d), d)
		}
	}
}

func labelValue(lps []*dto.LabelPair, name string) string {
	for _, lp := range lps {
		if lp.GetName() == name {
			return lp.GetValue()
		}
	}
	return ""
}

func parse(t testing.TB, text []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("parsing exposition: %v\n%s", err, text)
	}
	return mfs
}

// canonical renders parsed families as sorted lines, so that two
// expositions of the same metrics compare equal whatever their order. The
// families named in drop are left out.
func canonical(t testing.TB, text []byte, drop ...string) string {
	t.Helper()
	mfs := parse(t, text)
	for _, name := range drop {
		delete(mfs, name)
	}
	var lines []string
	for _, mf := range mfs {
		var buf bytes.Buffer
		expfmt.MetricFamilyToText(&buf, mf)
		lines = append(lines, strings.Split(strings.TrimSpace(buf.String()), "\n")...)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// TestWriteTextMatchesCollect proves the text fast path and the const
// metrics say the same, through prometheus/common's parser.
func TestWriteTextMatchesCollect(t *testing.T) {
	for name, opts := range map[string]Options{
		"defaults":      {},
		"custom states": {States: []string{"Registered", "Unregistering"}, HealthyStates: []string{"Registered", "Unregistering"}},
	} {
		t.Run(name, func(t *testing.T) {
			e := newTestExporter(t, &stubLister{results: []stubResult{{listing: fixtureListing(t)}}}, opts)
			s := e.Scrape(context.Background())
			var fast bytes.Buffer
			if err := s.WriteText(&fast); err != nil {
				t.Fatal(err)
			}
			// Collect also yields the status metrics, which WriteText leaves
			// to the handler.
			ref := canonical(t, exposition(t, s), "dasha_up", "dasha_sip_phone_numbers", "dasha_scrape_duration_seconds", "dasha_last_success_timestamp_seconds")
			if got, want := canonical(t, fast.Bytes()), ref; got != want {
				t.Fatalf("WriteText differs from Collect:\n--- WriteText\n%s\n--- Collect\n%s", got, want)
			}
		})
	}
}

func TestFailedListingExportsNoNumbers(t *testing.T) {
	lister := &stubLister{results: []stubResult{
		{listing: fixtureListing(t)},
		{err: errors.New("GET /api/v1/sip-phone-numbers?skip=1000&take=1000: 503 Service Unavailable")},
	}}
	e := newTestExporter(t, lister, Options{})
	if s := e.Scrape(context.Background()); !s.OK() {
		t.Fatal(s.Err)
	}
	e.now = func() time.Time { return scrapeTime.Add(time.Minute) }
	s := e.Scrape(context.Background())
	if s.OK() {
		t.Fatal("second scrape should fail")
	}
	want := `# HELP dasha_last_success_timestamp_seconds When a listing last succeeded, in Unix seconds (a listing reused from --dasha.cache-ttl counts from when it was taken); absent until the first success.
# TYPE dasha_last_success_timestamp_seconds gauge
dasha_last_success_timestamp_seconds 1.7958672e+09
# HELP dasha_scrape_duration_seconds How long listing the SIP phone numbers took in this scrape (near 0 when --dasha.cache-ttl served a cached listing).
# TYPE dasha_scrape_duration_seconds gauge
dasha_scrape_duration_seconds 0
# HELP dasha_up 1 if the last listing of SIP phone numbers fetched every page, else 0.
# TYPE dasha_up gauge
dasha_up 0
`
	if err := testutil.CollectAndCompare(s, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	s.WriteText(&text)
	if text.Len() != 0 {
		t.Errorf("WriteText wrote %q for a failed listing", text.String())
	}
}

func TestLastSuccessOfACachedListingIsWhenItWasTaken(t *testing.T) {
	cached := fixtureListing(t)
	cached.Time = scrapeTime.Add(-20 * time.Second)
	e := newTestExporter(t, &stubLister{results: []stubResult{{listing: cached}}}, Options{})
	s := e.Scrape(context.Background())
	if !s.LastSuccess.Equal(cached.Time) {
		t.Errorf("last success %v, want the listing's time %v", s.LastSuccess, cached.Time)
	}
	// Expiry still counts from the scrape, not from the cached listing.
	mfs := parse(t, exposition(t, s))
	for _, m := range mfs["dasha_sip_registration_expiry_seconds"].GetMetric() {
		if labelValue(m.GetLabel(), "id") == "11111111-0000-4000-8000-000000000001" && m.GetGauge().GetValue() != 1800 {
			t.Errorf("expiry %v, want 1800 from the scrape time", m.GetGauge().GetValue())
		}
	}
}

func TestRecoveryIsLogged(t *testing.T) {
	var logs bytes.Buffer
	lister := &stubLister{results: []stubResult{{err: errors.New("503")}, {listing: fixtureListing(t)}, {listing: fixtureListing(t)}}}
	e, err := New(lister, Options{States: DefaultStates, HealthyStates: DefaultHealthyStates}, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		e.Scrape(context.Background())
	}
	if got := strings.Count(logs.String(), "works again"); got != 1 {
		t.Errorf("%d recovery lines, want 1:\n%s", got, logs.String())
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "503") {
		t.Errorf("the failure is not logged with its cause:\n%s", logs.String())
	}
}

func TestNoLastSuccessBeforeFirstSuccess(t *testing.T) {
	e := newTestExporter(t, &stubLister{results: []stubResult{{err: errors.New("boom")}}}, Options{})
	s := e.Scrape(context.Background())
	// dasha_up 0 and no dasha_last_success_timestamp_seconds at all.
	want := `# HELP dasha_up 1 if the last listing of SIP phone numbers fetched every page, else 0.
# TYPE dasha_up gauge
dasha_up 0
`
	if err := testutil.CollectAndCompare(s, strings.NewReader(want), "dasha_up", "dasha_last_success_timestamp_seconds"); err != nil {
		t.Fatal(err)
	}
}

func TestOptionsValidate(t *testing.T) {
	for name, o := range map[string]Options{
		"no states":     {HealthyStates: []string{"Registered"}},
		"empty state":   {States: []string{"Registered", ""}, HealthyStates: []string{"Registered"}},
		"duplicate":     {States: []string{"Registered", "Registered"}, HealthyStates: []string{"Registered"}},
		"no healthy":    {States: []string{"Registered"}},
		"empty healthy": {States: []string{"Registered"}, HealthyStates: []string{""}},
	} {
		if err := o.Validate(); err == nil {
			t.Errorf("%s: %+v accepted", name, o)
		}
	}
}

func TestCut(t *testing.T) {
	long := strings.Repeat("é", 200) // 400 bytes
	got := cut(long)
	if len(got) != 256 || !strings.HasPrefix(long, got) {
		t.Errorf("cut to %d bytes", len(got))
	}
	odd := "x" + long // the 256th byte is mid-rune
	if got := cut(odd); len(got) != 255 {
		t.Errorf("cut(odd) = %d bytes, want 255", len(got))
	}
	if cut("short") != "short" {
		t.Error("short string changed")
	}
}

func TestSIPCode(t *testing.T) {
	for in, want := range map[string]int{
		"200 OK":                        200,
		"403 Forbidden":                 403,
		"SIP/2.0 403 Forbidden":         403,
		"SIP/2.0 408 Request Timeout":   408,
		"sip/2.0 503":                   503,
		"Error 4031 then 480 Temporar":  480,
		"(401) Unauthorized":            401,
		"rejected with 403.":            403,
		"version 1.403 build":           0,
		"code 099 or 700":               0,
		"ABC403 Forbidden":              0,
		"":                              0,
		"no code":                       0,
		"Ошибка403":                     0,
		"Ошибка 486 Busy Here":          486,
		"12345 then 603 Decline":        603,
		"SIP/2.0 100 Trying; 183 Prog.": 100,
	} {
		got, ok := SIPCode(in)
		if want == 0 && ok {
			t.Errorf("SIPCode(%q) = %d, want none", in, got)
		}
		if want != 0 && (!ok || got != want) {
			t.Errorf("SIPCode(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
}

func TestFamiliesFitLabelValues(t *testing.T) {
	for _, f := range families {
		if len(f.labels) > maxFamilyLabels {
			t.Errorf("%s has %d labels; labelValues holds %d", f.name, len(f.labels), maxFamilyLabels)
		}
	}
}

// TestOptionsValidateNamesTheOptionNeutrally: errors name "states" or
// "healthy_states"; the caller says which flag or field that was.
func TestOptionsValidateNamesTheOptionNeutrally(t *testing.T) {
	many := make([]string, MaxStates+1)
	for i := range many {
		many[i] = strings.Repeat("S", i+1)
	}
	for _, tc := range []struct {
		o              Options
		option, substr string
	}{
		{Options{HealthyStates: []string{"A"}}, "states", "needs at least one state"},
		{Options{States: many, HealthyStates: []string{"S"}}, "states", "lists 65 states; at most 64"},
		{Options{States: many[:64], HealthyStates: many}, "healthy_states", "lists 65 states; at most 64"},
		{Options{States: []string{"A", "A"}, HealthyStates: []string{"A"}}, "states", `"A" is given twice`},
		{Options{States: []string{"A"}, HealthyStates: []string{"a"}}, "healthy_states", `"a" is not one of the states [A]`},
	} {
		err := tc.o.Validate()
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Option != tc.option || !strings.Contains(oe.Msg, tc.substr) || strings.Contains(err.Error(), "--") {
			t.Errorf("Validate = %v, want %s: ...%s...", err, tc.option, tc.substr)
		}
	}
	if err := (Options{States: many[:64], HealthyStates: many[:64]}).Validate(); err != nil {
		t.Errorf("64 states: %v", err)
	}
}
