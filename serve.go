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
	"github.com/dasha-exporter/dasha_exporter/client"
)

// served is what the common endpoints need to know of either mode.
type served struct {
	ready    func() error
	accounts func() []*accounts.Account
	config   func() accounts.ReloadStatus // nil without a configuration file
	logStart func()
}

// serveFlags serves the one account of the flags on the telemetry path,
// together with the exporter's own metrics, as always.
func serveFlags(ctx context.Context, cfg *config, logger *slog.Logger, reg *prometheus.Registry, mux *http.ServeMux) (*served, error) {
	keys, err := keySource(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.demo {
		u, err := startDemo(ctx, logger)
		if err != nil {
			return nil, err
		}
		cfg.url = u
	}
	account, err := accounts.NewSingle(accounts.Settings{
		URL:           cfg.url.String(),
		Filters:       cfg.filters,
		PageSize:      cfg.pageSize,
		Concurrency:   cfg.concurrency,
		CacheTTL:      cfg.cacheTTL,
		Timeout:       cfg.timeout,
		TimeoutOffset: cfg.timeoutOffset,
		Collector:     cfg.collector,
	}, keys, client.NewMetrics(reg), logger, userAgent())
	if err != nil {
		return nil, err
	}
	mux.Handle(cfg.telemetryPath, account.Handler(reg))
	mux.Handle("/config", accounts.ConfigHandler(func() ([]accounts.Settings, accounts.Source) {
		return []accounts.Settings{cfg.accountSettings()}, accounts.Source{Demo: cfg.demo}
	}, logger))
	return &served{
		// Ready while a key can be had: a deleted or emptied key file
		// makes every scrape fail.
		ready:    account.KeyProblem,
		accounts: func() []*accounts.Account { return []*accounts.Account{account} },
		logStart: func() {
			if cfg.url.Scheme == "http" && !cfg.demo && !isLoopback(cfg.url.Hostname()) {
				logger.Warn("--dasha.url is plain http: the API key travels unencrypted", "url", cfg.url.Redacted())
			}
			logger.Info("listing SIP phone numbers", "url", cfg.url.Redacted(), "page_size", cfg.pageSize, "concurrency", cfg.concurrency, "cache_ttl", cfg.cacheTTL, "demo", cfg.demo)
		},
	}, nil
}

// serveAccounts serves the accounts of --config.file on /probe, the
// exporter's own metrics on the telemetry path, and reloads the file on
// SIGHUP and POST /-/reload.
func serveAccounts(cfg *config, getenv func(string) string, logger *slog.Logger, reg *prometheus.Registry, mux *http.ServeMux) (*served, error) {
	for _, w := range cfg.warnings {
		logger.Warn(w)
	}
	registry, err := accounts.NewRegistry(cfg.configFile, accountOptions(cfg, getenv, logger), reg)
	if err != nil {
		return nil, err
	}
	mux.Handle(cfg.telemetryPath, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/probe", registry.ProbeHandler())
	mux.Handle("/-/reload", registry.ReloadHandler())
	mux.Handle("/config", accounts.ConfigHandler(registry.Effective, logger))

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			logger.Info("SIGHUP: reloading the configuration file", "file", cfg.configFile)
			registry.Reload() // logs why when it fails
		}
	}()
	return &served{
		// The configuration is loaded: one account's missing key shows
		// as its dasha_up 0, not as the exporter leaving a Service.
		ready:    func() error { return nil },
		accounts: registry.Accounts,
		config:   registry.Status,
		logStart: func() {
			for _, a := range registry.Accounts() {
				logger.Info("serving account", "account", a.Settings.Name, "api", a.Settings.Where(), "page_size", a.Settings.PageSize, "concurrency", a.Settings.Concurrency, "cache_ttl", a.Settings.CacheTTL)
			}
		},
	}, nil
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
