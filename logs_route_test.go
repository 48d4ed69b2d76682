package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// /logs is served on the same mux as every endpoint (so behind the same
// --web.config.file authentication) and answers a stored listing's log.
func TestLogsRoute(t *testing.T) {
	mux, _, _ := serveOneAccount(t, "acme")
	serve := func(method, path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		return rec
	}
	serve("GET", "/probe?target=acme")
	if rec := serve("GET", "/logs?target=acme&id=1"); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `Listing 1 of account "acme"`) || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("/logs: %d %s", rec.Code, rec.Body.String())
	}
	if rec := serve("GET", "/logs?target=acme&id=2"); rec.Code != http.StatusNotFound {
		t.Errorf("/logs of an unknown id: %d", rec.Code)
	}
}
