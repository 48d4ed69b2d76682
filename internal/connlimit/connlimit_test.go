package connlimit

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

type testServer struct {
	t       *testing.T
	lim     *Limiter
	reg     *prometheus.Registry
	srv     *http.Server
	addr    string
	entered chan struct{} // a /block request has started
	release chan struct{} // lets one /block request answer
	written chan error    // what /big's writes ended with

	smallSendBuffers bool // so that the reader, not the kernel, sets the pace
}

type smallSendBuffers struct{ net.Listener }

func (l smallSendBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		c.(*net.TCPConn).SetWriteBuffer(16 << 10)
	}
	return c, err
}

// start serves /ok, /block and /big with a Limiter of max connections;
// tune may change the limiter or the server before it serves.
func start(t *testing.T, max int, tune func(*testServer)) *testServer {
	t.Helper()
	ts := &testServer{t: t, reg: prometheus.NewRegistry(), entered: make(chan struct{}, 16), release: make(chan struct{}), written: make(chan error, 1)}
	ts.lim = New(max, ts.reg)
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	mux.HandleFunc("/block", func(w http.ResponseWriter, r *http.Request) {
		ts.entered <- struct{}{}
		select {
		case <-ts.release:
		case <-r.Context().Done():
		}
		io.WriteString(w, "released")
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		size := 64 << 20
		if s := r.URL.Query().Get("size"); s == "3M" {
			size = 3 << 20
		}
		deadline := time.Now().Add(time.Minute)
		if r.URL.Query().Get("deadline") == "now" {
			deadline = time.Now()
		}
		w = WriteBy(w, deadline)
		chunk := make([]byte, 64<<10)
		var err error
		for written := 0; written < size && err == nil; written += len(chunk) {
			_, err = w.Write(chunk)
		}
		ts.written <- err
	})
	ts.srv = ts.lim.Server(mux)
	if tune != nil {
		tune(ts)
	}
	var ln net.Listener
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = ln.Addr().String()
	if ts.smallSendBuffers {
		ln = smallSendBuffers{ln}
	}
	if ts.srv.TLSConfig != nil {
		go ts.srv.ServeTLS(ts.lim.Listener(ln), "", "")
	} else {
		go ts.srv.Serve(ts.lim.Listener(ln))
	}
	t.Cleanup(func() { ts.srv.Close() })
	return ts
}

// client is a raw HTTP/1.1 connection.
type client struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func (ts *testServer) dial() *client {
	ts.t.Helper()
	c, err := net.DialTimeout("tcp", ts.addr, 5*time.Second)
	if err != nil {
		ts.t.Fatal(err)
	}
	ts.t.Cleanup(func() { c.Close() })
	return &client{t: ts.t, c: c, br: bufio.NewReader(c)}
}

func (c *client) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, s); err != nil {
		c.t.Fatal(err)
	}
}

func request(path string) string { return "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n" }

