package accounts

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The contract's rule for naming key sources: a variable's name only when
// it looks like one (and is too short to be a key), a key file's path only
// once it names an existing regular file; never a value.
func TestKeySourceNamesOnlyWhatCannotBeAKey(t *testing.T) {
	dir := t.TempDir()
	badKeyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(badKeyFile, []byte("two words\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pastedPath := filepath.Join(dir, "sk_live_5hT9xQ2mV8/x")
	for _, tc := range []struct {
		name    string
		s       Settings
		names   Names
		value   string
		want    []string
		mustNot []string
	}{
		{"unset variable", Settings{Name: "a", KeyEnv: "ACME_KEY"}, FileNames, "",
			[]string{"api_key_env ACME_KEY: the environment variable is not set or empty"}, nil},
		{"bad value", Settings{Name: "a", KeyEnv: "ACME_KEY"}, FileNames, "two words " + pastedKey,
			[]string{"api_key_env ACME_KEY: the environment variable does not hold a valid key"}, []string{pastedKey}},
		{"non-ASCII value", Settings{Name: "a", KeyEnv: "ACME_KEY"}, FileNames, pastedKey + "é",
			[]string{"api_key_env ACME_KEY"}, []string{pastedKey}},
		{"key pasted as the variable", Settings{Name: "a", KeyEnv: pastedKey}, FileNames, "",
			[]string{`api_key_env of account "a": the environment variable is not set`}, []string{pastedKey}},
		{"flags: DASHA_API_KEY", Settings{Name: "default", KeyEnv: "DASHA_API_KEY"}, Names{KeyFile: "--dasha.api-key-file"}, "",
			[]string{"DASHA_API_KEY: the environment variable is not set or empty"}, []string{"account"}},
		{"missing file", Settings{Name: "a", KeyFile: pastedPath}, FileNames, "",
			[]string{`api_key_file of account "a": no such file`}, []string{"sk_live", dir}},
		{"flags: missing file", Settings{Name: "default", KeyFile: pastedPath}, Names{KeyFile: "--dasha.api-key-file"}, "",
			[]string{"--dasha.api-key-file: no such file"}, []string{"sk_live", dir}},
		{"a directory", Settings{Name: "a", KeyFile: dir}, FileNames, "",
			[]string{`api_key_file of account "a": a directory`}, []string{dir}},
		{"a regular file with a bad key", Settings{Name: "a", KeyFile: badKeyFile}, FileNames, "",
			[]string{"api_key_file " + badKeyFile + ":"}, []string{"two words"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys, problem := keySource(&tc.s, func(string) string { return tc.value }, tc.names)
			if problem == nil {
				t.Fatal("no problem reported")
			}
			_, err := keys.Key()
			for _, msg := range []string{problem.Error(), err.Error()} {
				for _, w := range tc.want {
					if !strings.Contains(msg, w) {
						t.Errorf("message %q lacks %q", msg, w)
					}
				}
				for _, w := range tc.mustNot {
					if strings.Contains(msg, w) {
						t.Errorf("message %q repeats %q", msg, w)
					}
				}
			}
		})
	}
}

func TestKeySourceTrimsTheKey(t *testing.T) {
	s := Settings{KeyEnv: "ACME_KEY"}
	keys, problem := keySource(&s, func(string) string { return " " + pastedKey + "\n" }, FileNames)
	if problem != nil {
		t.Fatal(problem)
	}
	if k, _ := keys.Key(); k != pastedKey {
		t.Errorf("key = %q, want it trimmed", k)
	}
}

func TestKeyFileCreatedLaterAndDeleted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key")
	s := Settings{Name: "a", KeyFile: path}
	keys, problem := keySource(&s, nil, FileNames)
	if problem == nil {
		t.Fatal("a missing key file is not reported")
	}
	if err := os.WriteFile(path, []byte("k1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if k, err := keys.Key(); err != nil || k != "k1" {
		t.Errorf("after the file appeared: %q, %v", k, err)
	}
	os.Remove(path)
	if _, err := keys.Key(); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("after the file was deleted: %v, want no such file", err)
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true, "10.0.0.1": false, "blackbox.dasha.ai": false} {
		if isLoopback(host) != want {
			t.Errorf("isLoopback(%q) != %v", host, want)
		}
	}
}

// TestKeyProblemDoesNotTouchTheFile: the landing page asks every account
// for its key problem on each view; a key file answers from its last look,
// so a page view never stats or reads it (at 10,000 accounts that would be
// 10,000 file system calls a view).
func TestKeyProblemDoesNotTouchTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(path, []byte("k1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := Settings{Name: "a", KeyFile: path}
	keys, problem := keySource(&s, nil, FileNames)
	if problem != nil {
		t.Fatal(problem)
	}
	a := &Account{Settings: s, keys: keys}
	os.Remove(path)
	if err := a.KeyProblem(); err != nil {
		t.Errorf("KeyProblem looked at the file again: %v", err)
	}
	keys.Key() // a listing looks again
	if err := a.KeyProblem(); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("after a listing found the file gone: %v, want no such file", err)
	}
}
