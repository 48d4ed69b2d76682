package client

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// MaxKeyFileSize bounds an API key file. A key is one line of printable
// ASCII well under 1 KB (JWTs, the longest kind, stay under 2 KB); 4 KiB
// leaves room for a trailing newline and white space while
// keeping a wrong file (a log, /dev/zero, a sparse file of gigabytes) from
// being read into memory. A larger file is an error, not a truncated key.
const MaxKeyFileSize = 4 << 10

// KeySource yields the API key for each request.
type KeySource interface {
	Key() (string, error)
}

// StaticKey is a key fixed at start-up (from DASHA_API_KEY).
type StaticKey string

// Key returns the key.
func (k StaticKey) Key() (string, error) { return string(k), nil }

// KeyFile reads the key from a file and reads it again whenever the file's
// modification time or size changes, so a rotated key is picked up without a
// restart. Surrounding white space (a trailing newline) is ignored.
type KeyFile struct {
	path string

	mu      sync.Mutex
	key     string
	modTime time.Time
	size    int64
}

// NewKeyFile reads path once, so that a missing or bad file is reported at
// start-up.
func NewKeyFile(path string) (*KeyFile, error) {
	f := &KeyFile{path: path}
	if _, err := f.Key(); err != nil {
		return nil, err
	}
	return f, nil
}

// Key returns the current key, re-reading the file if it changed. When a
// changed file cannot be read or is empty, the error says so: the previous
// key may be the one that was just revoked.
func (f *KeyFile) Key() (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, err := os.Stat(f.path)
	if err != nil {
		return "", fmt.Errorf("API key file: %w", err)
	}
	if f.key != "" && st.ModTime().Equal(f.modTime) && st.Size() == f.size {
		return f.key, nil
	}
	b, err := os.ReadFile(f.path)
	if err != nil {
		return "", fmt.Errorf("API key file: %w", err)
	}
	key, err := ValidateKey(string(b))
	if err != nil {
		return "", fmt.Errorf("API key file %s: %w", f.path, err)
	}
	f.key, f.modTime, f.size = key, st.ModTime(), st.Size()
	return key, nil
}

// ValidateKey trims white space around a key and checks that it can be sent
// in an Authorization header. Errors never contain the key.
func ValidateKey(raw string) (string, error) {
	key := strings.TrimSpace(raw)
	if key == "" {
		return "", errors.New("the API key is empty")
	}
	for _, r := range key {
		if r <= ' ' || r > '~' {
			return "", errors.New("the API key contains white space or a non-ASCII character; it must be one line of printable ASCII")
		}
	}
	return key, nil
}
