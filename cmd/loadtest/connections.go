package main

// The connection modes: what readers that stall and connections that are
// held open cost the exporter, and whether it still answers meanwhile.

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dasha-exporter/dasha_exporter/internal/fakeapi"
	"github.com/dasha-exporter/dasha_exporter/internal/proc"
)

// connOptions are the flags of the slow-readers and idle modes.
type connOptions struct {
	binary, repo, extraArgs, env string
	numbers                      int
	latency                      time.Duration // the fake API's latency per page: how fast listings, and so answers, follow each other
	conns                        int
	stall                        time.Duration // slow-readers: how long each reads nothing
	readFor                      time.Duration // slow-readers: how long each may then take to read its answer
	rcvbuf                       int           // slow-readers: receive buffer while stalled; 0: the kernel's
	hold                         time.Duration // idle: how long the connections are held
	held                         string        // idle: idle, half or mix
	nofile                       int           // the exporter's open-files limit; 0: inherited
}

func runConnections(mode string, o connOptions) error {
	if o.binary == "" {
		bin, cleanup, err := buildExporter(o.repo)
		if err != nil {
			return err
		}
		defer cleanup()
		o.binary = bin
	}
	bins := strings.Split(o.binary, ",") // a build before a change and one after
	for _, bin := range bins {
		if len(bins) > 1 {
			fmt.Printf("exporter %s\n", bin)
		}
		o.binary = bin
		if err := runConnectionMode(mode, o); err != nil {
			return err
		}
	}
	return nil
}

func runConnectionMode(mode string, o connOptions) error {
	ex, err := startExporter(o)
	if err != nil {
		return err
	}
	defer ex.stop()
	if mode == "slow-readers" {
		return slowReaders(ex, o)
	}
	return idleConnections(ex, o)
}

func buildExporter(repo string) (string, func(), error) {
	dir, err := os.MkdirTemp("", "loadtest")
	if err != nil {
		return "", nil, err
	}
	binary := filepath.Join(dir, "dasha_exporter")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Dir, build.Stdout, build.Stderr = repo, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("go build: %w", err)
	}
	return binary, func() { os.RemoveAll(dir) }, nil
}

type exporter struct {
	addr string // host:port
	pid  int
	stop func()
}

// startExporter runs the binary against an in-process fake API of
// o.numbers numbers and waits until it is ready.
func startExporter(o connOptions) (*exporter, error) {
	fake := fakeapi.New(apiKey, fleet(o.numbers)) // -ids applies
	fake.Latency = o.latency
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	api := &http.Server{Handler: fake}
	go api.Serve(ln)
	port, err := proc.FreePort()
	if err != nil {
		api.Close()
		return nil, err
	}
	args := append([]string{"--dasha.url=http://" + ln.Addr().String(), "--web.listen-address=" + port, "--dasha.timeout=120s", "--log.level=warn"},
		strings.Fields(o.extraArgs)...)
	cmd := exec.Command(o.binary, args...)
	if o.nofile > 0 { // ulimit -n sets the hard limit too, which Go would otherwise raise the soft one to
		cmd = exec.Command("sh", append([]string{"-c", `ulimit -n ` + strconv.Itoa(o.nofile) + ` && exec "$0" "$@"`, o.binary}, args...)...)
	}
	cmd.Env = append(os.Environ(), "DASHA_API_KEY="+apiKey)
	if o.env != "" {
		cmd.Env = append(cmd.Env, strings.Split(o.env, ",")...)
	}
	cmd.Stderr = &lineLimiter{w: os.Stderr, max: 20}
	if err := cmd.Start(); err != nil {
		api.Close()
		return nil, err
	}
	ex := &exporter{addr: port, pid: cmd.Process.Pid, stop: func() { cmd.Process.Kill(); cmd.Wait(); api.Close() }}
	if err := proc.WaitReady("http://" + port + "/-/ready"); err != nil {
		ex.stop()
		return nil, err
	}
	return ex, nil
}

// lineLimiter passes on the first max writes (log lines) and counts the
// rest: a flood of the exporter's accept errors would drown the report.
type lineLimiter struct {
	mu       sync.Mutex
	w        io.Writer
	max, got int
}

func (l *lineLimiter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.got++; l.got <= l.max {
		l.w.Write(p)
	}
	return len(p), nil
}

