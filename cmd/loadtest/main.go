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
// Two more modes compare what answers that share a listing cost against
// one scrape, as CPU seconds of the exporter process: -mode ha (a scrape,
// then its HA partner from the cache; the exporter runs with
// --dasha.cache-ttl=-cache-ttl) and -mode concurrent (-concurrent scrapes
// at once, which share one listing in flight). -exporter takes several
// binaries, comma separated, measured one after the other in one run (a
// build before a change and one after). -ids random gives every number
// random uuids, as a real fleet has (they compress as a real fleet does).
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

// opts are the flags of the modes that compare shared answers.
var opts struct {
	mode       string
	cacheTTL   time.Duration
	concurrent int
	ids        string
}

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
		conns       = flag.Int("conns", 40, "slow-readers and idle: connections")
		stall       = flag.Duration("stall", 5*time.Second, "slow-readers: how long each reader reads nothing once its answer began")
		readFor     = flag.Duration("read-for", 20*time.Second, "slow-readers: how long each reader may then take to read its answer")
		rcvbuf      = flag.Int("rcvbuf", 4096, "slow-readers: each reader's receive buffer (0: the kernel's)")
		hold        = flag.Duration("hold", 20*time.Second, "idle: how long the connections are held after their answers")
		held        = flag.String("held", "mix", "idle: idle (after one request), half (a half-sent request) or mix")
		nofile      = flag.Int("nofile", 0, "slow-readers and idle: the exporter's open-files limit (0: inherited)")
	)
	flag.StringVar(&opts.mode, "mode", "sequential", "sequential (one scrape after another), ha (a scrape and its HA partner from the cache, against one scrape), concurrent (-concurrent scrapes at once, against one scrape), slow-readers (-conns readers that stall) or idle (-conns held connections)")
	flag.DurationVar(&opts.cacheTTL, "cache-ttl", 2*time.Second, "-mode ha: --dasha.cache-ttl; rounds wait this long for the cache to expire")
	flag.IntVar(&opts.concurrent, "concurrent", 20, "-mode concurrent: scrapes at once")
	flag.StringVar(&opts.ids, "ids", "sequential", "number ids: sequential, or random uuids as a real fleet has")
	flag.Parse()
	if opts.mode == "slow-readers" || opts.mode == "idle" {
		n, err := strconv.Atoi(*numbers)
		if err == nil {
			err = runConnections(opts.mode, connOptions{binary: *binary, repo: *repo, extraArgs: *extraArgs, env: *env,
				numbers: n, latency: *latency, conns: *conns, stall: *stall, readFor: *readFor, rcvbuf: *rcvbuf, hold: *hold, held: *held, nofile: *nofile})
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
	for _, bin := range strings.Split(binary, ",") {
		if strings.Contains(binary, ",") {
			fmt.Printf("exporter %s\n", bin)
		}
		switch opts.mode {
		case "sequential":
			fmt.Printf("%-8s %-6s %9s %9s %12s %13s %9s %11s %9s %9s\n",
				"numbers", "scrape", "wall_s", "cpu_s", "alloc_MB", "exposition_MB", "gzip_MB", "series/num", "rss_MB", "hwm_MB")
		case "ha", "concurrent":
			fmt.Printf("%-8s %-6s %9s %11s %7s %9s %9s\n", "numbers", "round", "one_cpu_s", opts.mode+"_cpu_s", "ratio", "listings", "hwm_MB")
		default:
			return fmt.Errorf("bad -mode %q", opts.mode)
		}
		for _, f := range strings.Split(numbers, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				return fmt.Errorf("bad -numbers %q", numbers)
			}
			if err := measure(n, scrapes, latency, bin, concurrency, extraArgs, env); err != nil {
				return fmt.Errorf("%d numbers: %w", n, err)
			}
		}
	}
	return nil
}

