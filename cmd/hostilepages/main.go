// Command hostilepages measures the real dasha_exporter binary's peak RSS
// while an API answers every page with something hostile: bodies just under
// or far over the page limit, millions of tiny items, huge strings. It
// builds (or takes) the exporter, starts it against a fake API, scrapes
// /metrics K times per case and reports dasha_up and the exporter's peak
// RSS (/proc/<pid>/status VmHWM). See docs/performance.md.
//
//	go run ./cmd/hostilepages -concurrency 4,64 -scrapes 5
//
// It runs on Linux only (it reads /proc).
package main

import (
	"bufio"
	"bytes"
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

	"github.com/dasha-exporter/dasha_exporter/internal/proc"
)

const apiKey = "hostilepages-key-0123456789"

// limit is the page limit the cases are sized against (client.maxPageBody).
const limit = 4 << 20

// cases are the hostile answers; each writes the page at skip. Where the
// first page is a good one claiming 65 pages, the other 64 are fetched
// --dasha.concurrency at a time: the case measures concurrency x limit.
var cases = []struct {
	name string
	page func(w io.Writer, skip int)
}{
	{"64 pages of tiny items just under the limit", func(w io.Writer, skip int) {
		if skip == 0 {
			goodPage(w)
			return
		}
		io.WriteString(w, `{"totalCount":65000,"items":[`)
		item := []byte(`{},`)
		for n := 0; n < (limit-64)/len(item); n++ {
			w.Write(item)
		}
		io.WriteString(w, `{}]}`)
	}},
	{"64 endless bodies", func(w io.Writer, skip int) {
		if skip == 0 {
			goodPage(w)
			return
		}
		io.WriteString(w, `{"totalCount":65000,"items":[`)
		item := bytes.Repeat([]byte(`{"id":"x","displayName":"`+strings.Repeat("y", 1000)+`"},`), 1000)
		for range 40 { // 40 MB, ten times the limit
			if _, err := w.Write(item); err != nil {
				return
			}
		}
	}},
	{"64 pages of 1000 huge items, 2 KB strings", func(w io.Writer, skip int) {
		if skip == 0 {
			goodPage(w)
			return
		}
		io.WriteString(w, `{"totalCount":65000,"items":[`)
		fat := strings.Repeat("x", 1900)
		for i := range 1000 {
			if i > 0 {
				io.WriteString(w, ",")
			}
			// registration is not a bool: the page decodes, then fails.
			fmt.Fprintf(w, `{"id":"%d-%s","phoneNumber":"%s","registration":"yes"}`, skip+i, fat, fat)
		}
		io.WriteString(w, `]}`)
	}},
	{"accepted: 4 pages of 1000 items of 4 KB", func(w io.Writer, skip int) {
		io.WriteString(w, `{"totalCount":4000,"items":[`)
		fat := strings.Repeat("x", 1900)
		for i := range 1000 {
			if i > 0 {
				io.WriteString(w, ",")
			}
			fmt.Fprintf(w, `{"id":"%d-%s","phoneNumber":"%s","registration":true}`, skip+i, fat, fat)
		}
		io.WriteString(w, `]}`)
	}},
	{"accepted: one 4 MB string", func(w io.Writer, skip int) {
		fmt.Fprintf(w, `{"totalCount":1,"items":[{"id":"a","displayName":"%s"}]}`, strings.Repeat("z", limit-100))
	}},
}

// goodPage is a first page of 1000 plain numbers that claims 65 pages.
func goodPage(w io.Writer) {
	io.WriteString(w, `{"totalCount":65000,"items":[`)
	for i := range 1000 {
		if i > 0 {
			io.WriteString(w, ",")
		}
		fmt.Fprintf(w, `{"id":"%d","phoneNumber":"+1415%07d","registration":true}`, i, i)
	}
	io.WriteString(w, `]}`)
}

func main() {
	var (
		conc    = flag.String("concurrency", "4,64", "comma-separated --dasha.concurrency values")
		scrapes = flag.Int("scrapes", 5, "scrapes per case")
		binary  = flag.String("exporter", "", "exporter binary; empty: go build the repository at -repo")
		repo    = flag.String("repo", ".", "repository root to build the exporter from")
	)
	flag.Parse()
	if err := run(*conc, *scrapes, *binary, *repo); err != nil {
		fmt.Fprintln(os.Stderr, "hostilepages:", err)
		os.Exit(1)
	}
}

func run(conc string, scrapes int, binary, repo string) error {
	if binary == "" {
		dir, err := os.MkdirTemp("", "hostilepages")
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
	fmt.Printf("%-45s %-11s %-8s %-9s %s\n", "case", "concurrency", "dasha_up", "hwm_MB", "scrape_s")
	for _, c := range strings.Split(conc, ",") {
		for _, tc := range cases {
			up, hwm, wall, err := measure(binary, strings.TrimSpace(c), scrapes, tc.page)
			if err != nil {
				return fmt.Errorf("%s: %w", tc.name, err)
			}
			fmt.Printf("%-45s %-11s %-8s %-9.1f %.2f\n", tc.name, c, up, hwm, wall.Seconds())
		}
	}
	return nil
}

func measure(binary, concurrency string, scrapes int, page func(io.Writer, int)) (up string, hwm float64, wall time.Duration, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", 0, 0, err
	}
	api := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		skip, _ := strconv.Atoi(r.URL.Query().Get("skip"))
		w.Header().Set("Content-Type", "application/json")
		bw := bufio.NewWriterSize(w, 64<<10)
		page(bw, skip)
		bw.Flush()
	})}
	go api.Serve(ln)
	defer api.Close()

	port, err := proc.FreePort()
	if err != nil {
		return "", 0, 0, err
	}
	cmd := exec.Command(binary, "--dasha.url=http://"+ln.Addr().String(), "--web.listen-address="+port,
		"--dasha.concurrency="+concurrency, "--log.level=error")
	cmd.Env = append(os.Environ(), "DASHA_API_KEY="+apiKey)
	if err := cmd.Start(); err != nil {
		return "", 0, 0, err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	base := "http://" + port
	if err := proc.WaitReady(base + "/-/ready"); err != nil {
		return "", 0, 0, err
	}
	start := time.Now()
	for range scrapes {
		req, _ := http.NewRequest("GET", base+"/metrics", nil)
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "10")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", 0, 0, err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		up = "?"
		for line := range bytes.Lines(body) {
			if v, ok := strings.CutPrefix(strings.TrimSpace(string(line)), "dasha_up "); ok {
				up = v
			}
		}
	}
	wall = time.Since(start) / time.Duration(scrapes)
	_, hwm, err = proc.Memory(cmd.Process.Pid)
	return up, hwm, wall, err
}