// slowReaders opens o.conns connections one after another, each once the
// previous one's answer has begun (so each has a listing of its own). Each
// asks for /metrics without gzip with a receive buffer of o.rcvbuf bytes,
// reads nothing for o.stall, then reads its whole answer, for at most
// o.readFor. (On loopback a 4 KB buffer stays slow after it is raised:
// the kernel drops the 64 KB segments that do not fit, and a reader that
// stalled with one takes minutes for a 33 MB answer.)
func slowReaders(ex *exporter, o connOptions) error {
	type result struct {
		status int
		body   int // bytes
		series int // dasha_sip_registration_enabled lines: one per number
		err    error
	}
	results := make([]result, o.conns)
	var wg sync.WaitGroup
	began := time.Now()
	for i := range o.conns {
		c, err := net.DialTimeout("tcp", ex.addr, 10*time.Second)
		if err != nil {
			results[i].err = err
			continue
		}
		if o.rcvbuf > 0 {
			c.(*net.TCPConn).SetReadBuffer(o.rcvbuf)
		}
		fmt.Fprintf(c, "GET /metrics HTTP/1.1\r\nHost: loadtest\r\nX-Prometheus-Scrape-Timeout-Seconds: 120\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(2 * time.Minute))
		first := make([]byte, 1)
		if _, err := io.ReadFull(c, first); err != nil { // the answer has begun
			results[i].err = err
			c.Close()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			time.Sleep(o.stall)
			c.SetReadDeadline(time.Now().Add(o.readFor))
			resp, err := http.ReadResponse(bufio.NewReaderSize(io.MultiReader(bytes.NewReader(first), c), 64<<10), nil)
			if err != nil {
				results[i].err = err
				return
			}
			defer resp.Body.Close()
			results[i].status = resp.StatusCode
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				results[i].body += len(sc.Bytes()) + 1
				if bytes.HasPrefix(sc.Bytes(), []byte("dasha_sip_registration_enabled{")) {
					results[i].series++
				}
			}
			results[i].err = sc.Err()
		}()
	}
	allBegun := time.Since(began)
	wg.Wait()
	rss, hwm, err := proc.Memory(ex.pid)
	if err != nil {
		return err
	}
	complete, got200 := 0, 0
	errs := map[string]int{}
	for _, r := range results {
		if r.status == http.StatusOK {
			got200++
		}
		if r.err == nil && r.status == http.StatusOK && r.series == o.numbers {
			complete++
		} else if errors.Is(r.err, io.ErrUnexpectedEOF) {
			errs["cut by the exporter before the end"]++
		} else if errors.Is(r.err, os.ErrDeadlineExceeded) {
			errs[fmt.Sprintf("still reading when the loadtest gave up (%v)", o.readFor)]++
		} else if r.err != nil {
			errs[shortError(r.err)]++
		} else {
			errs[fmt.Sprintf("incomplete body (%d of %d numbers)", r.series, o.numbers)]++
		}
	}
	fmt.Printf("slow readers: %d numbers, %d connections, receive buffer %d (0: the kernel's), each reading nothing for %v after its answer began (all begun after %.1fs)\n",
		o.numbers, o.conns, o.rcvbuf, o.stall, allBegun.Seconds())
	fmt.Printf("  status 200: %d/%d   whole answer: %d/%d   peak RSS (VmHWM): %.1f MB   RSS at the end: %.1f MB\n",
		got200, o.conns, complete, o.conns, hwm, rss)
	for e, n := range errs {
		fmt.Printf("  %d x %s\n", n, e)
	}
	return printConnectionMetrics(ex)
}

