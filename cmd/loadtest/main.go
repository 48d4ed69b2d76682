// Command loadtest measures the real dasha_exporter binary against an
// in-process fake Dasha API of N numbers: it builds (or takes) the
// exporter, starts it against the fake, scrapes /metrics K times as
// Prometheus does (gzip), and reports per scrape the wall time, the CPU
// seconds of the exporter process (/proc/<pid>/stat), the bytes it
// allocated (go_memstats_alloc_bytes_total), the bytes of exposition, the
// series per number, and the exporter's peak RSS (/proc/<pid>/status
// VmHWM).
//
//	go run ./cmd/loadtest -numbers 1000,10000,100000 -scrapes 5
//
// With -mode slow-readers or -mode idle (one fleet size in -numbers) it
// measures instead what stalled readers and held connections cost the
// exporter, and whether health, readiness and scrapes still answer:
//
//	go run ./cmd/loadtest -mode slow-readers -numbers 20000 -conns 40 -stall 5s
//	go run ./cmd/loadtest -mode idle -numbers 20000 -conns 3000 -held mix -hold 20s
//
// It runs on Linux only (it reads /proc).
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/dasha-exporter/dasha_exporter/internal/fakeapi"
	"github.com/dasha-exporter/dasha_exporter/internal/proc"
)

const apiKey = "loadtest-key-0123456789"

func main() {
	var (
		numbers     = flag.String("numbers", "1000,10000,100000", "comma-separated fleet sizes")
		scrapes     = flag.Int("scrapes", 5, "scrapes per fleet size (the first is reported apart: it has no page-count guess)")
		latency     = flag.Duration("latency", 0, "fake API latency per page")
		binary      = flag.String("exporter", "", "exporter binary; empty: go build the repository at -repo")
		repo        = flag.String("repo", ".", "repository root to build the exporter from")
		concurrency = flag.Int("concurrency", 4, "--dasha.concurrency")
		extraArgs   = flag.String("args", "", "extra exporter flags, space separated")
		env         = flag.String("env", "", "extra exporter environment, e.g. GOGC=50, comma separated")
		mode        = flag.String("mode", "scrape", "scrape: scrapes as Prometheus; slow-readers: -conns readers that stall (see connections.go); idle: -conns held connections")
		conns       = flag.Int("conns", 40, "slow-readers and idle: connections")
		stall       = flag.Duration("stall", 5*time.Second, "slow-readers: how long each reader reads nothing once its answer began")
		readFor     = flag.Duration("read-for", 20*time.Second, "slow-readers: how long each reader may then take to read its answer")
		rcvbuf      = flag.Int("rcvbuf", 4096, "slow-readers: each reader's receive buffer (0: the kernel's)")
		hold        = flag.Duration("hold", 20*time.Second, "idle: how long the connections are held after they are open")
		held        = flag.String("held", "mix", "idle: idle (after one request), half (a half-sent request) or mix")
		nofile      = flag.Int("nofile", 0, "slow-readers and idle: the exporter's open-files limit (0: inherited)")
	)
	flag.Parse()
	if *mode != "scrape" {
		n, err := strconv.Atoi(*numbers)
		if err == nil {
			err = runConnections(*mode, connOptions{binary: *binary, repo: *repo, extraArgs: *extraArgs, env: *env,
				numbers: n, conns: *conns, stall: *stall, readFor: *readFor, rcvbuf: *rcvbuf, hold: *hold, held: *held, nofile: *nofile})
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadtest:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*numbers, *scrapes, *latency, *binary, *repo, *concurrency, *extraArgs, *env); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

func run(numbers string, scrapes int, latency time.Duration, binary, repo string, concurrency int, extraArgs, env string) error {
	if binary == "" {
		dir, err := os.MkdirTemp("", "loadtest")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		binary = filepath.Join(dir, "dasha_exporter")
		build := exec.Command("go", "build", "-o", binary, ".")
		build.Dir, build.Stdout, build.Stderr = repo, os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("go build: %w", err)
		}
	}
	fmt.Printf("%-8s %-6s %9s %9s %12s %13s %9s %11s %9s %9s\n",
		"numbers", "scrape", "wall_s", "cpu_s", "alloc_MB", "exposition_MB", "gzip_MB", "series/num", "rss_MB", "hwm_MB")
	for _, f := range strings.Split(numbers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return fmt.Errorf("bad -numbers %q", numbers)
		}
		if err := measure(n, scrapes, latency, binary, concurrency, extraArgs, env); err != nil {
			return fmt.Errorf("%d numbers: %w", n, err)
		}
	}
	return nil
}

