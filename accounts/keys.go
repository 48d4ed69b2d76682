package accounts

import (
	"errors"
	"fmt"
	"net"

	"github.com/dasha-exporter/dasha_exporter/client"
)

// Names names, for people, the settings an account's key and URL were set
// with, so that a message points at what to change: the file's fields, or
// the flags (which main names; nothing below main knows a flag).
type Names struct {
	// KeyFile is the flag that holds the key file's path
	// ("--dasha.api-key-file"). A variable (DASHA_API_KEY) is named by its
	// own name.
	KeyFile string
	// URL is the flag of the API's address ("--dasha.url").
	URL string
	// Named: the accounts are told apart by name (a configuration file):
	// messages name the account, its field and line (Settings.KeySourceName),
	// and the request metrics carry an account label. The flags' one
	// account has neither, as /metrics has always shown it.
	Named bool
}

// FileNames names the settings of a configuration file's accounts.
var FileNames = Names{Named: true}

// keySourceName names where account s's key comes from under the
// contract's rule for naming key sources: a key file's path only while it
// names an existing regular file, a variable's name only when it looks
// like one; otherwise the setting alone, never its value (which could be
// a pasted key).
func (n Names) keySourceName(s *Settings) string {
	switch {
	case n.Named:
		return s.KeySourceName()
	case s.KeyEnv != "" && ShowableEnvName(s.KeyEnv):
		return s.KeyEnv
	case s.KeyEnv != "":
		return "the key's environment variable"
	case ShowableKeyFile(s.KeyFile):
		return n.KeyFile + " " + s.KeyFile
	default:
		return n.KeyFile
	}
}

// urlSourceName names where account s's API URL was set.
func (n Names) urlSourceName(s *Settings) string {
	switch {
	case !n.Named:
		return n.URL
	case s.Platform != "":
		return fmt.Sprintf("platform of account %q", s.Name)
	default:
		return fmt.Sprintf("url of account %q", s.Name)
	}
}

// keySource returns the account's key source; every error it gives names
// the source (see keySourceName). A key that cannot be had now is not an
// error of the configuration: the source keeps failing with the reason (a
// key file is looked at again on each request, so creating it later
// works), and problem says why.
func keySource(s *Settings, getenv func(string) string, n Names) (keys client.KeySource, problem error) {
	if s.KeyEnv != "" {
		name := n.keySourceName(s)
		v := getenv(s.KeyEnv)
		if v == "" {
			err := fmt.Errorf("%s: the environment variable is not set or empty", name)
			return brokenKey{err}, err
		}
		key, err := client.ValidateKey(v)
		if err != nil {
			err = fmt.Errorf("%s: the environment variable does not hold a valid key: %w", name, err)
			return brokenKey{err}, err
		}
		return client.StaticKey(key), nil
	}
	f := &namedKeyFile{file: client.NewKeyFile(s.KeyFile), name: func() string { return n.keySourceName(s) }}
	_, err := f.Key()
	return f, err
}

// brokenKey always fails with the reason there is no key.
type brokenKey struct{ err error }

func (k brokenKey) Key() (string, error) { return "", k.err }

// namedKeyFile is a client.KeyFile whose errors, which carry no path (it
// may be a pasted key), name the key's source under the naming rule.
type namedKeyFile struct {
	file *client.KeyFile
	name func() string
}

func (f *namedKeyFile) Key() (string, error) {
	key, err := f.file.Key()
	if err != nil {
		return "", f.named(err)
	}
	return key, nil
}

// Problem is the outcome of the last Key call, named as Key names it,
// without looking at the file: the landing page asks on every view.
func (f *namedKeyFile) Problem() error {
	if err := f.file.Problem(); err != nil {
		return f.named(err)
	}
	return nil
}

func (f *namedKeyFile) named(err error) error {
	var kfe *client.KeyFileError
	if errors.As(err, &kfe) {
		err = kfe.Err // "API key file: " is said better by the name
	}
	return fmt.Errorf("%s: %w", f.name(), err)
}

// isLoopback reports whether host is this machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
