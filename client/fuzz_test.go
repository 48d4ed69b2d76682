package client

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDecodePage feeds arbitrary bodies to decodePage: it must never panic,
// and a page it accepts has a totalCount >= 0 and an id of valid UTF-8 on
// every item (an escaped one holds its escapes), and its compact block
// gives back every number as decoded.
func FuzzDecodePage(f *testing.F) {
	for _, seed := range []string{
		`{"items":[],"totalCount":0,"skip":0,"take":1000}`,
		`{"items":[{"id":"a","orgId":null,"phoneNumber":"+1","credentialsId":null,"displayName":null,"registration":true,"providerId":null,"incomingCallsAgentId":null,"registrationStatus":null}],"totalCount":1}`,
		`{"items":[{"id":"a","registrationStatus":{"state":null,"errorDescription":null,"sipResponseMessage":null,"lastUpdated":null,"expiresAt":null}}],"totalCount":1}`,
		`{"items":[{"id":"a","registrationStatus":{"lastUpdated":"2023-11-07T05:31:56.1234567Z","expiresAt":"2023-11-07T05:31:56+00:00"}}],"totalCount":1}`,
		`{"items":[{"id":"a","registrationStatus":{"lastUpdated":"2023-11-07T05:31:56","expiresAt":"9999-12-31T23:59:59.9999999Z"}}],"totalCount":1}`,
		`{"items":[{"id":"a","displayName":"Acme \"Gold\"\\line\nLondon \ud800 \u0000"}],"totalCount":1}`,
		"{\"items\":[{\"id\":\"\xff\xfe\",\"displayName\":\"\xc3\x28\"}],\"totalCount\":1}",
		"{\"items\":[{\"id\":\"num-\xff\"},{\"id\":\"num-\\\\xff\"},{\"id\":\"num-\\ud800\"},{\"id\":\"\\ud83d\\ude00\"}],\"totalCount\":4}",
		`{"items":[{"id":"8d0e9c1a-0000-4000-8000-000000000001","credentialsId":"8D0E9C1A-0000-4000-8000-000000000001"}],"totalCount":1}`,
		`{"items":[{"id":"a"}],"totalCount":99999999999999999999999}`,
		`{"items":[{"id":"a"}],"totalCount":1e3}`,
		`{"items":[{"id":"a"}],"totalCount":-1}`,
		`{"items":null,"totalCount":5}`,
		`{"items":[{"id":""}],"totalCount":1}`,
		`{"items":[{"id":1}],"totalCount":1}`,
		`{"items":[{"id":"a","registration":"yes"}],"totalCount":1}`,
		`{"items":[{"id":"a","registrationStatus":{"expiresAt":1699335116}}],"totalCount":1}`,
		`{"items":[null],"totalCount":1}`,
		`{"totalCount":1,"totalCount":null}`,
		`null`, `[]`, ``, `{`, `<html><body>502</body></html>`,
		`{"items":[],"totalCount":0} trailing`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := decodePage(bytes.NewReader(body), -1, 1000, "k")
		if err != nil {
			if p != nil {
				t.Errorf("decodePage returned a page and the error %v", err)
			}
			if strings.ContainsRune(err.Error(), '\n') {
				t.Errorf("error %q spans lines", err)
			}
			return
		}
		if p.TotalCount == nil || *p.TotalCount < 0 {
			t.Fatalf("accepted a page with totalCount %v", p.TotalCount)
		}
		for i, item := range p.Items {
			if item.ID == "" {
				t.Fatalf("accepted item %d without an id", i)
			}
			if !utf8.ValidString(item.ID) {
				t.Fatalf("item %d: id %q is not UTF-8", i, item.ID)
			}
			if p.escapedIDs != nil && p.escapedIDs[i] && !strings.Contains(item.ID, `\`) {
				t.Fatalf("item %d: escaped id %q holds no escape", i, item.ID)
			}
		}
		l := newListing([]*block{newBlock(p.Items, p.escapedIDs)})
		for i, n := range l.All() {
			if got, want := fmtNumber(*n), fmtNumber(p.Items[i]); got != want {
				t.Fatalf("the block gives back\n%s\nfor\n%s", got, want)
			}
		}
	})
}
