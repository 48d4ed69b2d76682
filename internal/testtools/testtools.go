// Package testtools finds the outside programs (promtool, prometheus,
// alertmanager, chromium) that some tests drive.
//
// A missing program fails the test when DASHA_REQUIRE_TOOLS or CI is set,
// so CI can never pass by skipping; on a developer machine it skips with a
// message that says what to install.
package testtools

import (
	"os"
	"os/exec"
	"testing"
)

// debianPackage names the Debian package that ships each program.
var debianPackage = map[string]string{
	"promtool":                "prometheus",
	"prometheus":              "prometheus",
	"prometheus-alertmanager": "prometheus-alertmanager",
	"alertmanager":            "prometheus-alertmanager",
	"amtool":                  "prometheus-alertmanager",
	"chromium":                "chromium",
}

// Required reports whether missing tools must fail tests rather than skip them.
func Required() bool {
	return os.Getenv("DASHA_REQUIRE_TOOLS") != "" || os.Getenv("CI") != ""
}

// Find returns the path of the first of names found on PATH. When none is
// found it fails the test (see Required) or skips it.
func Find(t testing.TB, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	pkg := debianPackage[names[0]]
	if Required() {
		t.Fatalf("%v not found on PATH; install it (apt-get install -y %s) or run `make tools`", names, pkg)
	}
	t.Skipf("SKIPPED: %v not found on PATH; install it (apt-get install -y %s) to run this test", names, pkg)
	return ""
}
