package compat

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// goreleaser v2.15.1 validates .goreleaser.yaml (make release-check also
// builds a snapshot; that is too slow for a test).
func TestGoreleaserCheck(t *testing.T) {
	goreleaser := tool(t, "GORELEASER", "")
	out := run(t, root, goreleaser, "check")
	if strings.Contains(strings.ToLower(out), "deprecat") {
		t.Errorf("goreleaser check reports deprecated settings:\n%s", out)
	}
}

// systemd-analyze verify on the units as installed, with ExecStart's path
// pointing at a stand-in executable (verify checks that it exists).
func TestSystemdAnalyzeVerify(t *testing.T) {
	analyze := tool(t, "SYSTEMD_ANALYZE", "systemd-analyze")
	for _, dir := range []string{"deploy/systemd", "deploy/systemd/socket-activated", "deploy/systemd/config-file"} {
		t.Run(dir, func(t *testing.T) {
			tmp := t.TempDir()
			bin := filepath.Join(tmp, "dasha_exporter")
			if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			units, _ := filepath.Glob(filepath.Join(root, dir, "dasha_exporter.*"))
			if len(units) == 0 {
				t.Fatalf("no units in %s", dir)
			}
			var args []string
			for _, u := range units {
				data, err := os.ReadFile(u)
				if err != nil {
					t.Fatal(err)
				}
				dst := filepath.Join(tmp, filepath.Base(u))
				os.WriteFile(dst, []byte(strings.ReplaceAll(string(data), "/usr/local/bin/dasha_exporter", bin)), 0o644)
				args = append(args, dst)
			}
			cmd := exec.Command(analyze, append([]string{"verify"}, args...)...)
			cmd.Dir = tmp
			out, err := cmd.CombinedOutput()
			// verify only warns about unknown keys; any output is a finding.
			if err != nil || len(strings.TrimSpace(string(out))) > 0 {
				t.Errorf("systemd-analyze verify %s: %v\n%s", dir, err, out)
			}
			if !strings.HasSuffix(dir, "socket-activated") { // --threshold is in tenths: 20 is an exposure of 2.0 ("OK")
				out, err := exec.Command(analyze, "security", "--offline=yes", "--threshold=20", filepath.Join(tmp, "dasha_exporter.service")).CombinedOutput()
				if err != nil {
					lines := strings.Split(strings.TrimSpace(string(out)), "\n")
					t.Errorf("systemd-analyze security: exposure above 2.0: %v\n%s", err, lines[len(lines)-1])
				}
			}
		})
	}
}
