package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/dasha-exporter/dasha_exporter/accounts"
	"github.com/dasha-exporter/dasha_exporter/client"
	"github.com/dasha-exporter/dasha_exporter/collector"
)

// config is everything the command line and environment say.
type config struct {
	url           *url.URL
	apiKeyFile    string
	apiKey        string // from DASHA_API_KEY only: a flag would show in ps
	timeout       time.Duration
	timeoutOffset time.Duration
	pageSize      int
	concurrency   int
	cacheTTL      time.Duration
	filters       client.Filters
	collector     collector.Options
	demo          bool
	telemetryPath string
	logLevel      string
	logFormat     string
	web           *web.FlagConfig
	maxConns      int  // --web.max-connections
	enableReload  bool // --web.enable-reload: serve /-/reload

	configFile  string   // --config.file: several accounts (see accounts/)
	configCheck bool     // --config.check: validate the file and exit
	warnings    []string // flags that do not apply with --config.file
}

// wholeNumber is an int flag that takes only whole numbers: kingpin's own
// int flags parse floats and would turn 1.9 into 1 silently.
type wholeNumber int

func (n *wholeNumber) Set(s string) error {
	v, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("%q is not a whole number", s)
	}
	*n = wholeNumber(v)
	return nil
}

func (n *wholeNumber) String() string { return strconv.Itoa(int(*n)) }

// familyList is a repeatable flag of comma-separated family names or
// regexps, as kube-state-metrics' --metric-allowlist takes them.
type familyList []string

func (l *familyList) Set(s string) error {
	for _, entry := range strings.Split(s, ",") {
		if entry = strings.TrimSpace(entry); entry != "" {
			*l = append(*l, entry)
		}
	}
	return nil
}

func (l *familyList) String() string { return strings.Join(*l, ",") }

// IsCumulative makes the flag repeatable.
func (l *familyList) IsCumulative() bool { return true }

// defaultURL is the international platform's API.
const defaultURL = "https://blackbox.dasha.ai"

// parseConfig parses args (without the program name); getenv supplies
// DASHA_API_KEY. Usage and errors go to stderr; the error names the flag.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	c := &config{}
	app, rawURL := newApp(c, stderr)
	if _, err := app.Parse(args); err != nil {
		return nil, nameFlag(args, err)
	}
	if err := c.validate(*rawURL, getenv("DASHA_API_KEY")); err != nil {
		return nil, err
	}
	return c, nil
}

// nameFlag adds the flag at fault to a kingpin error, whose value errors
// ("strconv.ParseFloat: parsing \"ten\"") do not say which flag was wrong.
func nameFlag(args []string, err error) error {
	app, _ := newApp(&config{}, io.Discard)
	pc, perr := app.ParseContext(args)
	if perr != nil {
		return err
	}
	for _, el := range pc.Elements {
		flag, ok := el.Clause.(*kingpin.FlagClause)
		if !ok || el.Value == nil {
			continue
		}
		model := flag.Model()
		if model.IsBoolFlag() {
			continue // a boolean flag takes no value that could be wrong
		}
		probe, _ := newApp(&config{}, io.Discard)
		if _, ferr := probe.Parse([]string{"--" + model.Name + "=" + *el.Value}); ferr != nil {
			return fmt.Errorf("--%s: %w", model.Name, err)
		}
	}
	return err
}

