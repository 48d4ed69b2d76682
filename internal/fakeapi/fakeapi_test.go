package fakeapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

type faPage struct {
	Items      []Number `json:"items"`
	TotalCount int      `json:"totalCount"`
	Skip, Take int
}

func faGet(t *testing.T, s *Server, query, key string) (int, faPage) {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/api/v1/sip-phone-numbers"+query, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	s.ServeHTTP(rec, req)
	var p faPage
	if rec.Code == http.StatusOK {
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
	}
	return rec.Code, p
}

func faFleet(n int) []Number {
	out := make([]Number, n)
	for i := range out {
		out[i] = Number{ID: fmt.Sprintf("id-%d", i), PhoneNumber: fmt.Sprintf("+%d", i)}
	}
	out[1].IncomingCallsAgentID = Ptr("agent-1")
	return out
}

func TestPagingFiltersAndAuth(t *testing.T) {
	s := New("key", faFleet(25))
	if code, _ := faGet(t, s, "", "wrong"); code != http.StatusUnauthorized {
		t.Errorf("wrong key: %d", code)
	}
	code, p := faGet(t, s, "", "key")
	if code != 200 || len(p.Items) != 20 || p.TotalCount != 25 {
		t.Errorf("default page: %d, %d items of %d", code, len(p.Items), p.TotalCount)
	}
	_, p = faGet(t, s, "?skip=20&take=10", "key")
	if len(p.Items) != 5 || p.Items[0].ID != "id-20" {
		t.Errorf("last page: %d items from %v", len(p.Items), p.Items)
	}
	_, p = faGet(t, s, "?skip=100&take=10", "key")
	if len(p.Items) != 0 || p.TotalCount != 25 {
		t.Errorf("past the end: %d items of %d", len(p.Items), p.TotalCount)
	}
	for _, q := range []string{"?take=0", "?take=1001", "?skip=-1", "?skip=x"} {
		if code, _ := faGet(t, s, q, "key"); code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", q, code)
		}
	}
	_, p = faGet(t, s, "?linkedAgentId=agent-1", "key")
	if p.TotalCount != 1 || p.Items[0].ID != "id-1" {
		t.Errorf("linkedAgentId: %+v", p)
	}
	_, p = faGet(t, s, "?unlinkedOnly=true&take=100", "key")
	if p.TotalCount != 24 {
		t.Errorf("unlinkedOnly: totalCount %d, want 24", p.TotalCount)
	}
}

// The page cache never serves a page from before a change.
func TestPageCacheFollowsChanges(t *testing.T) {
	s := New("", faFleet(3))
	_, p := faGet(t, s, "?take=10", "")
	if p.Items[0].PhoneNumber != "+0" {
		t.Fatal(p.Items[0])
	}
	s.Update("id-0", func(n *Number) { n.PhoneNumber = "+999" })
	if _, p = faGet(t, s, "?take=10", ""); p.Items[0].PhoneNumber != "+999" {
		t.Errorf("after Update: %q", p.Items[0].PhoneNumber)
	}
	s.SetNumbers(faFleet(2))
	if _, p = faGet(t, s, "?take=10", ""); p.TotalCount != 2 {
		t.Errorf("after SetNumbers: totalCount %d", p.TotalCount)
	}
}

func TestInterceptorSeesThePageIndex(t *testing.T) {
	s := New("", faFleet(25))
	var pages []int
	s.SetInterceptor(func(w http.ResponseWriter, r *http.Request, page int) bool {
		pages = append(pages, page)
		if page == 2 {
			WriteProblem(w, http.StatusServiceUnavailable, "Service Unavailable", "")
			return true
		}
		return false
	})
	faGet(t, s, "?skip=0&take=10", "")
	faGet(t, s, "?skip=10&take=10", "")
	if code, _ := faGet(t, s, "?skip=20&take=10", ""); code != http.StatusServiceUnavailable {
		t.Errorf("intercepted page: %d", code)
	}
	if fmt.Sprint(pages) != "[0 1 2]" || s.Requests() != 3 {
		t.Errorf("pages %v, requests %d", pages, s.Requests())
	}
}

func TestProviderFleet(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	fleet := ProviderFleet(1000, 50, 5, now)
	failing, fresh := 0, 0
	perProvider := map[string]int{}
	answers := map[string]bool{}
	for _, n := range fleet {
		perProvider[*n.ProviderID]++
		switch st := n.RegistrationStatus; {
		case st == nil:
			fresh++
		case *st.State != "Registered":
			failing++
			if st.ExpiresAt != nil {
				t.Errorf("%s: a failing number holds a registration", n.ID)
			}
			if st.SIPResponseMessage != nil {
				answers[*st.SIPResponseMessage] = true
			}
		}
	}
	if failing != 20 || fresh != 5 {
		t.Errorf("%d failing, %d new numbers; want 20 and 5", failing, fresh)
	}
	failingPerProvider := map[string]int{}
	for _, n := range fleet {
		if st := n.RegistrationStatus; st != nil && *st.State != "Registered" {
			failingPerProvider[*n.ProviderID]++
		}
	}
	if len(failingPerProvider) != 3 {
		t.Errorf("unrelated failures on %d providers (%v), want all 3", len(failingPerProvider), failingPerProvider)
	}
	if len(answers) != 4 {
		t.Errorf("failing numbers give %d different SIP answers (%v), want 4", len(answers), answers)
	}
	if perProvider[FleetProvider(0)] != 400 || perProvider[FleetProvider(2)] != 200 {
		t.Errorf("numbers per provider: %v, want 400/400/200", perProvider)
	}
	s := New("", fleet)
	ids := FailProvider(s, FleetProvider(2), now)
	if len(ids) != 199 { // one of the provider's 200 is new
		t.Errorf("FailProvider changed %d numbers, want 199", len(ids))
	}
	for _, n := range s.Numbers() {
		if *n.ProviderID == FleetProvider(2) && n.RegistrationStatus != nil && *n.RegistrationStatus.State != "Failed" {
			t.Errorf("%s of the failed provider is %s", n.ID, *n.RegistrationStatus.State)
		}
	}
}