// answer reads one response, waiting at most 5 s.
func (c *client) answer() (string, error) {
	c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func (c *client) get(path string) string {
	c.t.Helper()
	c.send(request(path))
	body, err := c.answer()
	if err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
	return body
}

// closedByServer reports whether the server closes c within wait.
func (c *client) closedByServer(wait time.Duration) bool {
	c.c.SetReadDeadline(time.Now().Add(wait))
	_, err := c.br.ReadByte()
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return err != nil
}

func (ts *testServer) phases() map[string]float64 {
	mfs, err := ts.reg.Gather()
	if err != nil {
		ts.t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch mf.GetName() {
			case "dasha_exporter_http_connections":
				out[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
			case "dasha_exporter_http_connections_closed_total":
				out["closed:"+m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
			}
		}
	}
	return out
}

// waitFor polls cond for at most 5 s.
func (ts *testServer) waitFor(what string, cond func(map[string]float64) bool) {
	ts.t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(2 * time.Millisecond) {
		p := ts.phases()
		if cond(p) {
			return
		}
		if time.Now().After(deadline) {
			ts.t.Fatalf("not %s within 5s: %v", what, p)
		}
	}
}

// youngestClosableIs reports whether c is the connection that became
// closable last.
func (ts *testServer) youngestClosableIs(c *client) bool {
	ts.lim.mu.Lock()
	defer ts.lim.mu.Unlock()
	e := ts.lim.closable.Back()
	return e != nil && e.Value.(*conn).RemoteAddr().String() == c.c.LocalAddr().String()
}

func TestTheLongestIdleIsClosedAtTheLimit(t *testing.T) {
	ts := start(t, 2, nil)
	a, b := ts.dial(), ts.dial()
	a.get("/ok")
	b.get("/ok")
	a.get("/ok") // a was accepted first but answered last
	ts.waitFor("a idle last", func(p map[string]float64) bool { return p["idle"] == 2 && ts.youngestClosableIs(a) })

	if got := ts.dial().get("/ok"); got != "ok" {
		t.Fatalf("the new connection got %q", got)
	}
	if !b.closedByServer(5 * time.Second) {
		t.Error("the connection idle the longest was not closed to make room")
	}
	if a.closedByServer(300 * time.Millisecond) {
		t.Error("the connection idle since more recently was closed")
	}
	if p := ts.phases(); p["closed:max_connections"] != 1 {
		t.Errorf("closed to make room: %v", p)
	}
}

func TestAHalfSentRequestIsClosedBeforeAYoungerIdleConnection(t *testing.T) {
	ts := start(t, 2, nil)
	half := ts.dial()
	half.send("GET /ok HTTP/1.1\r\n")
	ts.waitFor("reading", func(p map[string]float64) bool { return p["reading"] == 1 })
	idle := ts.dial()
	idle.get("/ok")
	ts.waitFor("idle", func(p map[string]float64) bool { return p["idle"] == 1 })

	if got := ts.dial().get("/ok"); got != "ok" {
		t.Fatalf("the new connection got %q", got)
	}
	if !half.closedByServer(5 * time.Second) {
		t.Error("the half-sent request's connection was not closed to make room")
	}
	if idle.closedByServer(300 * time.Millisecond) {
		t.Error("the younger idle connection was closed")
	}
}

func TestARequestBeingAnsweredIsNeverClosed(t *testing.T) {
	ts := start(t, 2, nil)
	busy := ts.dial()
	busy.send(request("/block"))
	<-ts.entered
	idle := ts.dial()
	idle.get("/ok")
	ts.waitFor("idle", func(p map[string]float64) bool { return p["idle"] == 1 && p["answering"] == 1 })

	if got := ts.dial().get("/ok"); got != "ok" {
		t.Fatalf("the new connection got %q", got)
	}
	if !idle.closedByServer(5 * time.Second) {
		t.Error("the idle connection was not closed to make room")
	}
	ts.release <- struct{}{}
	if body, err := busy.answer(); err != nil || body != "released" {
		t.Errorf("the request being answered got %q, %v", body, err)
	}
}

// With every connection being answered, a new one waits for room rather
// than closing an answer or going over the limit.
func TestANewConnectionWaitsWhileEveryOneIsAnswered(t *testing.T) {
	ts := start(t, 1, nil)
	busy := ts.dial()
	busy.send(request("/block"))
	<-ts.entered

	waiting := ts.dial()
	waiting.send(request("/ok"))
	answered := make(chan string, 1)
	go func() {
		body, err := waiting.answer()
		if err != nil {
			body = err.Error()
		}
		answered <- body
	}()
	select {
	case got := <-answered:
		t.Fatalf("the new connection was answered (%q) while the only one allowed was being answered", got)
	case <-time.After(300 * time.Millisecond):
	}
	if busy.closedByServer(100 * time.Millisecond) {
		t.Fatal("the connection being answered was closed")
	}
	ts.release <- struct{}{}
	if body, err := busy.answer(); err != nil || body != "released" {
		t.Errorf("the request being answered got %q, %v", body, err)
	}
	if got := <-answered; got != "ok" {
		t.Errorf("the waiting connection got %q", got)
	}
}

// Thousands of idle or half-sent connections, in miniature: the server
// holds at most the limit and still answers.
func TestHeldConnectionsDoNotLockOutANewRequest(t *testing.T) {
	const max = 8
	ts := start(t, max, nil)
	for i := range 40 {
		c := ts.dial()
		if i%2 == 0 {
			c.send("GET /metrics HTTP/1.1\r\n")
		} else {
			c.get("/ok")
		}
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	resp, err := hc.Get("http://" + ts.addr + "/ok")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	p := ts.phases()
	if open := p["new"] + p["reading"] + p["answering"] + p["idle"]; open > max {
		t.Errorf("%v connections open, limit %d: %v", open, max, p)
	}
	if p["closed:max_connections"] < 40+1-max {
		t.Errorf("closed to make room: %v, want at least %d", p["closed:max_connections"], 40+1-max)
	}
}

func TestReadAndIdleTimeoutsAreCounted(t *testing.T) {
	ts := start(t, 8, func(ts *testServer) {
		ts.srv.ReadHeaderTimeout, ts.srv.IdleTimeout = 100*time.Millisecond, 100*time.Millisecond
	})
	half := ts.dial()
	half.send("GET /ok HTTP/1.1\r\n")
	idle := ts.dial()
	idle.get("/ok")
	if !half.closedByServer(5*time.Second) || !idle.closedByServer(5*time.Second) {
		t.Fatal("a timed-out connection stayed open")
	}
	ts.waitFor("counted", func(p map[string]float64) bool {
		return p["closed:read_timeout"] == 1 && p["closed:idle_timeout"] == 1
	})
}

// A client that asks for a large answer and never reads is cut after the
// send timeout, and its answer's writes fail.
func TestAStuckReaderIsCut(t *testing.T) {
	ts := start(t, 8, func(ts *testServer) { ts.lim.sendTimeout = 200 * time.Millisecond })
	stuck := ts.dial()
	stuck.c.(*net.TCPConn).SetReadBuffer(4096)
	stuck.send(request("/big"))
	select {
	case err := <-ts.written:
		if !errors.Is(err, syscall.ETIMEDOUT) && !strings.Contains(err.Error(), "timeout") {
			t.Errorf("the answer ended with %v, want a timeout", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a reader that never reads held its answer for 10s")
	}
	ts.waitFor("counted", func(p map[string]float64) bool { return p["closed:send_timeout"] == 1 })
}

// The answer's own deadline caps its writing, however the reader reads.
func TestTheAnswerDeadlineCapsWriting(t *testing.T) {
	ts := start(t, 8, func(ts *testServer) { ts.lim.writeAllowance = 100 * time.Millisecond })
	stuck := ts.dial()
	stuck.c.(*net.TCPConn).SetReadBuffer(4096)
	stuck.send(request("/big?deadline=now"))
	select {
	case err := <-ts.written:
		if err == nil {
			t.Error("64 MB were written to a reader that never reads")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the answer went on past its deadline")
	}
	ts.waitFor("counted", func(p map[string]float64) bool { return p["closed:answer_deadline"] == 1 })
}

// A reader that keeps taking bytes, though far slower than the server
// writes, gets the whole answer: the deadline moves with each piece.
func TestASlowButSteadyReaderIsNotCut(t *testing.T) {
	ts := start(t, 8, func(ts *testServer) {
		ts.lim.sendTimeout, ts.smallSendBuffers = time.Second, true
	})
	slow := ts.dial()
	slow.c.(*net.TCPConn).SetReadBuffer(64 << 10)
	slow.send(request("/big?size=3M"))
	resp, err := http.ReadResponse(slow.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	start := time.Now()
	buf := make([]byte, 32<<10)
	total := 0
	for {
		slow.c.SetReadDeadline(time.Now().Add(30 * time.Second))
		n, err := io.ReadFull(resp.Body, buf)
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		total += n
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d bytes: %v", total, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if total != 3<<20 {
		t.Errorf("read %d bytes, want %d", total, 3<<20)
	}
	if err := <-ts.written; err != nil {
		t.Errorf("the answer's writes failed: %v", err)
	}
	if p := ts.phases(); p["closed:send_timeout"] != 0 {
		t.Errorf("cut: %v", p)
	}
	t.Logf("read %d bytes in %v with a send timeout of 1s", total, time.Since(start))
}

func TestWriteByWrapsOnlyOnce(t *testing.T) {
	rec := httptest.NewRecorder()
	w := WriteBy(rec, time.Now().Add(time.Minute))
	if w == http.ResponseWriter(rec) {
		t.Fatal("a plain writer was not wrapped")
	}
	if again := WriteBy(w, time.Now()); again != w {
		t.Error("a paced writer was wrapped again")
	}
	io.WriteString(w, strings.Repeat("x", 100<<10))
	if rec.Body.Len() != 100<<10 {
		t.Errorf("wrote %d bytes through", rec.Body.Len())
	}
	if http.NewResponseController(w).Flush() != nil {
		t.Error("Flush does not reach the recorder")
	}
}

func TestMetricsLint(t *testing.T) {
	ts := start(t, 8, nil)
	problems, err := testutil.GatherAndLint(ts.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
	if p := ts.phases(); len(p) != 4+6 {
		t.Errorf("want every phase and reason from the start: %v", p)
	}
}

// Out of file descriptors, accept frees one by closing the longest
// closable connection.
func TestAcceptOutOfFilesClosesTheOldest(t *testing.T) {
	lim := New(8, prometheus.NewRegistry())
	fake := &fakeListener{conns: make(chan net.Conn, 2)}
	ln := lim.Listener(fake)
	idle, peer := net.Pipe()
	defer peer.Close()
	fake.conns <- idle
	if _, err := ln.Accept(); err != nil {
		t.Fatal(err)
	}
	fresh, peer2 := net.Pipe()
	defer peer2.Close()
	fake.conns <- fresh
	fake.failNext = syscall.EMFILE
	c, err := ln.Accept()
	if err != nil || c.(*conn).Conn != fresh {
		t.Fatalf("Accept = %v, %v", c, err)
	}
	if _, err := peer.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("the idle connection was not closed: %v", err)
	}
	if got := testutil.ToFloat64(lim.closed.WithLabelValues(reasonOpenFiles)); got != 1 {
		t.Errorf("closed for open files: %v", got)
	}
}

type fakeListener struct {
	net.Listener
	conns    chan net.Conn
	failNext error
}

func (f *fakeListener) Accept() (net.Conn, error) {
	if err := f.failNext; err != nil {
		f.failNext = nil
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: err}
	}
	return <-f.conns, nil
}

// ReadTimeout bounds reading the request, not answering it: a listing
// that outlasts it keeps its context (net/http clears the read deadline
// once the request is read).
func TestReadTimeoutDoesNotCancelALongAnswer(t *testing.T) {
	canceled := make(chan bool, 1)
	ts := start(t, 8, func(ts *testServer) {
		ts.srv.ReadTimeout = 50 * time.Millisecond
		inner := ts.srv.Handler
		ts.srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/long" {
				inner.ServeHTTP(w, r)
				return
			}
			select {
			case <-r.Context().Done():
				canceled <- true
			case <-time.After(500 * time.Millisecond):
				canceled <- false
			}
			io.WriteString(w, "done")
		})
	})
	c := ts.dial()
	if got := c.get("/long"); got != "done" {
		t.Errorf("got %q", got)
	}
	if <-canceled {
		t.Error("the answer's context was canceled by ReadTimeout")
	}
}
