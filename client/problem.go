package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
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
		// Not ProblemDetails: keep an excerpt of the text as detail.
		e.Title, e.Type, e.TraceID, e.Detail = "", "", "", string(body)
	}
	for _, text := range []*string{&e.Title, &e.Detail, &e.Type, &e.TraceID} {
		*text = oneLine(RedactText(*text, key), maxProblemText)
	}
	e.Status, e.Path = status, path // the body must not override these
	return e
}

// redacted stands where the API echoed the key.
const redacted = "[REDACTED]"

// minKeyPrefix is the shortest start of the key that is redacted where a
// text was cut off ("…") right after it.
const minKeyPrefix = 4

// RedactText replaces the key in s wherever it appears: as is, escaped
// the ways an answer or an error message may escape it (JSON, Go quoting,
// URL query and path escaping), and as the start of the key where a text
// was cut short right after it.
func RedactText(s, key string) string {
	if key == "" {
		return s
	}
	for _, form := range keyForms(key) {
		s = strings.ReplaceAll(s, form, redacted)
	}
	// A text cut off inside the key keeps only its start.
	for from := 0; ; {
		i := strings.Index(s[from:], "…")
		if i < 0 {
			break
		}
		i += from
		for k := min(len(key)-1, i); k >= minKeyPrefix; k-- {
			if strings.HasSuffix(s[:i], key[:k]) {
				s = s[:i-k] + redacted + s[i:]
				i += len(redacted) - k
				break
			}
		}
		from = i + len("…")
	}
	return s
}

// keyForms lists the spellings of key that RedactText replaces, the key
// itself first.
func keyForms(key string) []string {
	forms := []string{key}
	add := func(f string) {
		if f != "" && !slices.Contains(forms, f) {
			forms = append(forms, f)
		}
	}
	quoted := strconv.Quote(key)
	add(quoted[1 : len(quoted)-1])
	if j, err := json.Marshal(key); err == nil {
		add(string(j[1 : len(j)-1]))
	}
	add(url.QueryEscape(key))
	add(url.PathEscape(key))
	return forms
}

// redactError returns err with the key redacted from its text; errors.Is
// and errors.As still see what it wraps.
func redactError(err error, key string) error {
	if err == nil || key == "" {
		return err
	}
	msg := err.Error()
	if red := RedactText(msg, key); red != msg {
		return &redactedError{msg: red, err: err}
	}
	return err
}

// redactedError hides the text of the error it wraps. It has no Unwrap, so
// that the wrapped text cannot be reached; Is and As answer for it.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string        { return e.msg }
func (e *redactedError) Is(target error) bool { return errors.Is(e.err, target) }
func (e *redactedError) As(target any) bool   { return errors.As(e.err, target) }

// redactNumber replaces the key in every text of n.
func redactNumber(n *PhoneNumber, key string) {
	texts := []*string{&n.ID, &n.OrgID, &n.PhoneNumber, &n.CredentialsID, &n.DisplayName, &n.ProviderID, &n.IncomingCallsAgentID}
	if st := n.RegistrationStatus; st != nil {
		texts = append(texts, &st.State, &st.ErrorDescription, &st.SIPResponseMessage)
	}
	for _, t := range texts {
		if strings.Contains(*t, key) {
			*t = strings.ReplaceAll(*t, key, redacted)
		}
	}
}

// maxProblemText bounds each text of an APIError, so a chatty error body
// cannot flood the log.
const maxProblemText = 300

// oneLine folds white space (newlines included) and cuts s to at most n
// bytes without splitting a UTF-8 character.
func oneLine(s string, n int) string {
	return truncate([]byte(strings.Join(strings.Fields(s), " ")), n)
}
