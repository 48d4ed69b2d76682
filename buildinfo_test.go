package main

import (
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	vcs := func(rev, when, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{
			{Key: "-trimpath", Value: "true"},
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: rev},
			{Key: "vcs.time", Value: when},
			{Key: "vcs.modified", Value: modified},
		}
	}
	for _, tc := range []struct {
		name             string
		info             *debug.BuildInfo
		wantVer, wantRev string
		wantDate         string
	}{
		{name: "no build info", info: nil},
		{
			name:    "go install @v0.1.0: module version, no VCS",
			info:    &debug.BuildInfo{Main: debug.Module{Path: "github.com/dasha-exporter/dasha_exporter", Version: "v0.1.0"}},
			wantVer: "v0.1.0",
		},
		{
			name:    "go install @commit: the pseudo-version",
			info:    &debug.BuildInfo{Main: debug.Module{Version: "v0.1.1-0.20261130120000-0123456789ab"}},
			wantVer: "v0.1.1-0.20261130120000-0123456789ab",
		},
		{
			name:     "go build in a clean checkout: (devel) is no version; commit and time",
			info:     &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("0123456789abcdef0123456789abcdef01234567", "2026-11-30T12:00:00Z", "false")},
			wantRev:  "0123456789abcdef0123456789abcdef01234567",
			wantDate: "2026-11-30T12:00:00Z",
		},
		{
			name:     "uncommitted changes are marked",
			info:     &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("0123456789abcdef0123456789abcdef01234567", "2026-11-30T12:00:00Z", "true")},
			wantRev:  "0123456789abcdef0123456789abcdef01234567-modified",
			wantDate: "2026-11-30T12:00:00Z",
		},
		{
			name: "modified without a revision adds nothing",
			info: &debug.BuildInfo{Settings: []debug.BuildSetting{{Key: "vcs.modified", Value: "true"}}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ver, rev, date := fromBuildInfo(tc.info)
			if ver != tc.wantVer || rev != tc.wantRev || date != tc.wantDate {
				t.Errorf("fromBuildInfo = (%q, %q, %q), want (%q, %q, %q)", ver, rev, date, tc.wantVer, tc.wantRev, tc.wantDate)
			}
		})
	}
}

func TestOrDefault(t *testing.T) {
	if got := orDefault("0.1.0", "v9"); got != "0.1.0" {
		t.Errorf("a value set by -ldflags was replaced: %q", got)
	}
	if got := orDefault("", "v0.1.0"); got != "v0.1.0" {
		t.Errorf("empty value not filled: %q", got)
	}
}
