package accounts

import (
	"fmt"
	"net"
	"regexp"
	"sync"

	"github.com/dasha-exporter/dasha_exporter/client"
	"github.com/dasha-exporter/dasha_exporter/internal/smallfile"
)

// Origin names, for people, the settings an account was set with, so that
// a message points at what to change: the file's fields, or the flags
// (which main names; nothing below main knows a flag).
type Origin struct {
	// KeyEnv is the setting that names the key's variable
	// ("api_key_env"), or "" when the variable's own name says it
	// (DASHA_API_KEY).
	KeyEnv string
	// KeyFile is the setting that holds the key file's path
	// ("api_key_file", "--dasha.api-key-file").
	KeyFile string
	// URL is the setting of the API's address ("--dasha.url"); "" for
	// the file, whose accounts set "url" or "platform".
	URL string
	// Named: the accounts are told apart by name (a configuration
	// file). Messages then name the account, and the request metrics
	// carry an account label; the flags' one account has neither, as
	// /metrics has always shown it.
	Named bool
}

// FileOrigin is the origin of a configuration file's accounts.
var FileOrigin = Origin{KeyEnv: "api_key_env", KeyFile: "api_key_file", Named: true}

// maxKeyFile bounds a key file: a key is a line of a few hundred bytes.
const maxKeyFile = 16 << 10

// envNameShownRE and maxEnvName are the contract's rule for showing a
// variable's name: it must look like one, and be too short to be a key.
var envNameShownRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

const maxEnvName = 31

// keySourceName names where account s's key comes from under the
// contract's rule for naming key sources: an api_key_file path only while
// it names an existing regular file, a variable's name only when it looks
// like one; otherwise the setting alone, never its value (which could be
// a pasted key).
func (o Origin) keySourceName(s *Settings) string {
	if s.KeyEnv != "" {
		if !envNameShownRE.MatchString(s.KeyEnv) || len(s.KeyEnv) > maxEnvName {
			return o.setting(o.KeyEnv, "the key's variable", s)
		}
		if o.KeyEnv == "" {
			return s.KeyEnv
		}
		return o.KeyEnv + " " + s.KeyEnv
	}
	if _, err := smallfile.Stat(s.KeyFile, maxKeyFile); err == nil {
		return o.KeyFile + " " + s.KeyFile
	}
	return o.setting(o.KeyFile, "the key file", s)
}

// urlSourceName names where account s's API URL was set.
func (o Origin) urlSourceName(s *Settings) string {
	switch {
	case o.URL != "":
		return o.URL
	case s.Platform != "":
		return o.setting("platform", "", s)
	default:
		return o.setting("url", "", s)
	}
}

// setting names a setting without its value, with the account when
// accounts have names.
func (o Origin) setting(field, fallback string, s *Settings) string {
	if field == "" {
		field = fallback
	}
	if o.Named {
		return fmt.Sprintf("%s of account %q", field, s.Name)
	}
	return field
}

// keySource returns the account's key source; every error it gives names
// the source (see keySourceName). A key that cannot be had now is not an
// error of the configuration: the source keeps failing with the reason (a
// key file is looked at again on each request, so creating it later
// works), and problem says why.
func keySource(s *Settings, getenv func(string) string, o Origin) (keys client.KeySource, problem error) {
	if s.KeyEnv != "" {
		name := o.keySourceName(s)
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
	f := &lazyKeyFile{path: s.KeyFile, name: func() string { return o.keySourceName(s) }}
	_, err := f.Key()
	return f, err
}

// brokenKey always fails with the reason there is no key.
type brokenKey struct{ err error }

func (k brokenKey) Key() (string, error) { return "", k.err }

// lazyKeyFile is a client.KeyFile that may not exist yet, or stop
// existing. It never hands the path to an error unless the path names a
// regular file (see keySourceName).
type lazyKeyFile struct {
	path string
	name func() string
	mu   sync.Mutex
	file *client.KeyFile
}

func (f *lazyKeyFile) Key() (string, error) {
	if _, err := smallfile.Stat(f.path, maxKeyFile); err != nil {
		return "", fmt.Errorf("%s: %w", f.name(), err)
	}
	f.mu.Lock()
	file := f.file
	if file == nil {
		var err error
		if file, err = client.NewKeyFile(f.path); err != nil {
			f.mu.Unlock()
			return "", fmt.Errorf("%s: %w", f.name(), err)
		}
		f.file = file
	}
	f.mu.Unlock()
	key, err := file.Key()
	if err != nil {
		return "", fmt.Errorf("%s: %w", f.name(), err)
	}
	return key, nil
}

// isLoopback reports whether host is this machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
