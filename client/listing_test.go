package client

import (
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// The compact listing gives back what it was given, field by field, nulls,
// uuids in every case and times out of int64 nanoseconds' range included.
func TestListingHoldsNumbersAsGiven(t *testing.T) {
	at := func(s string) Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return Time{v.UTC()}
	}
	numbers := []PhoneNumber{
		{ID: "8d0e9c1a-0000-4000-8000-000000000001", OrgID: "org", PhoneNumber: "+1", CredentialsID: "C7A1F0E2-0000-4000-8000-000000000001",
			DisplayName: "line é", Registration: true, ProviderID: "p", IncomingCallsAgentID: "a", CreatedTime: at("2024-03-01T10:11:12.1234567Z"),
			RegistrationStatus: &RegistrationStatus{State: "Registered", ErrorDescription: "e", SIPResponseMessage: "200 OK",
				LastUpdated: at("9999-12-31T23:59:59.9999999Z"), ExpiresAt: at("1601-01-01T00:00:00Z")}},
		{ID: "x"},
		{ID: "8D0E9C1A-0000-4000-8000-000000000001", RegistrationStatus: &RegistrationStatus{}},
	}
	for i := range 2500 {
		numbers = append(numbers, PhoneNumber{ID: strings.Repeat("n", i%7+1) + string(rune('a'+i%26)), OrgID: "org", CredentialsID: "c7a1f0e2-0000-4000-8000-000000000002"})
	}
	l := NewListing(numbers)
	if l.Len() != len(numbers) {
		t.Fatalf("Len %d, want %d", l.Len(), len(numbers))
	}
	for i, n := range l.All() {
		if got, want := fmtNumber(*n), fmtNumber(numbers[i]); got != want {
			t.Fatalf("All: number %d is\n%s\nwant\n%s", i, got, want)
		}
		if got, want := fmtNumber(l.At(i)), fmtNumber(numbers[i]); got != want {
			t.Fatalf("At(%d) is\n%s\nwant\n%s", i, got, want)
		}
	}
}

func fmtNumber(n PhoneNumber) string {
	s := strings.Join([]string{n.ID, n.OrgID, n.PhoneNumber, n.CredentialsID, n.DisplayName, n.ProviderID, n.IncomingCallsAgentID,
		n.CreatedTime.String(), map[bool]string{true: "reg"}[n.Registration]}, "|")
	if st := n.RegistrationStatus; st != nil {
		s += " status " + strings.Join([]string{st.State, st.ErrorDescription, st.SIPResponseMessage, st.LastUpdated.String(), st.ExpiresAt.String()}, "|")
	}
	return s
}

// A record holds no pointer, so that the garbage collector never scans a
// listing's records, and stays at its estimated size (docs/performance.md).
func TestRecordIsCompact(t *testing.T) {
	var walk func(reflect.Type) bool
	walk = func(ty reflect.Type) bool {
		switch ty.Kind() {
		case reflect.Pointer, reflect.String, reflect.Slice, reflect.Map, reflect.Interface, reflect.Chan, reflect.Func, reflect.UnsafePointer:
			return true
		case reflect.Array:
			return walk(ty.Elem())
		case reflect.Struct:
			for i := range ty.NumField() {
				if walk(ty.Field(i).Type) {
					return true
				}
			}
		}
		return false
	}
	if walk(reflect.TypeFor[record]()) {
		t.Error("record holds a pointer")
	}
	if size := unsafe.Sizeof(record{}); size > 104 {
		t.Errorf("a record is %d bytes, estimated 104", size)
	}
}
