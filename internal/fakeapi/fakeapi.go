// Package fakeapi is an in-process stand-in for the Dasha BlackBox API's
// GET /api/v1/sip-phone-numbers. It serves the documented JSON shape
// (nulls, ProblemDetails errors, skip/take paging, the filters) from a
// fleet that tests and the --demo mode change at will, and it can inject
// faults: rate limits, server errors, slow or broken answers.
//
// It has its own types rather than the client's, so that a mistake in the
// client's decoding is not mirrored here.
package fakeapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Number is one SIP phone number as the API sends it. Pointer fields are
// nullable; timestamps are strings so that tests can send any format.
type Number struct {
	ID                   string  `json:"id"`
	OrgID                *string `json:"orgId"`
	PhoneNumber          string  `json:"phoneNumber"`
	CredentialsID        *string `json:"credentialsId"`
	CreatedTime          string  `json:"createdTime"`
	LastUpdateTime       string  `json:"lastUpdateTime"`
	RegistrationStatus   *Status `json:"registrationStatus"`
	Description          *string `json:"description"`
	DisplayName          *string `json:"displayName"`
	Registration         bool    `json:"registration"`
	ProviderID           *string `json:"providerId"`
	IncomingCallsAgentID *string `json:"incomingCallsAgentId"`
}

// Status is a number's registrationStatus.
type Status struct {
	State              *string `json:"state"`
	ErrorDescription   *string `json:"errorDescription"`
	SIPResponseMessage *string `json:"sipResponseMessage"`
	LastUpdated        *string `json:"lastUpdated"`
	ExpiresAt          *string `json:"expiresAt"`
}

// Ptr returns a pointer to s, for the nullable fields.
func Ptr(s string) *string { return &s }

// Timestamp formats t the way the API documents it.
func Timestamp(t time.Time) *string { return Ptr(t.UTC().Format("2006-01-02T15:04:05Z")) }

// Problem is an RFC 7807 ProblemDetails body.
type Problem struct {
	Type    string `json:"type,omitempty"`
	Title   string `json:"title,omitempty"`
	Status  int    `json:"status,omitempty"`
	Detail  string `json:"detail,omitempty"`
	TraceID string `json:"traceId,omitempty"`
}

// Interceptor may answer a request instead of the fake: it returns true
// when it wrote the response. page is the request's skip/take index
// (skip/take), counted from 0.
type Interceptor func(w http.ResponseWriter, r *http.Request, page int) bool

// Server is the fake API. Its zero value is not usable: call New.
type Server struct {
	// Key is the API key a request must present; "" accepts any key.
	Key string
	// Latency delays every answer, as a distant API would.
	Latency time.Duration

	mu        sync.RWMutex
	numbers   []Number
	intercept Interceptor
	pageCache map[[2]int][]byte // encoded pages by (skip, take)
	version   uint64

	requests atomic.Int64
}

// New returns a fake serving numbers, requiring key ("" = any).
func New(key string, numbers []Number) *Server {
	s := &Server{Key: key}
	s.SetNumbers(numbers)
	return s
}

// SetNumbers replaces the fleet.
func (s *Server) SetNumbers(numbers []Number) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.numbers = append([]Number(nil), numbers...)
	s.pageCache = nil
	s.version++
}

// Update changes the number with id in place; it reports whether it exists.
func (s *Server) Update(id string, change func(*Number)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.numbers {
		if s.numbers[i].ID == id {
			change(&s.numbers[i])
			s.pageCache = nil
			s.version++
			return true
		}
	}
	return false
}

// Numbers returns a copy of the fleet.
func (s *Server) Numbers() []Number {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]Number(nil), s.numbers...)
}

// SetInterceptor installs (or, with nil, removes) a fault injector.
func (s *Server) SetInterceptor(i Interceptor) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.intercept = i
}

// Requests counts the requests served so far.
func (s *Server) Requests() int64 { return s.requests.Load() }

