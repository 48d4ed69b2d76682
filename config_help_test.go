package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestHelpShowsPlaceholdersAndWholeDefaults(t *testing.T) {
	var out bytes.Buffer
	app, _ := newApp(&config{}, &out)
	app.Terminate(nil)
	app.Parse([]string{"--help"})
	help := out.String()
	for _, want := range []string{
		"--dasha.api-key-file=FILE",
		"--dasha.phone-number=NUMBER",
		"--dasha.provider-id=UUID",
		"--dasha.linked-agent-id=ID",
		"--registration.state=STATE",
		"--registration.healthy-state=STATE",
		"Default: Registered, Registering,", // the list wraps; the rest is checked below
		"Failed, Disabled.",
	} {
		if !strings.Contains(help, want) {
			t.Errorf("--help lacks %q:\n%s", want, help)
		}
	}
	for _, bad := range []string{"DASHA.API-KEY-FILE", "Registered...", "DASHA.PROVIDER-ID"} {
		if strings.Contains(help, bad) {
			t.Errorf("--help shows %q", bad)
		}
	}
}

func TestDemoIgnoresURL(t *testing.T) {
	for _, u := range []string{"blackbox.dasha.ai", "ftp://x", "https://u:pw@x", "https://x/?q=1"} {
		if _, err := parseConfig([]string{"--demo", "--dasha.url=" + u}, env(nil), &bytes.Buffer{}); err != nil {
			t.Errorf("--demo --dasha.url=%s: %v", u, err)
		}
		if _, err := parseConfig([]string{"--dasha.url=" + u}, env(map[string]string{"DASHA_API_KEY": "sk-x"}), &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "--dasha.url") {
			t.Errorf("--dasha.url=%s without --demo: error %v, want one naming --dasha.url", u, err)
		}
	}
}
