package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// No Docker engine runs in the tests; these check the Dockerfile's
// structure, and that the Makefile, the Dockerfile and goreleaser stamp the
// same version variables.

func readText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// xVars are the package variables an -X flag in text sets.
func xVars(text string) []string {
	var vars []string
	for _, m := range regexp.MustCompile(`-X\s+([\w./-]+)\.(\w+)=`).FindAllStringSubmatch(text, -1) {
		vars = append(vars, m[1]+"."+m[2])
	}
	slices.Sort(vars)
	return slices.Compact(vars)
}

func makefileXVars(t *testing.T) []string {
	mk := readText(t, "Makefile")
	mk = strings.ReplaceAll(mk, "$(VERSION_PKG)", "github.com/prometheus/common/version")
	vars := xVars(mk)
	if len(vars) < 5 {
		t.Fatalf("Makefile sets only %v", vars)
	}
	return vars
}

// dockerStages splits a Dockerfile into its stages' instructions, with
// continuation lines joined and comments dropped.
func dockerStages(t *testing.T, path string) [][]string {
	t.Helper()
	var stages [][]string
	var cur strings.Builder
	for _, line := range strings.Split(readText(t, path), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		inst := cur.String()
		cur.Reset()
		if strings.HasPrefix(inst, "FROM ") {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			t.Fatalf("%s: %q before the first FROM", path, inst)
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], inst)
	}
	return stages
}

func TestDockerfile(t *testing.T) {
	stages := dockerStages(t, "Dockerfile")
	if len(stages) != 2 {
		t.Fatalf("%d stages, want build and run", len(stages))
	}
	build, final := stages[0], stages[1]
	if !strings.HasPrefix(build[0], "FROM --platform=$BUILDPLATFORM golang:") {
		t.Errorf("build stage %q must run on $BUILDPLATFORM and cross-compile", build[0])
	}
	if final[0] != "FROM gcr.io/distroless/static-debian13:nonroot" {
		t.Errorf("final stage %q, want the current distroless static nonroot base", final[0])
	}
	if got := readText(t, "release.Dockerfile"); !strings.Contains(got, "\n"+final[0]+"\n") {
		t.Errorf("release.Dockerfile does not use %q", final[0])
	}
	argRef := regexp.MustCompile(`\$\{?(\w+)`)
	for i, stage := range stages {
		declared := map[string]bool{}
		for _, inst := range stage[1:] {
			if name, ok := strings.CutPrefix(inst, "ARG "); ok {
				name, _, _ = strings.Cut(name, "=")
				declared[name] = true
				continue
			}
			if !strings.HasPrefix(inst, "RUN ") && !strings.HasPrefix(inst, "LABEL ") {
				continue
			}
			for _, m := range argRef.FindAllStringSubmatch(inst, -1) {
				if !declared[m[1]] {
					t.Errorf("stage %d uses $%s without an ARG in that stage: %s", i, m[1], inst)
				}
			}
		}
	}
	buildText := strings.Join(build, "\n")
	for _, want := range []string{"GOOS=${TARGETOS}", "GOARCH=${TARGETARCH}", "CGO_ENABLED=0"} {
		if !strings.Contains(buildText, want) {
			t.Errorf("build stage lacks %s", want)
		}
	}
	if got, want := xVars(buildText), makefileXVars(t); !slices.Equal(got, want) {
		t.Errorf("Dockerfile -X %v, Makefile %v", got, want)
	}
	finalText := strings.Join(final, "\n")
	for _, label := range []string{"source", "version", "revision", "licenses", "created"} {
		if !strings.Contains(finalText, "org.opencontainers.image."+label+"=") {
			t.Errorf("no org.opencontainers.image.%s label", label)
		}
	}
	if !slices.Contains(final, "USER 65532:65532") || !slices.Contains(final, `ENTRYPOINT ["/bin/dasha_exporter"]`) {
		t.Errorf("final stage must run /bin/dasha_exporter as 65532: %q", final)
	}
	// make docker passes every version build argument.
	mk := readText(t, "Makefile")
	for _, arg := range []string{"VERSION", "REVISION", "BRANCH", "BUILD_DATE", "CREATED"} {
		if !strings.Contains(mk, "--build-arg "+arg+"=") {
			t.Errorf("make docker does not pass --build-arg %s", arg)
		}
		if !strings.Contains(readText(t, "Dockerfile"), "ARG "+arg+"=") {
			t.Errorf("Dockerfile has no ARG %s", arg)
		}
	}
}

func TestGoreleaserMatchesMakefile(t *testing.T) {
	var cfg struct {
		Builds []struct {
			Ldflags []string `yaml:"ldflags"`
			Goos    []string `yaml:"goos"`
			Goarch  []string `yaml:"goarch"`
			Goarm   []string `yaml:"goarm"`
			Ignore  []struct {
				Goos   string `yaml:"goos"`
				Goarch string `yaml:"goarch"`
			} `yaml:"ignore"`
		} `yaml:"builds"`
	}
	if err := yaml.Unmarshal([]byte(readText(t, ".goreleaser.yaml")), &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Builds) != 1 {
		t.Fatalf("%d builds, want 1", len(cfg.Builds))
	}
	b := cfg.Builds[0]
	if got, want := xVars(strings.Join(b.Ldflags, " ")), makefileXVars(t); !slices.Equal(got, want) {
		t.Errorf("goreleaser -X %v, Makefile %v", got, want)
	}
	var targets []string
	for _, goos := range b.Goos {
		for _, goarch := range b.Goarch {
			ignored := slices.ContainsFunc(b.Ignore, func(i struct {
				Goos   string `yaml:"goos"`
				Goarch string `yaml:"goarch"`
			}) bool {
				return i.Goos == goos && i.Goarch == goarch
			})
			if ignored {
				continue
			}
			if goarch == "arm" {
				for _, v := range b.Goarm {
					targets = append(targets, goos+"/armv"+v)
				}
				continue
			}
			targets = append(targets, goos+"/"+goarch)
		}
	}
	slices.Sort(targets)
	want := []string{"darwin/arm64", "linux/amd64", "linux/arm64", "linux/armv7", "windows/amd64"}
	if !slices.Equal(targets, want) {
		t.Errorf("release targets %v, want %v", targets, want)
	}
}
