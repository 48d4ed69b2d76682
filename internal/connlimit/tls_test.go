package connlimit

import (
	"bufio"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// Under TLS (--web.config.file) net/http reports the *tls.Conn; the
// Limiter finds its connection beneath, so phases and room work the same,
// over HTTP/1.1 and HTTP/2.
func TestTLSConnectionsAreTrackedToo(t *testing.T) {
	cert := httptest.NewTLSServer(http.NotFoundHandler())
	certificate := cert.TLS.Certificates[0]
	cert.Close()

	ts := start(t, 2, func(ts *testServer) {
		ts.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{certificate}}
	})
	dialTLS := func() *client {
		c, err := tls.Dial("tcp", ts.addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return &client{t: t, c: c, br: bufio.NewReader(c)}
	}
	idle := dialTLS()
	idle.get("/ok")
	ts.waitFor("idle", func(p map[string]float64) bool { return p["idle"] == 1 })

	// An HTTP/2 request being answered holds its connection.
	h2 := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}}
	answered := make(chan string, 1)
	go func() {
		resp, err := h2.Get("https://" + ts.addr + "/block")
		if err != nil {
			answered <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		answered <- resp.Proto + " " + string(b)
	}()
	<-ts.entered
	ts.waitFor("answering", func(p map[string]float64) bool { return p["answering"] == 1 })

	if got := dialTLS().get("/ok"); got != "ok" {
		t.Fatalf("a new TLS connection at the limit got %q", got)
	}
	if !idle.closedByServer(5 * time.Second) {
		t.Error("the idle TLS connection was not closed to make room")
	}
	ts.release <- struct{}{}
	if got := <-answered; got != "HTTP/2.0 released" {
		t.Errorf("the HTTP/2 request being answered got %q", got)
	}
}