func measure(n, scrapes int, latency time.Duration, binary string, concurrency int, extraArgs, env string) error {
	fake := fakeapi.New(apiKey, fakeapi.Fleet(n, time.Now()))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	api := &http.Server{Handler: fake}
	go api.Serve(ln)
	defer api.Close()
	apiURL := "http://" + ln.Addr().String()
	// Encode every page once before measuring, so that the fake's work is
	// not mixed into the exporter's timings.
	for skip := 0; skip < n+1000; skip += 1000 {
		resp, err := http.Get(fmt.Sprintf("%s/api/v1/sip-phone-numbers?skip=%d&take=1000", apiURL, skip))
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	fake.Latency = latency

	port, err := proc.FreePort()
	if err != nil {
		return err
	}
	args := []string{"--dasha.url=" + apiURL, "--web.listen-address=" + port, "--dasha.timeout=120s",
		"--dasha.concurrency=" + strconv.Itoa(concurrency), "--log.level=warn"}
	args = append(args, strings.Fields(extraArgs)...)
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "DASHA_API_KEY="+apiKey)
	if env != "" {
		cmd.Env = append(cmd.Env, strings.Split(env, ",")...)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	pid := cmd.Process.Pid
	base := "http://" + port
	if err := proc.WaitReady(base + "/-/ready"); err != nil {
		return err
	}

	hc := &http.Client{Transport: &http.Transport{DisableCompression: true}, Timeout: 5 * time.Minute}
	prevCPU, _ := proc.CPUSeconds(pid)
	prevAlloc := -1.0
	for i := 1; i <= scrapes; i++ {
		req, _ := http.NewRequestWithContext(context.Background(), "GET", base+"/metrics", nil)
		req.Header.Set("Accept-Encoding", "gzip") // as Prometheus asks
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "120")
		start := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		wire, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		wall := time.Since(start)
		if err != nil {
			return err
		}
		body := wire
		if resp.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(wire))
			if err != nil {
				return err
			}
			if body, err = io.ReadAll(zr); err != nil {
				return err
			}
		}
		cpu, err := proc.CPUSeconds(pid)
		if err != nil {
			return err
		}
		rss, hwm, err := proc.Memory(pid)
		if err != nil {
			return err
		}
		m := sampleValues(body, "dasha_up", "dasha_sip_phone_numbers", "go_memstats_alloc_bytes_total")
		if m["dasha_up"] != 1 || m["dasha_sip_phone_numbers"] != float64(n) {
			return fmt.Errorf("scrape %d incomplete: dasha_up %v, dasha_sip_phone_numbers %v", i, m["dasha_up"], m["dasha_sip_phone_numbers"])
		}
		alloc := "-"
		if prevAlloc >= 0 {
			alloc = fmt.Sprintf("%.1f", (m["go_memstats_alloc_bytes_total"]-prevAlloc)/1e6)
		}
		prevAlloc = m["go_memstats_alloc_bytes_total"]
		series := countSeries(body, "dasha_sip_")
		fmt.Printf("%-8d %-6d %9.3f %9.3f %12s %13.1f %9.1f %11.2f %9.1f %9.1f\n",
			n, i, wall.Seconds(), cpu-prevCPU, alloc, float64(len(body))/1e6, float64(len(wire))/1e6,
			float64(series-1)/float64(n), rss, hwm) // -1: dasha_sip_phone_numbers
		prevCPU = cpu
	}
	return nil
}

// sampleValues finds unlabelled samples by name.
func sampleValues(body []byte, names ...string) map[string]float64 {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string]float64{}
	for line := range bytes.Lines(body) {
		name, val, ok := strings.Cut(strings.TrimSpace(string(line)), " ")
		if ok && want[name] {
			out[name], _ = strconv.ParseFloat(val, 64)
		}
	}
	return out
}

// countSeries counts sample lines whose name starts with prefix.
func countSeries(body []byte, prefix string) int {
	n := 0
	for line := range bytes.Lines(body) {
		if bytes.HasPrefix(line, []byte(prefix)) {
			n++
		}
	}
	return n
}