// idleConnections opens o.conns connections that are held: idle after one
// full request (GET /-/healthy, read), half-sent (only the request line of
// GET /metrics), or half of each. Meanwhile it polls /-/healthy and
// /-/ready every 100 ms and scrapes /metrics every 2 s (gzip, kept alive,
// as Prometheus), and samples the exporter's sockets and RSS.
func idleConnections(ex *exporter, o connOptions) error {
	stop := make(chan struct{})
	var probes sync.WaitGroup
	worst := map[string]time.Duration{}
	fails := map[string]int{}
	counts := map[string]int{}
	var mu sync.Mutex
	record := func(path string, d time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		counts[path]++
		if err != nil {
			fails[path]++
		}
		worst[path] = max(worst[path], d)
	}
	fresh := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	keptAlive := &http.Client{Timeout: 10 * time.Second}
	poll := func(client *http.Client, path string, every time.Duration, gz bool) {
		defer probes.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			req, _ := http.NewRequest("GET", "http://"+ex.addr+path, nil)
			if gz {
				req.Header.Set("Accept-Encoding", "gzip")
			}
			start := time.Now()
			resp, err := client.Do(req)
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode != http.StatusOK {
					err = errors.New(resp.Status)
				}
			}
			record(path, time.Since(start), err)
		}
	}
	probes.Add(3)
	go poll(fresh, "/-/healthy", 100*time.Millisecond, false)
	go poll(fresh, "/-/ready", 100*time.Millisecond, false)
	go poll(keptAlive, "/metrics", 2*time.Second, true)

	peakSockets := 0
	var sampling sync.WaitGroup
	sampling.Add(1)
	go func() {
		defer sampling.Done()
		for {
			peakSockets = max(peakSockets, sockets(ex.pid))
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()

	began := time.Now()
	var held []net.Conn
	var answers sync.WaitGroup
	var answerFailed atomic.Int64
	for i := range o.conns {
		c, err := net.DialTimeout("tcp", ex.addr, 5*time.Second)
		if err != nil {
			continue
		}
		held = append(held, c)
		if o.held == "half" || (o.held == "mix" && i%2 == 0) {
			io.WriteString(c, "GET /metrics HTTP/1.1\r\n")
			continue
		}
		io.WriteString(c, "GET /-/healthy HTTP/1.1\r\nHost: loadtest\r\n\r\n")
		answers.Add(1)
		go func() { // read the answer, then stay idle
			defer answers.Done()
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			if err != nil {
				answerFailed.Add(1)
			}
		}()
	}
	opened := time.Since(began)
	answers.Wait()
	time.Sleep(o.hold)
	stillOpen := 0
	for _, c := range held {
		c.SetReadDeadline(time.Now().Add(time.Millisecond))
		_, err := c.Read(make([]byte, 1))
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			stillOpen++
		}
	}
	heldSockets := sockets(ex.pid)
	close(stop)
	probes.Wait()
	sampling.Wait()
	for _, c := range held {
		c.Close()
	}
	rss, hwm, err := proc.Memory(ex.pid)
	if err != nil {
		return err
	}
	fmt.Printf("held connections: %d numbers, %d %s connections opened in %.1fs and held %v after their answers\n", o.numbers, o.conns, o.held, opened.Seconds(), o.hold)
	fmt.Printf("  connected: %d/%d   idle ones whose request went unanswered: %d   still open at the end (client's view): %d\n",
		len(held), o.conns, answerFailed.Load(), stillOpen)
	fmt.Printf("  exporter's sockets (/proc/%d/fd, with the listener, API and probe connections): peak %d, at the end %d\n", ex.pid, peakSockets, heldSockets)
	fmt.Printf("  peak RSS (VmHWM): %.1f MB   RSS at the end: %.1f MB\n", hwm, rss)
	paths := []string{"/-/healthy", "/-/ready", "/metrics"}
	for _, p := range paths {
		fmt.Printf("  %-10s %4d requests, %d failed, slowest %v\n", p, counts[p], fails[p], worst[p].Round(time.Millisecond))
	}
	return printConnectionMetrics(ex)
}

// sockets counts the process's open sockets.
func sockets(pid int) int {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return -1
	}
	n := 0
	for _, e := range entries {
		if target, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && strings.HasPrefix(target, "socket:") {
			n++
		}
	}
	return n
}

// printConnectionMetrics shows the exporter's own connection metrics.
func printConnectionMetrics(ex *exporter) error {
	req, _ := http.NewRequest("GET", "http://"+ex.addr+"/metrics", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := (&http.Client{Timeout: time.Minute, Transport: &http.Transport{DisableCompression: true}}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		if body, err = gzip.NewReader(resp.Body); err != nil {
			return err
		}
	}
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var lines []string
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "dasha_exporter_http_connections") {
			lines = append(lines, line)
		}
	}
	sort.Strings(lines)
	fmt.Printf("  exporter's metrics: %s\n", strings.Join(lines, "  "))
	return sc.Err()
}

func shortError(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && strings.Contains(s, "read tcp") {
		s = "read: " + s[i+2:]
	}
	return s
}
