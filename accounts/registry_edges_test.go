package accounts

import (
	"bytes"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dasha-exporter/dasha_exporter/internal/fakeapi"
)

// logged is a registry on a file whose log is kept.
func logged(t *testing.T, cfg string, env map[string]string) (reg *Registry, write func(string), logs *bytes.Buffer, prom *prometheus.Registry) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dasha.yml")
	write = func(cfg string) {
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(cfg)
	logs, prom = &bytes.Buffer{}, prometheus.NewRegistry()
	reg, err := NewRegistry(File(path), Options{Defaults: testDefaults, Getenv: func(k string) string { return env[k] },
		Logger: slog.New(slog.NewTextHandler(logs, nil))}, prom)
	if err != nil {
		t.Fatal(err)
	}
	return reg, write, logs, prom
}

// What a load says about its accounts: a key not to be had yet, a plain
// http URL off this machine (not a loopback one), the accounts removed,
// and a failed reload while the running configuration stays.
func TestReloadLogsWhatItFound(t *testing.T) {
	reg, write, logs, prom := logged(t, "accounts:\n  remote:\n    url: http://dasha.example.com\n    api_key_env: K\n  local:\n    url: http://127.0.0.1:9\n    api_key_env: K\n  keyless:\n    platform: us\n    api_key_env: UNSET\n", map[string]string{"K": "k"})
	text := logs.String()
	for _, want := range []string{`unencrypted" component=accounts account=remote`, `no usable API key yet" component=accounts account=keyless`} {
		if !strings.Contains(text, want) {
			t.Errorf("no %s in:\n%s", want, text)
		}
	}
	for _, unwanted := range []string{"account=local url=", "account=keyless url=", "account=remote err="} {
		if strings.Contains(text, unwanted) {
			t.Errorf("%s in:\n%s", unwanted, text)
		}
	}
	if strings.Contains(text, "the running configuration stays") {
		t.Errorf("the first load logged a failed reload:\n%s", text)
	}

	logs.Reset()
	write("accounts:\n  local:\n    url: http://127.0.0.1:9\n    api_key_env: K\n")
	if err := reg.Reload(); err != nil {
		t.Fatal(err)
	}
	if text := logs.String(); !strings.Contains(text, "removed=\"[remote keyless]\"") && !strings.Contains(text, "removed=[remote keyless]") {
		t.Errorf("the removed accounts are not named:\n%s", text)
	}

	logs.Reset()
	before := time.Now()
	write("accounts: [\n")
	if err := reg.Reload(); err == nil {
		t.Fatal("a broken file reloaded")
	}
	if text := logs.String(); !strings.Contains(text, "level=ERROR") || !strings.Contains(text, "the running configuration stays") {
		t.Errorf("the failed reload is not logged:\n%s", text)
	}
	write("accounts:\n  local:\n    url: http://127.0.0.1:9\n    api_key_env: K\n")
	if err := reg.Reload(); err != nil {
		t.Fatal(err)
	}
	ts := testutil.ToFloat64(gathered(t, prom, "dasha_exporter_config_last_reload_success_timestamp_seconds"))
	if at := time.Unix(0, int64(ts*1e9)); at.Before(before.Add(-time.Second)) || at.After(time.Now().Add(time.Second)) {
		t.Errorf("last reload success at %v, want between %v and now", at, before)
	}
}

// gathered is one gauge of prom, as a collector for testutil.
func gathered(t *testing.T, prom *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	mfs, err := prom.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			v := mf.GetMetric()[0].GetGauge().GetValue()
			return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: "h"}, func() float64 { return v })
		}
	}
	t.Fatalf("no %s", name)
	return nil
}

// A reload closes the idle API connections of the accounts it replaced,
// and only theirs: an unchanged account keeps its connection.
func TestReloadClosesOnlyTheReplacedAccountsConnections(t *testing.T) {
	type api struct {
		srv    *httptest.Server
		mu     sync.Mutex
		closed int
	}
	start := func() *api {
		a := &api{}
		a.srv = httptest.NewUnstartedServer(fakeapi.New("k", fakeapi.Fleet(1, time.Now())))
		a.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
			if st == http.StateClosed {
				a.mu.Lock()
				a.closed++
				a.mu.Unlock()
			}
		}
		a.srv.Start()
		t.Cleanup(a.srv.Close)
		return a
	}
	closed := func(a *api) int {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.closed
	}
	changed, kept := start(), start()
	cfg := func(pageSize int) string {
		return "accounts:\n  changed:\n    url: " + changed.srv.URL + "\n    api_key_env: K\n    page_size: " + strings.Repeat("9", pageSize) + "\n  kept:\n    url: " + kept.srv.URL + "\n    api_key_env: K\n"
	}
	reg, write, _, _ := logged(t, cfg(1), map[string]string{"K": "k"})
	for _, name := range []string{"changed", "kept"} {
		rec := httptest.NewRecorder()
		reg.ProbeHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/probe?target="+name, nil))
		if !strings.Contains(rec.Body.String(), "dasha_up 1") {
			t.Fatalf("probe %s:\n%s", name, rec.Body.String())
		}
	}
	write(cfg(2))
	if err := reg.Reload(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(3 * time.Second); closed(changed) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the replaced account's idle connection was not closed")
		}
	}
	if n := closed(kept); n != 0 {
		t.Errorf("%d connections of the unchanged account closed", n)
	}
}
