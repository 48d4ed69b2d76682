package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestPrinter(t *testing.T) {
	var out bytes.Buffer
	p := &printer{out: &out, now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }}
	for _, c := range []struct {
		body       string
		wantStatus int
		want       string
	}{
		{`{"attachments":[{"title":"[FIRING:2] Dasha SIP registrations: 2 numbers on x","text":"Firing numbers (2):\n- +1555"}]}`, 200,
			"\n==== 03:04:05  to pager ====\n[FIRING:2] Dasha SIP registrations: 2 numbers on x\nFiring numbers (2):\n- +1555\n"},
		{`{"status":"firing","alerts":[{"status":"firing","labels":{"alertname":"A","phone_number":"+1"}}]}`, 200,
			"\n==== 03:04:05  to pager ====\n[FIRING] 1 alerts (webhook)\n- firing A +1\n"},
		{`not json`, 400, ""},
	} {
		out.Reset()
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/pager", strings.NewReader(c.body)))
		if rec.Code != c.wantStatus || out.String() != c.want {
			t.Errorf("%s: %d %q, want %d %q", c.body, rec.Code, out.String(), c.wantStatus, c.want)
		}
	}
	rec := httptest.NewRecorder()
	p.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/pager", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d, want 405", rec.Code)
	}
}
