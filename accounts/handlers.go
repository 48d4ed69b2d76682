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
			http.Error(w, fmt.Sprintf("Unknown target %q: no account of that name in the configuration file.", name), http.StatusBadRequest)
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
	targets := q["target"]
	switch {
	case len(targets) == 0 || targets[0] == "":
		return "", false, "Missing target: ask for /probe?target=<account>, an account name from the configuration file."
	case len(targets) > 1:
		return "", false, fmt.Sprintf("target is given %d times; give one account name.", len(targets))
	}
	name = targets[0]
	// Neither shape is repeated back: either could carry a key.
	if strings.Contains(name, "://") || strings.ContainsAny(name, "/:@?#") {
		return "", false, "The target looks like a URL or an address. Targets are account names from the configuration file, never URLs: the exporter sends requests only to the APIs the file names."
	}
	if !ValidName(name) {
		return "", false, fmt.Sprintf("The target is not an account name (letters, digits, _ . -, starting with a letter or digit, at most %d characters).", maxNameLen)
	}
	if v := q["debug"]; len(v) > 0 {
		if debug, err = strconv.ParseBool(v[len(v)-1]); err != nil {
			return "", false, fmt.Sprintf("debug=%q is not true or false.", cut(v[len(v)-1], 16))
		}
	}
	return name, debug, ""
}

// ReloadHandler reloads the configuration file on POST (and PUT, as
// Prometheus' /-/reload takes): 200 when it loaded, 500 with the reason
// when it did not (the running configuration stays).
func (r *Registry) ReloadHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !allowMethods(w, req, "Method not allowed: reload with POST.", http.MethodPost, http.MethodPut) {
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
