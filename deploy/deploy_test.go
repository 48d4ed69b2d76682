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

	"github.com/dasha-exporter/dasha_exporter/accounts"
	"github.com/dasha-exporter/dasha_exporter/collector"
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
		path string
		// ExecStart must hold each of these.
		args []string
		// LoadCredential's values; nil: checked by a test of its own.
		credentials []string
	}{
		{"systemd/dasha_exporter.service", []string{"--dasha.api-key-file=%d/api-key", "--web.listen-address=:9612"},
			[]string{"api-key:/etc/dasha_exporter/api-key"}},
		{"systemd/socket-activated/dasha_exporter.service", []string{"--dasha.api-key-file=%d/api-key", "--web.systemd-socket"},
			[]string{"api-key:/etc/dasha_exporter/api-key"}},
		{configFileUnit, []string{"--config.file=/etc/dasha_exporter/config.yml", "--web.listen-address=:9612"}, nil},
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
				"CapabilityBoundingSet": "",
			} {
				if got := u[k]; len(got) != 1 || got[0] != want {
					t.Errorf("%s=%q, want %q", k, got, want)
				}
			}
			if tc.credentials != nil && strings.Join(u["LoadCredential"], " ") != strings.Join(tc.credentials, " ") {
				t.Errorf("LoadCredential=%q, want %q", u["LoadCredential"], tc.credentials)
			}
			exec := strings.Join(u["ExecStart"], " ")
			for _, arg := range tc.args {
				if !strings.Contains(exec, arg) {
					t.Errorf("ExecStart=%s: want %s", exec, arg)
				}
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

const (
	configFileUnit = "systemd/config-file/dasha_exporter.service"
	configExample  = "systemd/config-file/config.yml"
	// credentialsDir is $CREDENTIALS_DIRECTORY (%d) of dasha_exporter.service.
	credentialsDir = "/run/credentials/dasha_exporter.service/"
)

// TestSystemdConfigFileUnit: the config-file unit reloads on `systemctl
// reload` (SIGHUP to the exporter, not to a wrapper), and its example
// configuration, valid for the exporter, takes every account's key from a
// credential the unit loads, by the absolute path of systemd's copy (%d is
// not expanded inside the file), with no credential left unused.
func TestSystemdConfigFileUnit(t *testing.T) {
	u := unit(t, configFileUnit)
	if got := u["ExecReload"]; len(got) != 1 || got[0] != "/bin/kill -HUP $MAINPID" {
		t.Errorf("ExecReload=%q, want /bin/kill -HUP $MAINPID", got)
	}
	if got := u["Type"]; len(got) != 1 || got[0] != "simple" {
		t.Errorf("Type=%q: $MAINPID must be the exporter itself (simple)", got)
	}

	// name -> the file systemd copies.
	creds := map[string]string{}
	for _, c := range u["LoadCredential"] {
		name, path, ok := strings.Cut(c, ":")
		if !ok || !strings.HasPrefix(path, "/etc/dasha_exporter/keys/") {
			t.Errorf("LoadCredential=%s: want <name>:/etc/dasha_exporter/keys/<file>", c)
			continue
		}
		if _, dup := creds[name]; dup {
			t.Errorf("credential %s loaded twice", name)
		}
		creds[name] = path
	}
	if len(creds) < 2 {
		t.Fatalf("LoadCredential=%q: want one per account of the example (several)", u["LoadCredential"])
	}

	data, err := os.ReadFile(configExample)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") && (strings.Contains(line, "%d") || strings.Contains(line, "$CREDENTIALS_DIRECTORY")) {
			t.Errorf("%s: %q: nothing expands %%d or $CREDENTIALS_DIRECTORY in this file", configExample, line)
		}
	}
	settings, err := accounts.Parse(data, "/etc/dasha_exporter", accounts.Defaults{
		Timeout: 10 * time.Second, TimeoutOffset: 500 * time.Millisecond, PageSize: 1000, Concurrency: 4,
		Collector: collector.Options{States: collector.DefaultStates, HealthyStates: collector.DefaultHealthyStates}})
	if err != nil {
		t.Fatalf("%s: %v", configExample, err)
	}
	used := map[string]bool{}
	for _, s := range settings {
		name, ok := strings.CutPrefix(s.KeyFile, credentialsDir)
		if s.KeyEnv != "" || !ok {
			t.Errorf("account %s: key from %q%s, want api_key_file: %s<credential>", s.Name, s.KeyFile, s.KeyEnv, credentialsDir)
			continue
		}
		if _, loaded := creds[name]; !loaded {
			t.Errorf("account %s reads credential %s, which the unit does not load", s.Name, name)
		}
		used[name] = true
	}
	for name := range creds {
		if !used[name] {
			t.Errorf("the unit loads credential %s, which no account of %s reads", name, configExample)
		}
	}
	// The unit's ExecStart reads the file where the install puts it.
	if !strings.Contains(strings.Join(u["ExecStart"], " "), "--config.file=/etc/dasha_exporter/config.yml") {
		t.Errorf("ExecStart=%q does not read /etc/dasha_exporter/config.yml", u["ExecStart"])
	}
}
