# dasha_exporter — build, test and lint.
#
#   make build   static binary ./dasha_exporter with version information
#   make demo    build and run on the built-in simulated fleet (no API key)
#   make demo-stack  the demo exporter, Prometheus with the rules, Alertmanager
#                with the example routing, and a receiver printing each
#                notification (scripts/demo-stack.sh; DEMO_FOR=30s shortens for:,
#                DEMO_*_PORT move its ports). Needs Go, prometheus and
#                prometheus-alertmanager only: not make tools, no root.
#   make test    the whole test suite: unit, golden, promtool rule tests and
#                the end-to-end test with a real Prometheus and Alertmanager
#   make lint    gofmt, go vet, staticcheck, promtool check rules
#   make test-compat  Prometheus 3's promtool, helm lint/template, the jsonnet
#                mixin, goreleaser check, systemd-analyze verify (slow: builds tools)
#   make sync-deploy  copy alerts/ and dashboards/ into the Helm chart
#   make docker  container image for this machine's platform
#   make release-check  goreleaser check and a snapshot build into dist/
#   make bench   benchmarks with allocations
#   make fuzz    each fuzz target for FUZZTIME (default 30s)
#   make mutation  mutation testing of client/, collector/ and accounts/
#                (gremlins; slow: about an hour on a shared machine)

GO       ?= go
BINARY   ?= dasha_exporter
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BRANCH   ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)
FUZZTIME ?= 30s
BUILD_DATE ?= $(shell date -u +%Y%m%d-%H:%M:%S)

VERSION_PKG := github.com/prometheus/common/version
LDFLAGS := -s -w \
	-X $(VERSION_PKG).Version=$(VERSION) \
	-X $(VERSION_PKG).Revision=$(REVISION) \
	-X $(VERSION_PKG).Branch=$(BRANCH) \
	-X $(VERSION_PKG).BuildUser=$(shell id -un 2>/dev/null)@$(shell hostname 2>/dev/null) \
	-X $(VERSION_PKG).BuildDate=$(BUILD_DATE)

# Outside programs the tests drive, and the Debian packages that ship them.
TOOLS := promtool prometheus prometheus-alertmanager amtool chromium

.PHONY: all build demo demo-stack test lint tools bench fuzz clean

all: lint test build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BINARY) .

demo: build
	./$(BINARY) --demo

# The script names any missing Debian package itself; it needs no browser
# (make tools also wants chromium, for the tests) and no root.
demo-stack:
	./scripts/demo-stack.sh

# tools makes sure promtool, Prometheus and Alertmanager are installed: as
# root with apt-get it installs them, otherwise it says what is missing and
# fails. Tests never skip silently for want of them (DASHA_REQUIRE_TOOLS).
tools:
	@missing=""; for t in $(TOOLS); do command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo ">> installing prometheus, prometheus-alertmanager and chromium (missing:$$missing)"; \
			export DEBIAN_FRONTEND=noninteractive; \
			apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus prometheus-alertmanager chromium >/dev/null; \
		else \
			echo "missing:$$missing — install the Debian packages prometheus, prometheus-alertmanager and chromium (apt-get install prometheus prometheus-alertmanager chromium)" >&2; \
			exit 1; \
		fi; \
	fi; \
	for t in $(TOOLS); do command -v $$t >/dev/null 2>&1 || { echo "$$t still missing" >&2; exit 1; }; done

test: tools
	DASHA_REQUIRE_TOOLS=1 $(GO) test -race -count=1 ./...