// newApp declares the flags, writing their values into c.
func newApp(c *config, stderr io.Writer) (*kingpin.Application, *string) {
	app := kingpin.New("dasha_exporter", "Prometheus exporter for the SIP registrations of Dasha BlackBox phone numbers.")
	app.UsageWriter(stderr)
	app.ErrorWriter(stderr)
	app.Version(version.Print("dasha_exporter"))
	app.HelpFlag.Short('h')

	rawURL := app.Flag("dasha.url", "Dasha BlackBox API base URL.").Envar("DASHA_URL").Default(defaultURL).String()
	app.Flag("dasha.api-key-file", "File holding the API key; read again when it changes. Or set DASHA_API_KEY.").Envar("DASHA_API_KEY_FILE").StringVar(&c.apiKeyFile)
	app.Flag("dasha.timeout", "Listing deadline when a scrape carries no X-Prometheus-Scrape-Timeout-Seconds header.").Default("10s").DurationVar(&c.timeout)
	app.Flag("dasha.timeout-offset", "Subtracted from Prometheus' scrape timeout to leave time to answer.").Default("0.5s").DurationVar(&c.timeoutOffset)
	app.Flag("dasha.page-size", "Numbers asked for per request (take), 1..1000.").Default("1000").SetValue((*wholeNumber)(&c.pageSize))
	app.Flag("dasha.concurrency", "Pages fetched at once, 1..64.").Default("4").SetValue((*wholeNumber)(&c.concurrency))
	app.Flag("dasha.cache-ttl", "Reuse a complete listing this long, e.g. for HA Prometheus pairs scraping the same exporter; 0 turns it off.").Default("0s").DurationVar(&c.cacheTTL)
	app.Flag("dasha.phone-number", "Only list this phone number (the API's phoneNumber filter).").PlaceHolder("NUMBER").StringVar(&c.filters.PhoneNumber)
	app.Flag("dasha.provider-id", "Only list numbers of this provider (uuid).").PlaceHolder("UUID").StringVar(&c.filters.ProviderID)
	app.Flag("dasha.linked-agent-id", "Only list numbers linked to this agent.").PlaceHolder("ID").StringVar(&c.filters.LinkedAgentID)
	app.Flag("dasha.unlinked-only", "Only list numbers linked to no agent.").BoolVar(&c.filters.UnlinkedOnly)
	app.Flag("registration.state", "A state listed in every number's state set (repeatable). Default: "+strings.Join(collector.DefaultStates, ", ")+".").PlaceHolder("STATE").Default(collector.DefaultStates...).StringsVar(&c.collector.States)
	app.Flag("registration.healthy-state", "A state that counts as healthy (repeatable). Default: "+strings.Join(collector.DefaultHealthyStates, ", ")+".").PlaceHolder("STATE").Default(collector.DefaultHealthyStates...).StringsVar(&c.collector.HealthyStates)
	app.Flag("metric-allowlist", "Expose only these per-number families: comma-separated names or regexps (anchored), repeatable. Excludes --metric-denylist. dasha_up, dasha_sip_phone_numbers and the exporter's own metrics are always exposed.").PlaceHolder("FAMILIES").SetValue((*familyList)(&c.collector.MetricAllowlist))
	app.Flag("metric-denylist", "Drop these per-number families: comma-separated names or regexps (anchored), repeatable. Excludes --metric-allowlist.").PlaceHolder("FAMILIES").SetValue((*familyList)(&c.collector.MetricDenylist))
	app.Flag("demo", "Serve a built-in simulated fleet instead of the real API; needs no key, ignores --dasha.url.").BoolVar(&c.demo)
	app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").StringVar(&c.telemetryPath)
	app.Flag("log.level", "Only log messages with the given severity or above. One of: [debug, info, warn, error]").Default("info").EnumVar(&c.logLevel, "debug", "info", "warn", "error")
	app.Flag("log.format", "Output format of log messages. One of: [logfmt, json]").Default("logfmt").EnumVar(&c.logFormat, "logfmt", "json")
	app.Flag("config.file", "YAML file of named accounts, each on /probe?target=<account>; the --dasha.* tuning flags become their defaults. See README.").Envar("DASHA_CONFIG_FILE").StringVar(&c.configFile)
	app.Flag("config.check", "Validate --config.file and exit: 0 if it is good, 1 with the error otherwise.").BoolVar(&c.configCheck)
	app.Flag("web.enable-reload", "Serve POST /-/reload (requests from another site's page are refused); --no-web.enable-reload turns it off. SIGHUP reloads either way.").Default("true").BoolVar(&c.enableReload)
	c.web = kingpinflag.AddFlags(app, ":9612")
	app.Flag("web.max-connections", "Maximum number of simultaneous connections; at the limit, the longest idle or half-sent one is closed to make room, never a request being answered.").Default("512").SetValue((*wholeNumber)(&c.maxConns))
	app.GetFlag("dasha.api-key-file").PlaceHolder("FILE") // not DASHA.API-KEY-FILE in --help
	return app, rawURL
}

// accountSettings are the flags' account, named default: the settings a
// file's account would have, checked by the same Validate and built into
// an account the same way.
func (c *config) accountSettings() accounts.Settings {
	s := accounts.Settings{
		Name:          accounts.FlagsAccount,
		KeyFile:       c.apiKeyFile,
		Filters:       c.filters,
		PageSize:      c.pageSize,
		Concurrency:   c.concurrency,
		CacheTTL:      c.cacheTTL,
		Timeout:       c.timeout,
		TimeoutOffset: c.timeoutOffset,
		Collector:     c.collector,
	}
	if c.url != nil {
		s.URL = c.url.String()
	}
	if c.apiKey != "" || c.demo {
		s.KeyEnv = "DASHA_API_KEY" // with --demo, main's getenv gives the fake API's key
	}
	return s
}

