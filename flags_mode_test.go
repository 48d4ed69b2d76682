package main

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dasha-exporter/dasha_exporter/internal/fakeapi"
)

// serveFlags wires the flags mode as run does, on a fake API of three
// numbers whose key is in a key file, and returns the mux and the file.
func serveFlags(t *testing.T, extra ...string) (*http.ServeMux, string) {
	t.Helper()
	api := httptest.NewServer(fakeapi.New("k", fakeapi.Fleet(3, time.Now())))
	t.Cleanup(api.Close)
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte("k\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := parseConfig(append([]string{"--dasha.url", api.URL, "--dasha.api-key-file", keyFile}, extra...), env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	return wire(t, cfg, env(nil), slog.New(slog.DiscardHandler)), keyFile
}

// wire serves cfg as run does, in either mode, on a mux of its own.
func wire(t *testing.T, cfg *config, getenv func(string) string, logger *slog.Logger) *http.ServeMux {
	t.Helper()
	src, getenv, err := source(t.Context(), cfg, getenv, logger)
	if err != nil {
		t.Fatal(err)
	}
	reg := newRegistry()
	registry, err := newAccounts(src, cfg, getenv, logger, reg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	routes(cfg, registry, reg, mux)
	reloadOnSIGHUP(t.Context(), registry, logger)
	return mux
}

func request(mux http.Handler, method, path string) (int, string) {
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Code, rec.Body.String()
}

// In flags mode /metrics answers as it always has, /probe?target=default
// answers the same account, readiness does not depend on the key, and
// SIGHUP does not end the process.
func TestFlagsMode(t *testing.T) {
	mux, keyFile := serveFlags(t)
	code, body := request(mux, "GET", "/metrics")
	for _, want := range []string{"dasha_up 1", "dasha_sip_phone_numbers 3", `dasha_api_requests_total{code="200"} 1`, "dasha_exporter_build_info"} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("/metrics: %d, lacks %q", code, want)
		}
	}
	if strings.Contains(body, "account=") || strings.Contains(body, "dasha_exporter_config_last_reload") {
		t.Errorf("/metrics in flags mode shows what only a configuration file has:\n%s", body)
	}
	if code, body := request(mux, "GET", "/probe?target=default"); code != http.StatusOK || !strings.Contains(body, "dasha_sip_phone_numbers 3") || strings.Contains(body, "dasha_api_requests_total") {
		t.Errorf("/probe?target=default: %d\n%s", code, body)
	}
	if code, _ := request(mux, "GET", "/probe?target=acme"); code != http.StatusBadRequest {
		t.Errorf("/probe of an unknown target: %d, want 400", code)
	}

	// A key file deleted at run time: the account fails, the exporter
	// stays ready.
	os.Remove(keyFile)
	if _, body := request(mux, "GET", "/metrics"); !strings.Contains(body, "dasha_up 0") {
		t.Errorf("/metrics without the key file:\n%s", body)
	}
	if code, _ := request(mux, "GET", "/-/ready"); code != http.StatusOK {
		t.Errorf("/-/ready without the key file: %d, want 200", code)
	}

	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // a SIGHUP not caught would have ended the test binary
	if code, _ := request(mux, "GET", "/-/healthy"); code != http.StatusOK {
		t.Errorf("/-/healthy after SIGHUP: %d", code)
	}
}

func TestReloadCanBeTurnedOff(t *testing.T) {
	mux, _ := serveFlags(t)
	if code, _ := request(mux, "POST", "/-/reload"); code != http.StatusOK {
		t.Errorf("POST /-/reload: %d, want 200 (nothing to reload)", code)
	}
	mux, _ = serveFlags(t, "--no-web.enable-reload")
	if code, _ := request(mux, "POST", "/-/reload"); code != http.StatusNotFound {
		t.Errorf("POST /-/reload with --no-web.enable-reload: %d, want 404", code)
	}
}
