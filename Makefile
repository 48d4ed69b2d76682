# dasha_exporter — build, test and lint.
#
#   make build   static binary ./dasha_exporter with version information
#   make demo    build and run on the built-in simulated fleet (no API key)
#   make test    the whole test suite: unit, golden, promtool rule tests and
#                the end-to-end test with a real Prometheus and Alertmanager
#   make lint    gofmt, go vet, promtool check rules
#   make bench   benchmarks with allocations
#   make fuzz    each fuzz target for FUZZTIME (default 30s)

GO       ?= go
BINARY   ?= dasha_exporter
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BRANCH   ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)
FUZZTIME ?= 30s

VERSION_PKG := github.com/prometheus/common/version
LDFLAGS := -s -w \
	-X $(VERSION_PKG).Version=$(VERSION) \
	-X $(VERSION_PKG).Revision=$(REVISION) \
	-X $(VERSION_PKG).Branch=$(BRANCH) \
	-X $(VERSION_PKG).BuildUser=$(shell id -un 2>/dev/null)@$(shell hostname 2>/dev/null) \
	-X $(VERSION_PKG).BuildDate=$(shell date -u +%Y%m%d-%H:%M:%S)

# Outside programs the tests drive, and the Debian packages that ship them.
TOOLS := promtool prometheus prometheus-alertmanager amtool chromium

.PHONY: all build demo test lint tools bench fuzz clean

all: lint test build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BINARY) .

demo: build
	./$(BINARY) --demo

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

lint: tools
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted" >&2; exit 1; fi
	$(GO) vet ./...
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

clean:
	rm -f $(BINARY)
