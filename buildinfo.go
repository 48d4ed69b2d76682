package main

import (
	"runtime/debug"

	"github.com/prometheus/common/version"
)

// A release build sets prometheus/common/version's fields with -ldflags -X
// (Makefile, Dockerfile, .goreleaser.yaml). `go install …@v0.1.0` and
// `go run .` set none of them; the Go toolchain still records the module
// version and, in a VCS checkout, the commit. Fill the empty fields from
// that, so every build reports what it was built from.
func init() {
	if info, ok := debug.ReadBuildInfo(); ok {
		v, rev, date := fromBuildInfo(info)
		version.Version = orDefault(version.Version, v)
		version.Revision = orDefault(version.Revision, rev)
		version.BuildDate = orDefault(version.BuildDate, date)
	}
}

// fromBuildInfo returns the version, revision and build date that info
// records: the main module's version (v0.1.0, or a pseudo-version; not
// "(devel)", which is what a build inside the source tree says), and the
// VCS commit and its time. A commit built with uncommitted changes gets
// "-modified", as prometheus/common does. Empty where info does not say.
func fromBuildInfo(info *debug.BuildInfo) (ver, revision, date string) {
	if info == nil {
		return "", "", ""
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		ver = v
	}
	modified := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.time":
			date = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if revision != "" && modified {
		revision += "-modified"
	}
	return ver, revision, date
}

func orDefault(set, fallback string) string {
	if set != "" {
		return set
	}
	return fallback
}
