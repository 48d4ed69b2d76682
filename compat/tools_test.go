// Package compat checks what ships around the exporter against the tools
// users run it with: Prometheus 3's promtool, helm, go-jsonnet, goreleaser
// and systemd-analyze. It is a module of its own so that those tools, and
// this package's dependencies, stay out of the exporter's go.mod; `make
// test-compat` builds the tools at pinned versions and runs it.
package compat

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// root is the exporter's repository.
const root = ".."

// tool returns the path of a tool from the environment variable env (set by
// make test-compat) or, when fallback is not empty, from PATH. With
// DASHA_REQUIRE_TOOLS or CI set a missing tool fails the test; otherwise the
// test is skipped and says what is missing.
func tool(t *testing.T, env, fallback string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s=%s: %v", env, p, err)
		}
		return p
	}
	if fallback != "" {
		if p, err := exec.LookPath(fallback); err == nil {
			return p
		}
	}
	msg := "set " + env + " (make test-compat does)"
	if fallback != "" {
		msg += " or put " + fallback + " on PATH"
	}
	if os.Getenv("DASHA_REQUIRE_TOOLS") != "" || os.Getenv("CI") != "" {
		t.Fatal("required tool missing: " + msg)
	}
	t.Skip("tool missing: " + msg)
	return ""
}

// run runs a tool in dir and returns its combined output; a failure fails
// the test with that output.
func run(t *testing.T, dir, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	return string(out)
}

func glob(t *testing.T, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("nothing matches %s: %v", pattern, err)
	}
	return files
}
