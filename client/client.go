// Package client talks to the Dasha BlackBox REST API: it lists every SIP
// phone number, page by page, under the caller's deadline.
//
// client.go holds the configuration and the Client; list.go lists the fleet
// and assembles it from its pages; listing.go and block.go hold a listing
// compactly, identity.go keeps its ids distinct; request.go sends one
// request, with retries and backoff; page.go reads and parses one page.
package client

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"runtime"
	"sync/atomic"
	"time"
)

// ListPath is the listing endpoint, relative to the base URL.
const ListPath = "/api/v1/sip-phone-numbers"

// MaxPageSize is the largest take the API accepts.
const MaxPageSize = 1000

// maxPageBody bounds one page's body. A real page of 1000 numbers is about
// 620 KB (every field set); 4 MiB leaves room for long texts while
// concurrency x maxPageBody bounds what hostile pages can make the exporter
// hold (see docs/performance.md). It is a variable so that tests can lower
// it.
var maxPageBody int64 = 4 << 20

// Limits that keep a misbehaving API from exhausting the exporter.
const (
	// maxAttempts bounds tries of one request (first try included). The
	// scrape deadline normally gives up first: a retry is only made when
	// its wait ends before the deadline.
	maxAttempts = 10
	// maxListings bounds how often a listing is tried when the list shifts
	// while it is paged (first try included).
	maxListings = 3
	// maxTotal is the largest totalCount believed: a bogus count would
	// otherwise send millions of page requests.
	maxTotal = 10_000_000
	// baseBackoff is the first retry delay; it doubles, with full jitter,
	// up to maxBackoff.
	baseBackoff = 100 * time.Millisecond
	maxBackoff  = 5 * time.Second
)

// MaxConcurrency bounds how many pages may be fetched at once, whether set
// by --dasha.concurrency or an account's concurrency: more floods the API
// (and each page in flight may hold up to maxPageBody).
const MaxConcurrency = 64

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// IsUUID reports whether s is a uuid, the form the API's providerId filter
// takes.
func IsUUID(s string) bool { return uuidRE.MatchString(s) }

// Filters are passed through to the API's query parameters.
type Filters struct {
	PhoneNumber   string
	ProviderID    string
	LinkedAgentID string
	UnlinkedOnly  bool
}

// Config configures a Client.
type Config struct {
	BaseURL     *url.URL
	Key         KeySource
	PageSize    int // take per request, 1..MaxPageSize
	Concurrency int // pages fetched at once, >= 1
	Filters     Filters
	HTTPClient  *http.Client // nil: a client with sane transport limits
	Metrics     *Metrics     // nil: not counted
	Logger      *slog.Logger // nil: discarded
	UserAgent   string

	// KeySetting and URLSetting name, for people, where the key and the
	// base URL were set ("api_key_env ACME_KEY", "--dasha.url"), so that
	// an answer saying either is wrong names what to change. KeySetting is
	// asked each time: whether a key file may be named depends on whether
	// it exists. Empty: not named.
	KeySetting func() string
	URLSetting string
}

// Client lists SIP phone numbers. It is safe for concurrent use.
type Client struct {
	cfg  Config
	http *http.Client
	log  *slog.Logger

	// lastTotal is the previous listing's totalCount: it tells how many
	// pages to ask for in the first round.
	lastTotal atomic.Int64

	// parsing holds a slot for each page being parsed (see readAndParse).
	parsing chan struct{}
}

// New checks cfg and returns a Client. The URL and ranges are the
// caller's to validate (accounts.Settings.Validate, which names the field
// and its source); New only refuses a Config it could not work with.
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == nil || (cfg.BaseURL.Scheme != "http" && cfg.BaseURL.Scheme != "https") || cfg.BaseURL.Host == "" || cfg.BaseURL.User != nil {
		return nil, errors.New("the API URL must be an absolute http:// or https:// URL without credentials")
	}
	if cfg.PageSize < 1 || cfg.PageSize > MaxPageSize {
		return nil, fmt.Errorf("page size %d is out of range 1..%d", cfg.PageSize, MaxPageSize)
	}
	if cfg.Concurrency < 1 {
		return nil, fmt.Errorf("concurrency %d must be at least 1", cfg.Concurrency)
	}
	if cfg.Key == nil {
		return nil, errors.New("no API key source")
	}
	c := &Client{cfg: cfg, http: cfg.HTTPClient, log: cfg.Logger, parsing: make(chan struct{}, min(cfg.Concurrency, runtime.GOMAXPROCS(0)))}
	if c.http == nil {
		c.http = &http.Client{Transport: newTransport(cfg.Concurrency), CheckRedirect: noRedirects}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.cfg.Metrics == nil {
		c.cfg.Metrics = NewMetrics(nil)
	}
	return c, nil
}