// flagOfField names the flag (or variable) that sets each field of the
// flags' account, for accounts.FieldError.
var flagOfField = map[string]string{
	"url":                         "--dasha.url",
	"api_key_file":                "--dasha.api-key-file",
	"api_key_env":                 "DASHA_API_KEY",
	"phone_number":                "--dasha.phone-number",
	"provider_id":                 "--dasha.provider-id",
	"linked_agent_id":             "--dasha.linked-agent-id",
	"unlinked_only":               "--dasha.unlinked-only",
	"page_size":                   "--dasha.page-size",
	"concurrency":                 "--dasha.concurrency",
	"cache_ttl":                   "--dasha.cache-ttl",
	"timeout":                     "--dasha.timeout",
	"timeout_offset":              "--dasha.timeout-offset",
	"registration.states":         "--registration.state",
	"registration.healthy_states": "--registration.healthy-state",
	"metrics.allowlist":           "--metric-allowlist",
	"metrics.denylist":            "--metric-denylist",
}

// flagError names the flag behind a field error of the flags' account:
// "--dasha.page-size 0 is out of range 1..1000".
func flagError(err error) error {
	var fe *accounts.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	return errors.New(fe.Describe(func(field string) string {
		if flag, ok := flagOfField[field]; ok {
			return flag
		}
		return field
	}, " "))
}

// validate checks what kingpin cannot and fills in the URL and key. The
// account's settings go through accounts.Settings.Validate, the one copy
// of every range and URL rule.
func (c *config) validate(rawURL, envKey string) error {
	s := c.accountSettings()
	s.URL = rawURL
	if c.demo {
		s.URL = defaultURL // --demo ignores --dasha.url: main points the client at the fake API
	}
	if err := s.Validate(); err != nil {
		return flagError(err)
	}
	if !c.demo {
		u, err := url.Parse(s.URL) // normalised and checked by Validate
		if err != nil {
			return fmt.Errorf("--dasha.url: %w", err)
		}
		c.url = u
	}
	switch {
	case c.maxConns < 1:
		return fmt.Errorf("--web.max-connections %d must be at least 1", c.maxConns)
	case c.telemetryPath == "" || c.telemetryPath[0] != '/':
		return fmt.Errorf("--web.telemetry-path %q must start with /", c.telemetryPath)
	case c.telemetryPath == "/" || c.telemetryPath == "/-/healthy" || c.telemetryPath == "/-/ready" || c.telemetryPath == "/probe" || c.telemetryPath == "/-/reload" || c.telemetryPath == "/config":
		return fmt.Errorf("--web.telemetry-path %q would hide the landing page or another endpoint", c.telemetryPath)
	}
	if f := *c.web.WebConfigFile; f != "" {
		if err := web.Validate(f); err != nil {
			return fmt.Errorf("--web.config.file %s: %w", f, err)
		}
	}
	if c.configFile != "" || c.configCheck {
		return c.validateConfigFile(rawURL, envKey)
	}
	if c.demo {
		return nil
	}
	switch {
	case envKey != "" && c.apiKeyFile != "":
		return errors.New("both DASHA_API_KEY and --dasha.api-key-file are set; use one")
	case envKey != "":
		key, err := client.ValidateKey(envKey)
		if err != nil {
			return fmt.Errorf("DASHA_API_KEY: %w", err)
		}
		c.apiKey = key
	case c.apiKeyFile == "":
		return errors.New("no API key: set DASHA_API_KEY or --dasha.api-key-file (or run with --demo)")
	}
	// A FIFO or device would block or never end a read; a missing file
	// is the key source's to report.
	if c.apiKeyFile != "" {
		if err := accounts.KeyFileProblem(c.apiKeyFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("--dasha.api-key-file: %v", err)
		}
	}
	return nil
}

// validateConfigFile checks the flags that go with --config.file and notes
// those that do not apply to its accounts.
func (c *config) validateConfigFile(rawURL, envKey string) error {
	switch {
	case c.configFile == "":
		return errors.New("--config.check needs --config.file (or DASHA_CONFIG_FILE)")
	case c.demo:
		return errors.New("--demo and --config.file exclude each other: the demo serves one simulated account from the flags")
	}
	ignored := func(what string) {
		c.warnings = append(c.warnings, what+" is set but does not apply with --config.file: each account names its own platform or url and key source")
	}
	if rawURL != defaultURL {
		ignored("--dasha.url (DASHA_URL)")
	}
	if c.apiKeyFile != "" {
		ignored("--dasha.api-key-file (DASHA_API_KEY_FILE)")
	}
	if envKey != "" {
		ignored("DASHA_API_KEY")
	}
	for flag, set := range map[string]bool{
		"--dasha.phone-number":    c.filters.PhoneNumber != "",
		"--dasha.provider-id":     c.filters.ProviderID != "",
		"--dasha.linked-agent-id": c.filters.LinkedAgentID != "",
		"--dasha.unlinked-only":   c.filters.UnlinkedOnly,
	} {
		if set {
			c.warnings = append(c.warnings, flag+" is set but does not apply with --config.file: filters are set per account (phone_number, provider_id, linked_agent_id, unlinked_only)")
		}
	}
	sort.Strings(c.warnings)
	c.apiKeyFile, c.apiKey, c.filters = "", "", client.Filters{}
	return nil
}
