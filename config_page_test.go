package main

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func getConfig(t *testing.T, mux http.Handler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/config", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/config: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// TestConfigPageFlags: in flags mode /config shows the flags' account,
// named default, with its tuning and its key source, never the key.
func TestConfigPageFlags(t *testing.T) {
	const key = "sk-live-0123456789abcdef"
	getenv := env(map[string]string{"DASHA_API_KEY": key})
	cfg, err := parseConfig([]string{"--dasha.page-size=500", "--dasha.provider-id=0b6f3b5e-8f0c-4b8a-9a51-7d1f2c3e4aee"}, getenv, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	body := getConfig(t, wire(t, cfg, getenv, slog.New(slog.DiscardHandler)))
	for _, want := range []string{"Source: the command-line flags", "\n  default:\n", "url: https://blackbox.dasha.ai\n",
		"api_key_env: DASHA_API_KEY\n", "page_size: 500\n", `provider_id: "0b6f3b5e-8f0c-4b8a-9a51-7d1f2c3e4aee"`} {
		if !strings.Contains(body, want) {
			t.Errorf("no %q in\n%s", want, body)
		}
	}
	if strings.Contains(body, key) {
		t.Errorf("the key is shown:\n%s", body)
	}
}

// TestConfigPageDemo: --demo says so, also of the key it supplies.
func TestConfigPageDemo(t *testing.T) {
	cfg, err := parseConfig([]string{"--demo"}, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	body := getConfig(t, wire(t, cfg, env(nil), slog.New(slog.DiscardHandler)))
	for _, want := range []string{"with --demo", "url: http://127.0.0.1:", "api_key_env: DASHA_API_KEY # --demo sets it"} {
		if !strings.Contains(body, want) {
			t.Errorf("no %q in\n%s", want, body)
		}
	}
}

// TestConfigPageConfigFile: with a configuration file /config shows its
// accounts and where they came from.
func TestConfigPageConfigFile(t *testing.T) {
	mux, path, apiURL := serveOneAccount(t, "acme")
	body := getConfig(t, mux)
	for _, want := range []string{`Source: the configuration file "` + path + `"`, "\n  acme:\n    url: " + apiURL + "\n    api_key_env: K\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("no %q in\n%s", want, body)
		}
	}
}

// --web.telemetry-path cannot take /config's place (the mux would panic).
func TestTelemetryPathIsNotConfig(t *testing.T) {
	if _, err := parseConfig([]string{"--demo", "--web.telemetry-path=/config"}, env(nil), &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "/config") {
		t.Errorf("err = %v", err)
	}
}

// TestConfigPageBehindWebConfig runs the exporter as main does, with a
// --web.config.file that asks for basic auth: /config answers 401 without
// the password, the configuration with it, and the landing page links to
// it. exporter-toolkit wraps the whole mux, so /config needs nothing of
// its own.
func TestConfigPageBehindWebConfig(t *testing.T) {
	dir := t.TempDir()
	webConfig := filepath.Join(dir, "web.yml")
	// bcrypt of "s3cret-pw", cost 4 (the least: the test checks it often).
	if err := os.WriteFile(webConfig, []byte("basic_auth_users:\n  prometheus: $2a$04$1e7qw1juaFGd2X3jxgYjKuV5fHhx7v1M.PA6mx1kQvh51BVAgyyAS\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // run listens on it; another process taking it meanwhile fails the test, never hangs it

	var logs bytes.Buffer
	var mu sync.Mutex
	done := make(chan error, 1)
	go func() {
		done <- run([]string{"--demo", "--web.listen-address=" + addr, "--web.config.file=" + webConfig}, env(nil), &lockedWriter{w: &logs, mu: &mu})
	}()
	get := func(path, user, password string) (int, string) {
		req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
		if user != "" {
			req.SetBasicAuth(user, password)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-done:
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("run ended: %v\n%s", err, logs.String())
		default:
		}
		if code, _ := get("/-/healthy", "prometheus", "s3cret-pw"); code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the exporter did not serve within 20s")
		}
	}
	defer func() {
		// run ends on SIGTERM, as in production; it is listening for it.
		syscall.Kill(os.Getpid(), syscall.SIGTERM)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run = %v", err)
			}
		case <-time.After(time.Minute):
			t.Error("run did not end on SIGTERM")
		}
	}()

	if code, body := get("/config", "", ""); code != http.StatusUnauthorized || strings.Contains(body, "accounts:") {
		t.Errorf("/config without a password: %d\n%s", code, body)
	}
	if code, _ := get("/config", "prometheus", "wrong"); code != http.StatusUnauthorized {
		t.Errorf("/config with a wrong password: %d", code)
	}
	if code, body := get("/config", "prometheus", "s3cret-pw"); code != http.StatusOK || !strings.Contains(body, "\n  default:\n") {
		t.Errorf("/config with the password: %d\n%s", code, body)
	}
	if code, body := get("/", "prometheus", "s3cret-pw"); code != http.StatusOK || !strings.Contains(body, `href="/config"`) {
		t.Errorf("the landing page does not link to /config: %d\n%s", code, body)
	}
}
