package accounts

import (
	"log/slog"
	"net/url"
	"strconv"
	"strings"
)

// logServing logs, once when the account is built (at start, and on a
// reload that adds or changes it), what it lists and how: its platform or
// URL, its key source under the naming rule (never the key), its filters
// and tuning, and its proxy without userinfo.
func (a *Account) logServing(log *slog.Logger) {
	s := &a.Settings
	attrs := []any{
		"account", s.Name,
		"api", s.Where(),
		"key_source", a.names.keySourceName(s),
		"filters", describeFilters(s),
		"page_size", s.PageSize,
		"concurrency", s.Concurrency,
		"cache_ttl", s.CacheTTL,
		"timeout", s.Timeout,
		"timeout_offset", s.TimeoutOffset,
	}
	if p := proxyWithoutUserinfo(s.ProxyURL); p != "" {
		attrs = append(attrs, "proxy_url", p)
	}
	log.Info("serving account", attrs...)
}

// describeFilters names the API filters an account sets, as the file
// names them ("provider_id=… unlinked_only=true"), or "none".
func describeFilters(s *Settings) string {
	var b []string
	f := s.Filters
	for _, kv := range [][2]string{
		{"phone_number", f.PhoneNumber},
		{"provider_id", f.ProviderID},
		{"linked_agent_id", f.LinkedAgentID},
	} {
		if kv[1] != "" {
			b = append(b, kv[0]+"="+kv[1])
		}
	}
	if f.UnlinkedOnly {
		b = append(b, "unlinked_only="+strconv.FormatBool(true))
	}
	if len(b) == 0 {
		return "none"
	}
	return strings.Join(b, " ")
}

// proxyWithoutUserinfo is the proxy URL without its userinfo, which may
// hold a password; "" when there is none.
func proxyWithoutUserinfo(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "(not shown: not a URL)"
	}
	u.User = nil
	return u.String()
}
