// Package deploy holds the Helm chart and the systemd units; it has no Go
// code of its own. These tests need no outside tool: they keep the chart's
// copies of the rules and dashboards equal to the shipped files and check
// the units' hardening. Rendering the chart (helm), promtool 3 and
// systemd-analyze run in the compat module (make test-compat).
package deploy

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

const chart = "helm/dasha-exporter"

// maxDrain is the longest the exporter waits after SIGTERM for the scrapes
// in flight: a listing runs for at most 2 minutes, and the shutdown grace
// adds 10 s to write the answer (main.go's shutdownGrace).
const maxDrain = 130 * time.Second

// TestChartCopiesInSync fails when the chart's copy of a rule file or a
// dashboard differs from the shipped one. Fix with `make sync-deploy`.
func TestChartCopiesInSync(t *testing.T) {
	for _, c := range []struct{ shipped, copied string }{
		{"../alerts/*.rules.yml", chart + "/files/alerts"},
		{"../dashboards/*.json", chart + "/files/dashboards"},
	} {
		shipped, err := filepath.Glob(c.shipped)
		if err != nil || len(shipped) == 0 {
			t.Fatalf("no files match %s: %v", c.shipped, err)
		}
		copies, _ := filepath.Glob(filepath.Join(c.copied, "*"))
		if len(copies) != len(shipped) {
			t.Errorf("%s holds %d files, %s matches %d: run make sync-deploy", c.copied, len(copies), c.shipped, len(shipped))
		}
		for _, src := range shipped {
			want, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(c.copied, filepath.Base(src))
			got, err := os.ReadFile(dst)
			if err != nil {
				t.Errorf("%s: %v: run make sync-deploy", dst, err)
				continue
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from %s: run make sync-deploy", dst, src)
			}
		}
	}
}

// unit reads a systemd unit file into key -> values (a key may repeat).
func unit(t *testing.T, path string) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string][]string{}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: not key=value: %q", path, line)
		}
		keys[k] = append(keys[k], v)
	}
	return keys
}

func TestSystemdUnitsHardened(t *testing.T) {
	for _, tc := range []struct {
		path       string
		listenFlag string
	}{
		{"systemd/dasha_exporter.service", "--web.listen-address=:9612"},
		{"systemd/socket-activated/dasha_exporter.service", "--web.systemd-socket"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			u := unit(t, tc.path)
			for k, want := range map[string]string{
				"DynamicUser":           "yes",
				"ProtectSystem":         "strict",
				"NoNewPrivileges":       "yes",
				"Restart":               "on-failure",
				"ProtectHome":           "yes",
				"PrivateTmp":            "yes",
				"LoadCredential":        "api-key:/etc/dasha_exporter/api-key",
				"CapabilityBoundingSet": "",
			} {
				if got := u[k]; len(got) != 1 || got[0] != want {
					t.Errorf("%s=%q, want %q", k, got, want)
				}
			}
			exec := strings.Join(u["ExecStart"], " ")
			if !strings.Contains(exec, "--dasha.api-key-file=%d/api-key") || !strings.Contains(exec, tc.listenFlag) {
				t.Errorf("ExecStart=%s: want --dasha.api-key-file=%%d/api-key and %s", exec, tc.listenFlag)
			}
			for k, vs := range u {
				for _, v := range vs {
					if strings.Contains(v, "DASHA_API_KEY=") {
						t.Errorf("%s=%s puts the key in the environment", k, v)
					}
				}
			}
			stop, err := time.ParseDuration(strings.Join(u["TimeoutStopSec"], ""))
			if err != nil || stop <= maxDrain {
				t.Errorf("TimeoutStopSec=%v (%v): must outlast the %v drain", u["TimeoutStopSec"], err, maxDrain)
			}
		})
	}
	s := unit(t, "systemd/socket-activated/dasha_exporter.socket")
	if got := s["ListenStream"]; len(got) != 1 || got[0] != "9612" {
		t.Errorf("socket ListenStream=%v, want 9612", got)
	}
}

// TestChartGracePeriodOutlastsDrain reads the chart's default.
func TestChartGracePeriodOutlastsDrain(t *testing.T) {
	data, err := os.ReadFile(chart + "/values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^terminationGracePeriodSeconds: (\d+)$`).FindSubmatch(data)
	if m == nil {
		t.Fatal("values.yaml sets no terminationGracePeriodSeconds")
	}
	secs, _ := strconv.Atoi(string(m[1]))
	if time.Duration(secs)*time.Second <= maxDrain {
		t.Errorf("terminationGracePeriodSeconds %d must outlast the %v drain", secs, maxDrain)
	}
}
