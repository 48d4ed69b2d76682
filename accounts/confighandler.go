package accounts

import (
	"log/slog"
	"net/http"
	"strconv"
)

// ConfigHandler answers GET and HEAD /config with EffectiveYAML of what
// current returns at the time of the request (so a reload shows at once).
//
// The text is served as text/plain, as blackbox_exporter serves its
// /config: browsers show it in the page, where application/yaml (RFC
// 9512) would make most of them download a file. It is never cached: it
// changes on reload and names paths an operator may not want kept in a
// proxy.
func ConfigHandler(current func() ([]Settings, Provenance), logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !allowMethods(w, req, "Method not allowed: /config answers GET and HEAD.", http.MethodGet, http.MethodHead) {
			return
		}
		settings, src := current()
		text, err := EffectiveYAML(settings, src)
		if err != nil {
			// Its errors name an account and a field, never a value.
			logger.Error("rendering the effective configuration", "err", err)
			http.Error(w, "Rendering the effective configuration failed; see the log.", http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Length", strconv.Itoa(len(text)))
		if req.Method != http.MethodHead {
			w.Write(text)
		}
	})
}

// Effective returns the settings of the running accounts, in the
// source's order, and where they came from (the file and its load, or
// the flags): for ConfigHandler.
func (r *Registry) Effective() ([]Settings, Provenance) {
	var p Provenance
	if st, ok := r.Status(); ok {
		p.File, p.Loaded = st.File, st.Loaded
	}
	list := r.Accounts()
	settings := make([]Settings, len(list))
	for i, a := range list {
		settings[i] = a.Settings
	}
	return settings, p
}

// ConfigHandler serves the registry's effective configuration on /config;
// demo says the flags' account is --demo's.
func (r *Registry) ConfigHandler(demo bool) http.Handler {
	return ConfigHandler(func() ([]Settings, Provenance) {
		settings, p := r.Effective()
		p.Demo = demo
		return settings, p
	}, r.log)
}
