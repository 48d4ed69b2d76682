package client

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dasha-exporter/dasha_exporter/internal/fakeapi"
)

// Every API request is logged at debug level with its method, path (the
// key redacted), status, time and attempt: in the exporter's log when it
// is at debug, and always in the listing's own log.
func TestEveryRequestIsLogged(t *testing.T) {
	fake := fakeapi.New(testKey, ftNumbers(25))
	var debugLog, infoLog bytes.Buffer
	for _, tc := range []struct {
		log   *bytes.Buffer
		level slog.Level
	}{{&debugLog, slog.LevelDebug}, {&infoLog, slog.LevelInfo}} {
		c, _, _ := newTestClient(t, fake, func(cfg *Config) {
			cfg.Logger = slog.New(slog.NewTextHandler(tc.log, &slog.HandlerOptions{Level: tc.level}))
			cfg.Filters.LinkedAgentID = testKey // a key pasted where the path shows it
		})
		run := NewShared(c, 0).WithRedact(func(s string) string { return RedactText(s, testKey) }).Run(listCtx(t))
		if run.Err != nil || run.How != Started {
			t.Fatalf("run: %v, %s", run.Err, run.How)
		}
		text := run.Log.Text()
		for _, want := range []string{`msg="API request" method=GET path="/api/v1/sip-phone-numbers?linkedAgentId=[REDACTED]&skip=0&take=10" status=200`, "attempt=1", "took="} {
			if !strings.Contains(text, want) {
				t.Errorf("the listing's log lacks %q:\n%s", want, text)
			}
		}
		if strings.Contains(text, testKey) {
			t.Errorf("the listing's log shows the key:\n%s", text)
		}
	}
	if !strings.Contains(debugLog.String(), `msg="API request"`) || strings.Contains(debugLog.String(), testKey) {
		t.Errorf("the exporter's debug log:\n%s", debugLog.String())
	}
	if strings.Contains(infoLog.String(), "API request") {
		t.Errorf("the exporter's info log shows debug lines:\n%s", infoLog.String())
	}
}

// A caller that joins a listing in flight, or reuses a cached one, gets
// that listing's log and is told how it got it.
func TestRunSaysHowAndSharesTheLog(t *testing.T) {
	// Whether the second caller joined before the listing ended cannot be
	// observed from outside: one that came late reuses the cache instead.
	// Such a round proves nothing and is tried again.
	for round := 0; round < 5; round++ {
		fake := fakeapi.New(testKey, ftNumbers(5))
		release := make(chan struct{})
		var once sync.Once
		arrived := make(chan struct{})
		fake.SetInterceptor(func(w http.ResponseWriter, r *http.Request, page int) bool {
			once.Do(func() { close(arrived) })
			<-release
			return false
		})
		c, _, _ := newTestClient(t, fake, nil)
		s := NewShared(c, time.Hour)
		first, second := make(chan *Run), make(chan *Run)
		go func() { first <- s.Run(listCtx(t)) }()
		<-arrived
		go func() { second <- s.Run(listCtx(t)) }()
		time.Sleep(20 * time.Millisecond << round)
		close(release)
		a, b := <-first, <-second
		if b.How == Cached {
			continue
		}
		if a.How != Started || b.How != Joined || a.Log != b.Log || a.Err != nil || b.Err != nil {
			t.Errorf("first %s (%v), second %s (%v), same log %v", a.How, a.Err, b.How, b.Err, a.Log == b.Log)
		}
		c3 := s.Run(listCtx(t))
		if c3.How != Cached || c3.Log != a.Log || !strings.Contains(c3.Log.Text(), "API request") {
			t.Errorf("third: %s, same log %v", c3.How, c3.Log == a.Log)
		}
		return
	}
	t.Skip("the second caller never arrived while the listing was in flight")
}

func TestListingLogIsBounded(t *testing.T) {
	l := NewListingLog(nil)
	line := strings.Repeat("x", 1000) + "\n"
	for range 100 {
		l.Write([]byte(line))
	}
	text := l.Text()
	if len(text) > MaxListingLog+200 || !strings.Contains(text, "more bytes") {
		t.Errorf("log of %d bytes, ends %q", len(text), text[len(text)-100:])
	}
}