// ServeHTTP answers GET /api/v1/sip-phone-numbers.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	if s.Latency > 0 {
		select {
		case <-time.After(s.Latency):
		case <-r.Context().Done():
			return
		}
	}
	if r.URL.Path != "/api/v1/sip-phone-numbers" {
		WriteProblem(w, http.StatusNotFound, "Not Found", "no such endpoint: "+r.URL.Path)
		return
	}
	if r.Method != http.MethodGet {
		WriteProblem(w, http.StatusMethodNotAllowed, "Method Not Allowed", "")
		return
	}
	if s.Key != "" && r.Header.Get("Authorization") != "Bearer "+s.Key {
		WriteProblem(w, http.StatusUnauthorized, "Unauthorized", "The API key is invalid or expired.")
		return
	}
	skip, take, err := paging(r)
	if err != nil {
		WriteProblem(w, http.StatusBadRequest, "One or more validation errors occurred.", err.Error())
		return
	}

	s.mu.RLock()
	intercept := s.intercept
	s.mu.RUnlock()
	if intercept != nil && intercept(w, r, skip/take) {
		return
	}

	body := s.page(r, skip, take)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

// page encodes one page, caching unfiltered pages until the fleet changes.
func (s *Server) page(r *http.Request, skip, take int) []byte {
	q := r.URL.Query()
	filtered := q.Get("phoneNumber") != "" || q.Get("providerId") != "" || q.Get("linkedAgentId") != "" || q.Get("unlinkedOnly") == "true"
	s.mu.RLock()
	if !filtered {
		if b, ok := s.pageCache[[2]int{skip, take}]; ok {
			s.mu.RUnlock()
			return b
		}
	}
	version := s.version
	items := make([]Number, 0, take)
	total := 0
	for _, n := range s.numbers {
		if !matches(n, q) {
			continue
		}
		if total >= skip && len(items) < take {
			items = append(items, n)
		}
		total++
	}
	s.mu.RUnlock()

	var buf bytes.Buffer
	json.NewEncoder(&buf).Encode(struct {
		Items      []Number `json:"items"`
		TotalCount int      `json:"totalCount"`
		Skip       int      `json:"skip"`
		Take       int      `json:"take"`
	}{items, total, skip, take})
	b := buf.Bytes()

	if !filtered {
		s.mu.Lock()
		if s.version == version {
			if s.pageCache == nil {
				s.pageCache = map[[2]int][]byte{}
			}
			s.pageCache[[2]int{skip, take}] = b
		}
		s.mu.Unlock()
	}
	return b
}

// matches applies the API's filters.
func matches(n Number, q map[string][]string) bool {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	if v := get("phoneNumber"); v != "" && n.PhoneNumber != v {
		return false
	}
	if v := get("providerId"); v != "" && (n.ProviderID == nil || *n.ProviderID != v) {
		return false
	}
	if v := get("linkedAgentId"); v != "" && (n.IncomingCallsAgentID == nil || *n.IncomingCallsAgentID != v) {
		return false
	}
	if get("unlinkedOnly") == "true" && n.IncomingCallsAgentID != nil {
		return false
	}
	return true
}

// paging validates skip and take as the API documents them.
func paging(r *http.Request) (skip, take int, err error) {
	q := r.URL.Query()
	skip, take = 0, 20
	if v := q.Get("skip"); v != "" {
		if skip, err = strconv.Atoi(v); err != nil || skip < 0 {
			return 0, 0, fmt.Errorf("skip %q must be in 0..2147483647", v)
		}
	}
	if v := q.Get("take"); v != "" {
		if take, err = strconv.Atoi(v); err != nil || take < 1 || take > 1000 {
			return 0, 0, fmt.Errorf("take %q must be in 1..1000", v)
		}
	}
	return skip, take, nil
}

// WriteProblem answers with a ProblemDetails body.
func WriteProblem(w http.ResponseWriter, status int, title, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(Problem{
		Type:    "https://tools.ietf.org/html/rfc9110#section-15",
		Title:   title,
		Status:  status,
		Detail:  detail,
		TraceID: "00-fake-trace-00",
	})
}
