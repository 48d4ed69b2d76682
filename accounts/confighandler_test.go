package accounts

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, "/config", nil))
	return rec
}

// TestConfigHandler: GET answers the effective configuration as text that
// browsers show and parses back; HEAD the same headers; other methods 405.
func TestConfigHandler(t *testing.T) {
	s := validSettings()
	h := ConfigHandler(func() ([]Settings, Provenance) { return []Settings{s}, Provenance{} }, nil)

	rec := get(t, h, http.MethodGet)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET: %d %s", rec.Code, rec.Body)
	}
	for k, want := range map[string]string{
		"Content-Type":           "text/plain; charset=utf-8",
		"X-Content-Type-Options": "nosniff",
		"Cache-Control":          "no-store",
	} {
		if got := rec.Header().Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	got, err := Parse(rec.Body.Bytes(), "", testDefaults)
	if err != nil || len(got) != 1 || !got[0].Equal(&s) {
		t.Errorf("the body does not parse back (%v):\n%s", err, rec.Body)
	}

	head := get(t, h, http.MethodHead)
	if head.Code != http.StatusOK || head.Body.Len() != 0 || head.Header().Get("Content-Length") != rec.Header().Get("Content-Length") {
		t.Errorf("HEAD: %d, %d bytes, Content-Length %q", head.Code, head.Body.Len(), head.Header().Get("Content-Length"))
	}

	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		rec := get(t, h, m)
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: %d, Allow %q", m, rec.Code, rec.Header().Get("Allow"))
		}
	}
}

// TestConfigHandlerFollowsReloads: /config shows the running configuration
// of a Registry, the file's path and load, and a reload at once.
func TestConfigHandlerFollowsReloads(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "dasha.yml")
	write := func(content string) {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("accounts:\n  b:\n    platform: us\n    api_key_env: B_KEY\n  a:\n    url: http://127.0.0.1:1\n    api_key_env: A_KEY\n")
	r, err := NewRegistry(File(path), Options{Defaults: testDefaults, Getenv: func(string) string { return "" }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := ConfigHandler(r.Effective, nil)
	body := get(t, h, http.MethodGet).Body.String()
	if !strings.Contains(body, `Source: the configuration file "`+path+`", loaded `) {
		t.Errorf("no source in\n%s", body)
	}
	if b, a := strings.Index(body, "\n  b:\n"), strings.Index(body, "\n  a:\n"); b < 0 || a < b {
		t.Errorf("accounts not in the file's order:\n%s", body)
	}

	write("accounts:\n  c:\n    platform: ru\n    api_key_env: C_KEY\n")
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	body = get(t, h, http.MethodGet).Body.String()
	if !strings.Contains(body, "\n  c:\n    platform: ru") || strings.Contains(body, "\n  a:\n") {
		t.Errorf("the reload does not show:\n%s", body)
	}
}

// TestConfigHandlerRenderingError answers 500 with no detail in the body.
func TestConfigHandlerRenderingError(t *testing.T) {
	s := validSettings()
	s.TLS.MinVersion = 1 // no TLS version: MarshalYAML fails
	rec := get(t, ConfigHandler(func() ([]Settings, Provenance) { return []Settings{s}, Provenance{} }, nil), http.MethodGet)
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "accounts:") {
		t.Errorf("%d %s", rec.Code, rec.Body)
	}
}
