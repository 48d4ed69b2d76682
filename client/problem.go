package client

import (
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
	http.StatusUnauthorized:      "the API key is invalid or expired, or belongs to another platform (check the key and the API URL)",
	http.StatusForbidden:         "the API key may not list SIP phone numbers",
	http.StatusNotFound:          "check the API URL: it should be the API base such as https://blackbox.dasha.ai",
	http.StatusMovedPermanently:  redirectHint,
	http.StatusFound:             redirectHint,
	http.StatusTemporaryRedirect: redirectHint,
	http.StatusPermanentRedirect: redirectHint,
}

// redirectHint explains why redirects are not followed.
const redirectHint = "redirects are not followed, so the key is never sent elsewhere; set the API URL to the address the API redirects to"

// maxProblemBody bounds how much of an error body is read.
const maxProblemBody = 64 << 10

// newAPIError builds an APIError from an error answer's body, which may be
// ProblemDetails JSON, other text, or empty. An API that echoes the key
// back must not get it into logs: it is redacted from every text kept,
// after decoding (which undoes JSON escapes such as "\u002B" for "+") and
// before cutting (which could leave part of it). Texts are cut to one
// short line each.
func newAPIError(status int, path string, body []byte, key string) *APIError {
	e := &APIError{Status: status, Path: path}
	if json.Unmarshal(body, e) != nil || (e.Title == "" && e.Detail == "") {
		// Not ProblemDetails: keep an excerpt of the text as detail. A
		// JSON body is shown with its strings decoded and redacted,
		// whichever field echoes the key and however it is escaped.
		e.Title, e.Type, e.TraceID, e.Detail = "", "", "", string(body)
		if shown, ok := redactJSON(body, key); ok {
			e.Detail = shown
		}
	}
	for _, text := range []*string{&e.Title, &e.Detail, &e.Type, &e.TraceID} {
		*text = oneLine(RedactText(*text, key), maxProblemText)
	}
	e.Status, e.Path = status, path // the body must not override these
	return e
}

// maxProblemText bounds each text of an APIError, so a chatty error body
// cannot flood the log.
const maxProblemText = 300

// oneLine folds white space (newlines included) and cuts s to at most n
// bytes without splitting a UTF-8 character.
func oneLine(s string, n int) string {
	return truncate([]byte(strings.Join(strings.Fields(s), " ")), n)
}
