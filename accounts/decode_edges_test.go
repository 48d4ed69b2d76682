package accounts

import (
	"slices"
	"strings"
	"testing"
)

// YAML anchors and aliases are followed wherever a value may stand: an
// account's whole settings, a nested mapping, a list and a single value.
func TestParseFollowsAliases(t *testing.T) {
	in := `accounts:
  first: &common
    platform: us
    api_key_env: ACME_KEY
    registration:
      states: &states [Registered, Failed]
      healthy_states: [Registered]
    phone_number: &phone "+14155550100"
  second: *common
  third:
    url: https://dasha.example.com
    api_key_env: OTHER_KEY
    registration:
      states: *states
    phone_number: *phone
`
	got, err := Parse([]byte(in), "", testDefaults)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d accounts, want 3", len(got))
	}
	for _, s := range got {
		if s.Filters.PhoneNumber != "+14155550100" || !slices.Equal(s.Collector.States, []string{"Registered", "Failed"}) {
			t.Errorf("account %s: phone_number %q, states %v", s.Name, s.Filters.PhoneNumber, s.Collector.States)
		}
	}
	if got[1].URL != Platforms["us"] || got[1].KeyEnv != "ACME_KEY" {
		t.Errorf("the alias of the first account's settings gave %+v", got[1])
	}
}

// An account name may be exactly maxNameLen characters long, not one more.
func TestValidNameLengthBound(t *testing.T) {
	if !ValidName(strings.Repeat("a", maxNameLen)) || ValidName(strings.Repeat("a", maxNameLen+1)) {
		t.Errorf("names of %d and %d characters: want valid, not valid", maxNameLen, maxNameLen+1)
	}
}

// Where names a platform with its URL, or the URL alone.
func TestWhereNamesThePlatformOrTheURL(t *testing.T) {
	if got := (&Settings{Platform: "us", URL: Platforms["us"]}).Where(); got != "us (https://blackbox.dasha.ai)" {
		t.Errorf("%q", got)
	}
	if got := (&Settings{URL: "https://dasha.example.com"}).Where(); got != "https://dasha.example.com" {
		t.Errorf("%q", got)
	}
}

// The second look at a syntax error never names a line before the one the
// YAML library reported: a quoted value continued at an odd indentation is
// valid, and the fault is the library's, further down.
func TestSyntaxErrorKeepsTheLibrarysLaterLine(t *testing.T) {
	in := "accounts:\n  a:\n    url: \"http://x\n   y\"\n    api_key_env: K\nbad: [\n"
	_, err := Parse([]byte(in), "", testDefaults)
	if err == nil || !strings.HasPrefix(err.Error(), "line 6: ") {
		t.Errorf("error %v, want the library's line 6", err)
	}
}

// Names and paths of letters only, up to z and Z, are written plain.
func TestPlainScalarsUpToZ(t *testing.T) {
	for _, s := range []string{"zz", "ZZ", "az/Z"} {
		if got := plainOrQuoted(s); got != s {
			t.Errorf("plainOrQuoted(%q) = %s", s, got)
		}
	}
}

// Where the library names the same line as the second look, the second
// look's words stand (they say what is wrong with the indentation); where
// neither names a line, the library's words stand alone.
func TestSyntaxErrorWordsAtTheSameLineAndAtNone(t *testing.T) {
	for in, want := range map[string]string{
		"accounts:\n  a:\n    platform: us\n      api_key_env: K\n": "line 4: this key is indented by 6 spaces under a line that opens no block",
		"accounts:\n  a: \x01\n":                                    "control characters are not allowed",
	} {
		if _, err := Parse([]byte(in), "", testDefaults); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want %q...", in, err, want)
		}
	}
}
