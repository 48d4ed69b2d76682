package accounts

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// ProbeHandler answers /probe?target=<account> with that account's listing
// (the same families and rules as /metrics in flag mode), or with
// &debug=true the log of one listing as text. A target that is missing,
// malformed, URL-shaped or unknown is a 400 with the reason, and no request
// is sent anywhere: the exporter only ever talks to the configured
// accounts' APIs.
func (r *Registry) ProbeHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !allowMethods(w, req, "Method not allowed: /probe answers GET and HEAD.", http.MethodGet, http.MethodHead) {
			return
		}
		name, debug, reason := probeParams(req.URL.RawQuery)
		if reason != "" {
			http.Error(w, reason, http.StatusBadRequest)
			return
		}
		a := r.Get(name)
		if a == nil {
			http.Error(w, fmt.Sprintf("Unknown target %q: no account of that name in %s.", name, r.describeSource()), http.StatusBadRequest)
			return
		}
		if debug {
			a.ServeDebug(w, req)
			return
		}
		a.probe.ServeHTTP(w, req)
	})
}

// probeParams reads target and debug from a probe's query.
// reason says why they are not usable, or is "".
func probeParams(rawQuery string) (name string, debug bool, reason string) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", false, fmt.Sprintf("Malformed query string: %v.", err)
	}
	name, reason = targetParam(q)
	if reason != "" {
		return "", false, reason
	}
	if v := q["debug"]; len(v) > 0 {
		if debug, err = strconv.ParseBool(v[len(v)-1]); err != nil {
			return "", false, fmt.Sprintf("debug=%q is not true or false.", cut(v[len(v)-1], 16))
		}
	}
	return name, debug, ""
}

// targetParam reads the one account name of q's target; reason says why
// it is not usable, or is "".
func targetParam(q url.Values) (name, reason string) {
	targets := q["target"]
	switch {
	case len(targets) == 0 || targets[0] == "":
		return "", "Missing target: ask for /probe?target=<account>, an account name from the configuration file."
	case len(targets) > 1:
		return "", fmt.Sprintf("target is given %d times; give one account name.", len(targets))
	}
	name = targets[0]
	// Neither shape is repeated back: either could carry a key.
	if strings.Contains(name, "://") || strings.ContainsAny(name, "/:@?#") {
		return "", "The target looks like a URL or an address. Targets are account names from the configuration file, never URLs: the exporter sends requests only to the APIs the file names."
	}
	if !ValidName(name) {
		return "", fmt.Sprintf("The target is not an account name (letters, digits, _ . -, starting with a letter or digit, at most %d characters).", maxNameLen)
	}
	return name, ""
}

// describeSource names where the accounts come from, for a probe's 400.
func (r *Registry) describeSource() string {
	if r.src.Reloadable() {
		return "the configuration file"
	}
	return fmt.Sprintf("the flags (their account is %q)", FlagsAccount)
}

// ReloadHandler reloads the configuration file on POST (and PUT, as
// Prometheus' /-/reload takes): 200 when it loaded, 500 with the reason
// when it did not (the running configuration stays). With the flags there
// is nothing to reload: 200 saying so. A request another web site's page
// made (see crossSite) is refused with 403: any page an operator visits
// could otherwise reload the exporter.
func (r *Registry) ReloadHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !allowMethods(w, req, "Method not allowed: reload with POST.", http.MethodPost, http.MethodPut) {
			return
		}
		if reason := crossSite(req); reason != "" {
			http.Error(w, "Forbidden: "+reason+". Reload from the exporter's own pages, or with a tool that sends no Origin header (curl -X POST).", http.StatusForbidden)
			return
		}
		if !r.src.Reloadable() {
			r.Reload() // logs that there is nothing to reload
			fmt.Fprintln(w, "Nothing to reload: the account comes from the flags; the key file is re-read when it changes.")
			return
		}
		if err := r.Reload(); err != nil {
			http.Error(w, "Reloading the configuration failed; the running configuration stays: "+err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "Reloaded.")
	})
}

// allowMethods reports whether req's method is one of methods; if not, it
// answers 405 with reply and an Allow header naming them.
func allowMethods(w http.ResponseWriter, req *http.Request, reply string, methods ...string) bool {
	if slices.Contains(methods, req.Method) {
		return true
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	http.Error(w, reply, http.StatusMethodNotAllowed)
	return false
}

// crossSite says why req was made by another site's page, or is "". A
// browser sends Origin with every cross-origin POST and Sec-Fetch-Site
// with every request; tools (curl, scripts, Kubernetes' config reloaders)
// send neither, and still reload. An Origin is the exporter's own when
// its host (and port) is the Host the request was sent to.
func crossSite(req *http.Request) string {
	if req.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return "the request came from another site (Sec-Fetch-Site: cross-site)"
	}
	origins := req.Header.Values("Origin")
	if len(origins) == 0 {
		return ""
	}
	if len(origins) > 1 {
		return "the request carries several Origin headers"
	}
	u, err := url.Parse(origins[0])
	if err != nil || u.Host == "" || !strings.EqualFold(u.Host, req.Host) {
		return "the request's Origin is not this exporter"
	}
	return ""
}
