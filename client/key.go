package client

import (
	"errors"
	"strings"
	"sync"

	"github.com/dasha-exporter/dasha_exporter/internal/smallfile"
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

// KeyFile is a key kept in a file, read lazily and again only when the
// file changed, so that a rotated key is picked up without a restart.
// Surrounding white space (a trailing newline) is ignored.
//
// The file is read through smallfile: only a regular file of at most
// MaxKeyFileSize bytes, opened so that a FIFO cannot block. Each Key call
// costs one stat; the file is read again only when its size, modification
// time, inode or device differ from the last read (a key file replaced by
// rename, as Kubernetes secret mounts and editors do, has a new inode).
//
// Errors never carry the path (a path may be a pasted key): they are
// *KeyFileError, whose Unwrap gives the bare reason ("no such file", "a
// FIFO (named pipe), not a regular file", "larger than 4096 bytes (…)",
// "the API key is empty", …). A missing file is errors.Is(err,
// fs.ErrNotExist); every other error means the path names something that
// can never hold a key, or a key that is not valid.
type KeyFile struct {
	path string
	// read reads the file: smallfile.Read, or a test's counting wrapper.
	read func(path string, limit int64) ([]byte, smallfile.Version, error)

	// mu guards the fields below and is never held across I/O: a stat or
	// read (which cannot block on a FIFO, but may be slow on a network
	// file system) happens before it is taken.
	mu       sync.Mutex
	last     error             // the outcome of the last Key call
	haveRead bool              // ver, key and keyErr describe a read
	ver      smallfile.Version // the version last read
	key      string            // the key it held, if valid
	keyErr   error             // why it held no valid key
}

// KeyFileError is why a key file yields no key. Its text never holds the
// path or the file's contents.
type KeyFileError struct{ Err error }

func (e *KeyFileError) Error() string { return "API key file: " + e.Err.Error() }
func (e *KeyFileError) Unwrap() error { return e.Err }

// NewKeyFile returns the key source of the file at path. It neither reads
// nor fails: the file may not exist yet (a secret mounted later); Key says
// what is wrong each time it is asked.
func NewKeyFile(path string) *KeyFile {
	return &KeyFile{path: path, read: smallfile.Read}
}

// Key returns the current key, reading the file if it changed since the
// last read. A changed file that is now bad is an error, not the previous
// key: the previous key may be the one that was just revoked.
func (f *KeyFile) Key() (string, error) {
	ver, err := smallfile.Stat(f.path, MaxKeyFileSize)
	if err != nil {
		return f.settle("", err)
	}
	f.mu.Lock()
	cached := f.haveRead && f.ver == ver
	key, keyErr := f.key, f.keyErr
	f.mu.Unlock()
	if cached {
		return f.settle(key, keyErr)
	}
	data, ver, err := f.read(f.path, MaxKeyFileSize)
	if err != nil {
		return f.settle("", err)
	}
	key, keyErr = ValidateKey(string(data))
	f.mu.Lock()
	f.haveRead, f.ver, f.key, f.keyErr = true, ver, key, keyErr
	f.mu.Unlock()
	return f.settle(key, keyErr)
}

// settle records the outcome of a Key call for Problem.
func (f *KeyFile) settle(key string, err error) (string, error) {
	if err != nil {
		key, err = "", &KeyFileError{err}
	}
	f.mu.Lock()
	f.last = err
	f.mu.Unlock()
	return key, err
}

// Problem reports why the last Key call yielded no key, or nil; nil too
// before the first call. It does no I/O, so a page view (the landing
// page, readiness) can show an account's key problem without touching
// the file: only probes, which call Key, look at it.
func (f *KeyFile) Problem() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
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