# lint installs nothing: a missing promtool fails it (make tools installs it).
lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted" >&2; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	@command -v promtool >/dev/null 2>&1 || { echo "promtool missing: run make tools (or apt-get install prometheus)" >&2; exit 1; }
	promtool check rules alerts/*.yml

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

fuzz:
	@for pkg in ./client ./collector ./accounts; do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo ">> $$pkg $$target for $(FUZZTIME)"; \
			$(GO) test -run='^$$' -fuzz="^$$target$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

# mutation runs the mutation tester over client/, collector/ and accounts/
# (about 40 minutes on 2 idle cores, an hour or more on a shared machine;
# see docs/testing.md). gremlins runs from the module proxy, outside go.mod.
# --test-cpu is left out on purpose: v0.5.0 passes "-cpu N" to go test as
# one argument, which fails every run, so every mutant would count as
# killed. GOFLAGS=-count=1: a coverage pass served from Go's test cache
# takes no time, and the mutants' timeout (a multiple of it) would then
# time out nearly every mutant. MUTATION_TIMEOUT raises that multiple on a
# loaded machine.
GREMLINS ?= $(GO) run github.com/go-gremlins/gremlins/cmd/gremlins@v0.5.0
MUTATION_TIMEOUT ?= 3
.PHONY: mutation
mutation:
	@for pkg in ./client ./collector ./accounts; do \
		echo ">> gremlins unleash $$pkg"; \
		GOFLAGS=-count=1 $(GREMLINS) unleash --workers 1 --timeout-coefficient $(MUTATION_TIMEOUT) $$pkg || exit 1; \
	done

clean:
	rm -f $(BINARY)
	rm -rf dist

# --- Releases, packaging and compatibility ---------------------------------
.PHONY: docker docker-multiarch release-check sync-deploy sync-check test-compat compat-tools

# Tools of pinned versions, outside the exporter's go.mod, each installed into
# a folder of its own under TOOLS_BIN (kept between runs).
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
PROMTOOL3   := github.com/prometheus/prometheus/cmd/promtool@v0.316.0
HELM        := helm.sh/helm/v3/cmd/helm@v3.22.0
JSONNET     := github.com/google/go-jsonnet/cmd/jsonnet@v0.22.0
GORELEASER  := github.com/goreleaser/goreleaser/v2@v2.15.1
TOOLS_BIN   ?= $(CURDIR)/.tools
tool_dir     = $(TOOLS_BIN)/$(subst /,_,$(1))

# $(call install_tool,pkg@version): go install it unless it is there already.
install_tool = @dir="$(call tool_dir,$(1))"; [ -n "$$(ls $$dir 2>/dev/null)" ] || { \
	echo ">> go install $(1)"; GOBIN="$$dir" $(GO) install $(1); }

compat-tools:
	$(call install_tool,$(PROMTOOL3))
	$(call install_tool,$(HELM))
	$(call install_tool,$(JSONNET))
	$(call install_tool,$(GORELEASER))

# Prometheus 3's promtool on the rules and their tests, the Helm chart (lint,
# template over ci/*-values.yaml, rendered rules byte-identical to alerts/ and
# valid for promtool 2 and 3), the mixin against the shipped files, goreleaser
# check and systemd-analyze verify. The tests live in compat/, a module of
# their own; every tool they need must be there (no skipping).
test-compat: compat-tools sync-check
	cd compat && DASHA_REQUIRE_TOOLS=1 \
		PROMTOOL3=$(call tool_dir,$(PROMTOOL3))/promtool \
		HELM=$(call tool_dir,$(HELM))/helm \
		JSONNET=$(call tool_dir,$(JSONNET))/jsonnet \
		GORELEASER=$(call tool_dir,$(GORELEASER))/goreleaser \
		$(GO) test -count=1 ./...

# The chart ships copies of the rules and dashboards (Helm cannot read files
# outside the chart); this is the one command that refreshes them.
CHART := deploy/helm/dasha-exporter
sync-deploy:
	rm -f $(CHART)/files/alerts/* $(CHART)/files/dashboards/*
	cp alerts/*.rules.yml $(CHART)/files/alerts/
	cp dashboards/*.json $(CHART)/files/dashboards/

sync-check:
	$(GO) test -count=1 -run TestChartCopiesInSync ./deploy

# No Docker engine is needed for anything else; these two need one.
DOCKER           ?= docker
DOCKER_IMAGE     ?= dasha_exporter
DOCKER_TAG       ?= $(subst +,-,$(VERSION))
DOCKER_PLATFORMS ?= linux/amd64,linux/arm64,linux/arm/v7
DOCKER_BUILD_ARGS = --build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) \
	--build-arg BRANCH=$(BRANCH) --build-arg BUILD_DATE=$(BUILD_DATE) \
	--build-arg CREATED=$(shell date -u +%Y-%m-%dT%H:%M:%SZ)

docker:
	$(DOCKER) build $(DOCKER_BUILD_ARGS) -t $(DOCKER_IMAGE):$(DOCKER_TAG) .

# All platforms at once; a multi-arch image cannot be loaded locally, so this
# pushes: DOCKER_IMAGE=ghcr.io/you/dasha_exporter make docker-multiarch
docker-multiarch:
	$(DOCKER) buildx build --platform $(DOCKER_PLATFORMS) $(DOCKER_BUILD_ARGS) -t $(DOCKER_IMAGE):$(DOCKER_TAG) --push .

# goreleaser check, then the whole release into dist/ without publishing.
# The images are skipped (--skip=docker): they need a Docker engine.
release-check:
	$(call install_tool,$(GORELEASER))
	$(call tool_dir,$(GORELEASER))/goreleaser check
	$(call tool_dir,$(GORELEASER))/goreleaser release --snapshot --clean --skip=docker
