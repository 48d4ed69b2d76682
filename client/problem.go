package client

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// APIError is an HTTP error answer of the API. Its text names the status
// and the RFC 7807 ProblemDetails title and detail when the body had them.
type APIError struct {
	Status  int    `json:"-"` // HTTP status code
	Path    string `json:"-"` // request path and query, never credentials
	Title   string `json:"title"`
	Detail  string `json:"detail"`
	Type    string `json:"type"`
	TraceID string `json:"traceId"`
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s: %d %s", e.Path, e.Status, http.StatusText(e.Status))
	if e.Title != "" {
		fmt.Fprintf(&b, ": %s", e.Title)
	}
	if e.Detail != "" {
		fmt.Fprintf(&b, ": %s", e.Detail)
	}
	if e.TraceID != "" {
		fmt.Fprintf(&b, " (traceId %s)", e.TraceID)
	}
	if hint := statusHint[e.Status]; hint != "" {
		fmt.Fprintf(&b, " — %s", hint)
	}
	return b.String()
}

// statusHint says what an operator should check for the common failures.
var statusHint = map[int]string{
	http.StatusUnauthorized: "the API key is invalid or expired, or belongs to another platform (check DASHA_API_KEY / --dasha.api-key-file and --dasha.url)",
	http.StatusForbidden:    "the API key may not list SIP phone numbers",
	http.StatusNotFound:     "check --dasha.url: it should be the API base such as https://blackbox.dasha.ai",
}

// maxProblemBody bounds how much of an error body is read.
const maxProblemBody = 64 << 10

// newAPIError builds an APIError from an error answer's body, which may be
// ProblemDetails JSON, other text, or empty. An API that echoes the key
// back must not get it into logs: it is replaced wherever it appears.
func newAPIError(status int, path string, body []byte, key string) *APIError {
	if key != "" {
		body = bytes.ReplaceAll(body, []byte(key), []byte("[REDACTED]"))
	}
	e := &APIError{Status: status, Path: path}
	if json.Unmarshal(body, e) != nil || (e.Title == "" && e.Detail == "") {
		// Not ProblemDetails: keep a short, single-line excerpt as detail.
		text := strings.Join(strings.Fields(string(body)), " ")
		e.Title, e.Type, e.TraceID = "", "", ""
		e.Detail = truncate([]byte(text), 200)
	}
	e.Status, e.Path = status, path // the body must not override these
	return e
}
