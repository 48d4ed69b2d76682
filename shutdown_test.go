package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dasha-exporter/dasha_exporter/client"
)

// Shutdown: on SIGTERM a scrape in flight runs to its own deadline
// and gets its answer, while new connections are refused.
func TestShutdownFinishesScrapesInFlight(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release // the listing, still within its deadline
		io.WriteString(w, "dasha_up 1\n")
	})}
	ctx, stop := context.WithCancel(t.Context())
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil))
	served := make(chan error, 1)
	go func() { served <- serve(ctx, srv, func() error { return srv.Serve(ln) }, time.Minute, logger) }()

	answer := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/metrics")
		if err != nil {
			answer <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		answer <- string(b)
	}()
	<-entered
	stop() // SIGTERM
	// New connections are refused once the listener is closed.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting connections 5s after the shutdown began")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-served:
		t.Fatalf("serve returned %v with a scrape in flight", err)
	default:
	}
	close(release)
	if got := <-answer; got != "dasha_up 1\n" {
		t.Errorf("the scrape in flight got %q, want its answer", got)
	}
	if err := <-served; err != nil {
		t.Errorf("serve = %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "shutting down") {
		t.Errorf("no shutdown line:\n%s", logs.String())
	}
}

// The drain is bounded by the longest scrape deadline there can be, plus
// time to answer: it used to be 5s, less than --dasha.timeout's default 10s.
func TestShutdownGraceCoversTheLongestScrape(t *testing.T) {
	if shutdownGrace <= client.MaxListingTime {
		t.Errorf("shutdown waits %v, less than a scrape may take (%v)", shutdownGrace, client.MaxListingTime)
	}
}

// A port already in use fails at once, without a misleading "shutting
// down; finishing scrapes in flight" line before the error.
func TestListenFailureLogsNoShutdown(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	var stderr bytes.Buffer
	err = run([]string{"--demo", "--web.listen-address=" + busy.Addr().String()}, func(string) string { return "" }, &stderr)
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("run = %v, want the port in use", err)
	}
	time.Sleep(100 * time.Millisecond) // the old shutdown goroutine logged after run returned
	if strings.Contains(stderr.String(), "shutting down") {
		t.Errorf("a shutdown line came before the error:\n%s", stderr.String())
	}
}

// --dasha.timeout may not ask for more than a listing may take.
func TestTimeoutFlagAtMostTheListingCap(t *testing.T) {
	_, err := parseConfig([]string{"--demo", "--dasha.timeout=3m"}, func(string) string { return "" }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--dasha.timeout 3m0s is out of range: more than 0, at most 2m0s") {
		t.Errorf("parseConfig = %v", err)
	}
	if _, err := parseConfig([]string{"--demo", "--dasha.timeout=2m"}, func(string) string { return "" }, io.Discard); err != nil {
		t.Errorf("--dasha.timeout=2m: %v", err)
	}
}

// serve returns what listen returns when it fails.
func TestServeReturnsAListenError(t *testing.T) {
	want := errors.New("listen tcp :9612: bind: address already in use")
	var logs bytes.Buffer
	err := serve(t.Context(), &http.Server{}, func() error { return want }, time.Minute, slog.New(slog.NewTextHandler(&logs, nil)))
	if !errors.Is(err, want) || logs.Len() != 0 {
		t.Errorf("serve = %v, logged %q", err, logs.String())
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
