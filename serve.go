package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dasha-exporter/dasha_exporter/accounts"
)

// flagNames names the flags the flags' account is set with, so that its
// messages point at them (nothing below main knows a flag).
var flagNames = accounts.Names{KeyFile: "--dasha.api-key-file", URL: "--dasha.url"}

// source returns where the accounts come from: the configuration file, or
// the one account of the flags, named default. With --demo, the flags'
// account is pointed at a simulated API on a loopback port, with the key
// the fake takes, and getenv is changed to supply it.
func source(ctx context.Context, cfg *config, getenv func(string) string, logger *slog.Logger) (accounts.Source, func(string) string, error) {
	if cfg.configFile != "" {
		return accounts.File(cfg.configFile), getenv, nil
	}
	if cfg.demo {
		u, err := startDemo(ctx, logger)
		if err != nil {
			return nil, nil, err
		}
		cfg.url = u
		getenv = demoEnv(getenv)
	}
	return accounts.Flags{Account: cfg.accountSettings(), Flags: flagNames}, getenv, nil
}

// demoEnv is getenv with the demo's key in DASHA_API_KEY: the fake API
// takes any key.
func demoEnv(getenv func(string) string) func(string) string {
	return func(k string) string {
		if k == "DASHA_API_KEY" {
			return "demo"
		}
		return getenv(k)
	}
}

// newAccounts loads the accounts of src. With the flags, a key that cannot
// be had at start is an error before listening, as the contract says; at
// run time it is that account's dasha_up 0, whatever the mode.
func newAccounts(src accounts.Source, cfg *config, getenv func(string) string, logger *slog.Logger, reg prometheus.Registerer) (*accounts.Registry, error) {
	registry, err := accounts.NewRegistry(src, accountOptions(cfg, getenv, logger), reg)
	if err != nil {
		return nil, err
	}
	if !src.Reloadable() {
		if err := registry.Get(accounts.FlagsAccount).KeyProblem(); err != nil {
			return nil, err
		}
	}
	return registry, nil
}

// routes serves the accounts on /probe in both modes, and on the telemetry
// path the exporter's own metrics: with the flags, after the listing of
// their account, as /metrics has always answered.
func routes(cfg *config, registry *accounts.Registry, reg *prometheus.Registry, mux *http.ServeMux) {
	if registry.Source().Reloadable() {
		mux.Handle(cfg.telemetryPath, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	} else {
		mux.Handle(cfg.telemetryPath, registry.Get(accounts.FlagsAccount).Handler(reg))
	}
	mux.Handle("/probe", registry.ProbeHandler())
	mux.Handle("/logs", registry.LogsHandler())
	mux.Handle("/config", registry.ConfigHandler(cfg.demo))
	if cfg.enableReload {
		mux.Handle("/-/reload", registry.ReloadHandler())
	}
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "Healthy.")
	})
	// Ready once a configuration is loaded, in both modes: a key that
	// cannot be had or is refused shows as that account's dasha_up 0, not
	// as the exporter leaving a Service's endpoints.
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "Ready.")
	})
}

// reloadOnSIGHUP reloads the accounts on each SIGHUP until ctx ends. It
// never ends the process: with the flags, Reload logs that there is
// nothing to reload.
func reloadOnSIGHUP(ctx context.Context, registry *accounts.Registry, logger *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		// hup stays registered after ctx ends: a SIGHUP during the
		// shutdown is dropped, not the default action that ends the
		// process.
		for {
			select {
			case <-hup:
				logger.Info("SIGHUP: reloading the accounts", "source", registry.Source().String())
				registry.Reload() // logs why when it fails
			case <-ctx.Done():
				return
			}
		}
	}()
}

func accountOptions(cfg *config, getenv func(string) string, logger *slog.Logger) accounts.Options {
	return accounts.Options{
		Defaults: accounts.Defaults{
			Timeout:       cfg.timeout,
			TimeoutOffset: cfg.timeoutOffset,
			CacheTTL:      cfg.cacheTTL,
			PageSize:      cfg.pageSize,
			Concurrency:   cfg.concurrency,
			Collector:     cfg.collector,
		},
		Getenv:    getenv,
		Logger:    logger,
		UserAgent: userAgent(),
	}
}

// checkConfigFile is --config.check: it validates the file as a start
// would, says what it found, and reports whether the file is good.
func checkConfigFile(cfg *config, getenv func(string) string, w io.Writer) error {
	warnings, err := accounts.Check(cfg.configFile, accountOptions(cfg, getenv, nil))
	for _, warning := range append(cfg.warnings, warnings...) {
		fmt.Fprintf(w, "warning: %s\n", warning)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s: OK\n", cfg.configFile)
	return nil
}
