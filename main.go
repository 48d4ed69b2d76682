// Command dasha_exporter exports the SIP registration health of every Dasha
// BlackBox phone number to Prometheus. See README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/common/version"
	slgk "github.com/tjhop/slog-gokit"

	"github.com/dasha-exporter/dasha_exporter/client"
	"github.com/dasha-exporter/dasha_exporter/collector"
	"github.com/dasha-exporter/dasha_exporter/internal/connlimit"
	"github.com/dasha-exporter/dasha_exporter/internal/fakeapi"
	"github.com/dasha-exporter/dasha_exporter/landing"
)

func main() {
	if err := run(os.Args[1:], os.Getenv, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "dasha_exporter: error: %v\n", err)
		os.Exit(1)
	}
}

// run parses the configuration, sets everything up, and serves until a
// SIGINT or SIGTERM. Every error before listening names its cause.
func run(args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	if cfg.configCheck {
		return checkConfigFile(cfg, getenv, stderr)
	}
	logger := newLogger(cfg, stderr)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	logger.Info("starting dasha_exporter", "version", version.Info(), "build_context", version.BuildContext())
	for _, w := range cfg.warnings {
		logger.Warn(w)
	}
	cfg.collector.Renders = collector.NewRenderStats() // every account's exporter counts its kept renderings here
	src, getenv, err := source(ctx, cfg, getenv, logger)
	if err != nil {
		return err
	}
	reg := newRegistry()
	reg.MustRegister(cfg.collector.Renders)
	registry, err := newAccounts(src, cfg, getenv, logger, reg)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	routes(cfg, registry, reg, mux)
	links := []landing.Link{
		{Address: cfg.telemetryPath, Text: "Metrics"},
		{Address: "/-/healthy", Text: "Health"},
		{Address: "/-/ready", Text: "Readiness"},
		{Address: "/config", Text: "Configuration"},
	}
	mux.Handle("/", landing.New(landing.Options{
		Name:        "Dasha exporter",
		Description: "Prometheus exporter for the SIP registrations of Dasha BlackBox phone numbers",
		Version:     version.Info(),
		Links:       links,
		Accounts:    registry,
		Logger:      logger.With("component", "landing"),
	}))
	reloadOnSIGHUP(ctx, registry, logger)

	limiter := connlimit.New(cfg.maxConns, reg)
	srv := limiter.Server(mux)
	context.AfterFunc(ctx, stop) // a second signal ends the process at once
	return serve(ctx, srv, func() error { return limiter.ListenAndServe(srv, cfg.web, logger) }, shutdownGrace, logger)
}

// shutdownGrace bounds how long a shutdown waits for the scrapes in
// flight: each ends by its own deadline, at most client.MaxListingTime,
// and then needs a moment to write its answer.
const shutdownGrace = client.MaxListingTime + 10*time.Second

// serve runs listen (which serves srv) until ctx ends. Then it refuses new
// connections and lets the scrapes in flight run to their own deadline
// and answer, waiting at most grace. A listen that fails (the port is in
// use) returns its error at once.
func serve(ctx context.Context, srv *http.Server, listen func() error, grace time.Duration, logger *slog.Logger) error {
	served := make(chan error, 1)
	go func() { served <- listen() }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: refusing new scrapes, finishing those in flight", "max_wait", grace)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if lerr := <-served; lerr != nil && !errors.Is(lerr, http.ErrServerClosed) {
		return lerr
	}
	if err != nil {
		logger.Warn("scrapes still in flight at the end of the shutdown grace period were cut off", "grace", grace, "err", err)
	}
	return nil
}

// userAgent names the exporter and, when the build set one, its version.
func userAgent() string {
	if version.Version == "" {
		return "dasha_exporter"
	}
	return "dasha_exporter/" + version.Version
}

// newRegistry holds the exporter's long-lived metrics: build info, Go and
// process metrics; the API client adds its request metrics. It is never
// the global registry.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		versioncollector.NewCollector("dasha_exporter"),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// newLogger builds the go-kit logger of --log.level and --log.format and
// bridges it to the *slog.Logger that exporter-toolkit and our packages
// take.
func newLogger(cfg *config, w io.Writer) *slog.Logger {
	var gk log.Logger
	if cfg.logFormat == "json" {
		gk = log.NewJSONLogger(log.NewSyncWriter(w))
	} else {
		gk = log.NewLogfmtLogger(log.NewSyncWriter(w))
	}
	gk = level.NewFilter(gk, level.Allow(level.ParseDefault(cfg.logLevel, level.InfoValue())))
	var lvl slog.Level
	lvl.UnmarshalText([]byte(cfg.logLevel)) // validated by kingpin's enum
	return slog.New(slgk.NewGoKitHandler(gk, lvl))
}

// startDemo serves the simulated fleet on a loopback port until ctx ends
// and returns its base URL.
func startDemo(ctx context.Context, logger *slog.Logger) (*url.URL, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	fake := fakeapi.New("", nil)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fake.SetNumbers(fakeapi.Demo(time.Now()))
		fake.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	logger.Warn("demo mode: serving a simulated fleet instead of the Dasha API", "numbers", len(fakeapi.Demo(time.Now())), "fake_api", ln.Addr().String())
	return &url.URL{Scheme: "http", Host: ln.Addr().String()}, nil
}