// fleet is the fake API's fleet of n numbers.
func fleet(n int) []fakeapi.Number {
	numbers := fakeapi.Fleet(n, time.Now())
	if opts.ids == "random" {
		numbers = fakeapi.RandomIDs(numbers, 1) // the same fleet in every run
	}
	return numbers
}

func measure(n, scrapes int, latency time.Duration, binary string, concurrency int, extraArgs, env string) error {
	fake := fakeapi.New(apiKey, fleet(n))
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
	if opts.mode == "ha" {
		args = append(args, "--dasha.cache-ttl="+opts.cacheTTL.String())
	}
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

	hc := &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 64}, Timeout: 5 * time.Minute}
	if opts.mode != "sequential" {
		return compare(hc, base, pid, n, scrapes, fake)
	}
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

// compare runs rounds of one scrape against shared answers (-mode ha or
// concurrent) and prints the exporter's CPU seconds of each. The first
// round, which has no page-count guess, is a warm-up and not printed.
func compare(hc *http.Client, base string, pid, n, rounds int, fake *fakeapi.Server) error {
	one := func() error { return scrapeChecked(hc, base, n) }
	shared := func() error {
		if opts.mode == "ha" {
			if err := one(); err != nil {
				return err
			}
			return one() // the partner, from the cache
		}
		errs := make(chan error, opts.concurrent)
		for range opts.concurrent {
			go func() { errs <- one() }()
		}
		var first error
		for range opts.concurrent {
			if err := <-errs; err != nil && first == nil {
				first = err
			}
		}
		return first
	}
	var sumOne, sumShared float64
	for round := 0; round <= rounds; round++ {
		reqs := fake.Requests()
		cpuOne, err := cpuOf(pid, one)
		if err != nil {
			return err
		}
		reqsOne := fake.Requests() - reqs
		cpuShared, err := cpuOf(pid, shared)
		if err != nil {
			return err
		}
		// Listings the shared answers made, from the API requests: 1 when
		// every answer joined one listing (or the partner was cached).
		listings := float64(fake.Requests()-reqs-reqsOne) / float64(reqsOne)
		if round == 0 {
			continue
		}
		_, hwm, _ := proc.Memory(pid)
		sumOne, sumShared = sumOne+cpuOne, sumShared+cpuShared
		fmt.Printf("%-8d %-6d %9.3f %11.3f %7.2f %9.1f %9.1f\n", n, round, cpuOne, cpuShared, cpuShared/cpuOne, listings, hwm)
	}
	fmt.Printf("%-8d %-6s %9.3f %11.3f %7.2f\n", n, "mean", sumOne/float64(rounds), sumShared/float64(rounds), sumShared/sumOne)
	return nil
}

// cpuOf is the exporter's CPU seconds over f, once the cache of -mode ha
// has expired before it, and with time after it for the garbage collector
// to finish what f left.
func cpuOf(pid int, f func() error) (float64, error) {
	if opts.mode == "ha" {
		time.Sleep(opts.cacheTTL)
	}
	time.Sleep(300 * time.Millisecond)
	before, err := proc.CPUSeconds(pid)
	if err != nil {
		return 0, err
	}
	if err := f(); err != nil {
		return 0, err
	}
	time.Sleep(300 * time.Millisecond)
	after, err := proc.CPUSeconds(pid)
	return after - before, err
}

// scrapeChecked scrapes /metrics as Prometheus does and checks the answer
// is a whole fleet.
func scrapeChecked(hc *http.Client, base string, n int) error {
	req, _ := http.NewRequestWithContext(context.Background(), "GET", base+"/metrics", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "120")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(zr)
	if err != nil {
		return err
	}
	m := sampleValues(body, "dasha_up", "dasha_sip_phone_numbers")
	if m["dasha_up"] != 1 || m["dasha_sip_phone_numbers"] != float64(n) {
		return fmt.Errorf("incomplete answer: dasha_up %v, dasha_sip_phone_numbers %v", m["dasha_up"], m["dasha_sip_phone_numbers"])
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
