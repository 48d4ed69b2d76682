package client

import (
	"crypto/tls"
	"fmt"
	"net/http"

	"github.com/prometheus/common/config"
)

// HTTPSettings are the parts of prometheus/common's http_config an account
// may set: tls_config (a CA for a proxy with a private CA, a client
// certificate, server_name) and proxy_url. Users know both from
// Prometheus' own scrape configuration, field for field.
type HTTPSettings struct {
	TLS   config.TLSConfig
	Proxy config.ProxyConfig
}

// IsZero reports whether s sets nothing, so the client's default transport
// serves.
func (s *HTTPSettings) IsZero() bool {
	return s.TLS == (config.TLSConfig{}) && s.Proxy.ProxyURL.URL == nil && s.Proxy.NoProxy == "" && !s.Proxy.ProxyFromEnvironment
}

// newTransport is the transport every client starts from: Go's default
// (timeouts, HTTP/2, proxy from the environment) keeping up to idlePerHost
// connections to the API open, one per page fetched at once.
func newTransport(idlePerHost int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = idlePerHost
	return t
}

// NewHTTPClient returns an HTTP client for s that, like the client's
// default, never follows redirects (the key would go along) and keeps up to
// idlePerHost connections to the API open. The CA, certificate and key
// files are read again when they change, as Prometheus does.
func NewHTTPClient(s HTTPSettings, idlePerHost int) (*http.Client, error) {
	if err := s.TLS.Validate(); err != nil {
		return nil, err
	}
	if err := s.Proxy.Validate(); err != nil {
		return nil, err
	}
	tlsConfig, err := config.NewTLSConfig(&s.TLS)
	if err != nil {
		return nil, err
	}
	proxy := http.ProxyFromEnvironment
	if s.Proxy.ProxyURL.URL != nil || s.Proxy.ProxyFromEnvironment {
		proxy = s.Proxy.Proxy()
	}
	newRT := func(tc *tls.Config) (http.RoundTripper, error) {
		t := newTransport(idlePerHost)
		t.TLSClientConfig = tc
		t.Proxy = proxy
		t.MaxIdleConnsPerHost = idlePerHost
		return t, nil
	}
	var files config.TLSRoundTripperSettings
	if s.TLS.CAFile != "" {
		files.CA = config.NewFileSecret(s.TLS.CAFile)
	}
	if s.TLS.CertFile != "" {
		files.Cert = config.NewFileSecret(s.TLS.CertFile)
		files.Key = config.NewFileSecret(s.TLS.KeyFile)
	}
	var rt http.RoundTripper
	if files.CA == nil && files.Cert == nil {
		rt, err = newRT(tlsConfig)
	} else {
		rt, err = config.NewTLSRoundTripper(tlsConfig, files, newRT)
	}
	if err != nil {
		return nil, fmt.Errorf("tls_config: %w", err)
	}
	return &http.Client{Transport: rt, CheckRedirect: noRedirects}, nil
}
