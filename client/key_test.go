package client

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dasha-exporter/dasha_exporter/internal/smallfile"
)

// countingKeyFile is a KeyFile whose reads (not stats) are counted.
func countingKeyFile(path string) (*KeyFile, *atomic.Int32) {
	var reads atomic.Int32
	kf := NewKeyFile(path)
	kf.read = func(p string, limit int64) ([]byte, smallfile.Version, error) {
		reads.Add(1)
		return smallfile.Read(p, limit)
	}
	return kf, &reads
}

// keyWithin calls Key in a goroutine and fails the test if it does not
// return in time: a FIFO or device used to block it forever.
func keyWithin(t *testing.T, kf *KeyFile) (string, error) {
	t.Helper()
	type result struct {
		key string
		err error
	}
	done := make(chan result, 1)
	go func() { k, err := kf.Key(); done <- result{k, err} }()
	select {
	case r := <-done:
		return r.key, r.err
	case <-time.After(5 * time.Second): // far above a stat and a 4 KiB read
		t.Fatal("Key blocked")
		return "", nil
	}
}

// Constructing a key file neither reads it nor fails; Key says what is
// wrong, and a missing file (a secret mounted later) is told apart from a
// path that names something that can never hold a key.
func TestKeyFileRefusesWhatIsNotASmallRegularFile(t *testing.T) {
	dir, err := os.MkdirTemp("", "kf") // short: a socket path has a length limit
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	toZero := filepath.Join(dir, "zero")
	if err := os.Symlink("/dev/zero", toZero); err != nil {
		t.Fatal(err)
	}
	sparse := filepath.Join(dir, "sparse")
	if err := os.WriteFile(sparse, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(sparse, 256<<20); err != nil {
		t.Fatal(err)
	}
	just := filepath.Join(dir, "just-over")
	if err := os.WriteFile(just, []byte(strings.Repeat("k", MaxKeyFileSize+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	for _, tc := range []struct{ name, path, want string }{
		{"FIFO", fifo, "a FIFO (named pipe), not a regular file"},
		{"/dev/zero", "/dev/zero", "a device, not a regular file"},
		{"symlink to /dev/zero", toZero, "a device, not a regular file"},
		{"256 MB sparse file", sparse, "larger than 4096 bytes"},
		{"one byte over the bound", just, "larger than 4096 bytes"},
		{"directory", dir, "a directory, not a regular file"},
		{"socket", sock, "a socket, not a regular file"},
	} {
		kf, reads := countingKeyFile(tc.path)
		key, err := keyWithin(t, kf)
		switch {
		case err == nil:
			t.Errorf("%s: Key = %q, want an error", tc.name, key)
			continue
		case !strings.Contains(err.Error(), tc.want):
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		case strings.Contains(err.Error(), tc.path):
			t.Errorf("%s: the error repeats the path: %v", tc.name, err)
		case errors.Is(err, fs.ErrNotExist):
			t.Errorf("%s: %v reads as a missing file", tc.name, err)
		}
		if n := reads.Load(); n != 0 {
			t.Errorf("%s: read %d times; a stat tells it is no key file", tc.name, n)
		}
	}

	missing := filepath.Join(dir, "missing")
	kf := NewKeyFile(missing)
	if kf.Problem() != nil {
		t.Errorf("Problem before any Key: %v", kf.Problem())
	}
	_, err = kf.Key()
	if !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, smallfile.ErrNotExist) || strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: %v", err)
	}
	var kfe *KeyFileError
	if !errors.As(err, &kfe) || errors.Unwrap(err).Error() != "no such file" {
		t.Errorf("missing file: %v does not unwrap to the bare reason", err)
	}
}

// The file is read only when it changed: a bad file asked for on every
// probe (and, before, on every landing-page view) is not read again and
// again, and Problem reports the last outcome without touching the file.
func TestKeyFileReadsOnlyWhenChanged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(path, []byte("two words\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kf, reads := countingKeyFile(path)
	for range 3 {
		if _, err := kf.Key(); err == nil || !strings.Contains(err.Error(), "white space") {
			t.Fatalf("Key = %v, want the key's problem", err)
		}
	}
	if n := reads.Load(); n != 1 {
		t.Errorf("an unchanged bad file was read %d times, want 1", n)
	}

	if err := os.WriteFile(path, []byte("good-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if k, err := kf.Key(); k != "good-key" || err != nil {
			t.Fatalf("Key = %q, %v", k, err)
		}
	}
	if n := reads.Load(); n != 2 {
		t.Errorf("reads = %d, want 2 (one per content)", n)
	}
	if kf.Problem() != nil {
		t.Errorf("Problem = %v after a good key", kf.Problem())
	}

	// Problem does no I/O: the file gone, it still tells the last Key.
	os.Remove(path)
	if kf.Problem() != nil {
		t.Errorf("Problem = %v: it looked at the file", kf.Problem())
	}
	if _, err := kf.Key(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Key of a removed file = %v", err)
	}
	if !errors.Is(kf.Problem(), fs.ErrNotExist) {
		t.Errorf("Problem = %v, want the last Key's error", kf.Problem())
	}
}

// A key file replaced by rename (Kubernetes secret mounts, editors) is
// read again even when size and modification time are the same: the
// inode changed.
func TestKeyFileRotationByRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "key")
	if err := os.WriteFile(path, []byte("key-aaaa\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	kf := NewKeyFile(path)
	if k, err := kf.Key(); k != "key-aaaa" || err != nil {
		t.Fatalf("Key = %q, %v", k, err)
	}
	next := filepath.Join(dir, "key.new")
	if err := os.WriteFile(next, []byte("key-bbbb\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(next, st.ModTime(), st.ModTime())
	if err := os.Rename(next, path); err != nil {
		t.Fatal(err)
	}
	if k, err := kf.Key(); k != "key-bbbb" || err != nil {
		t.Errorf("after a rename: Key = %q, %v; want the new key", k, err)
	}

	// Replaced by a FIFO at run time: an error at once, not the old key
	// (it may be the one just revoked), and no hang.
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(fifo, path); err != nil {
		t.Fatal(err)
	}
	if k, err := keyWithin(t, kf); err == nil || !strings.Contains(err.Error(), "FIFO") {
		t.Errorf("swapped for a FIFO: Key = %q, %v", k, err)
	}
}

// Concurrent Key calls while the file is rotated return one of the keys
// or an error, never a mix, and are race free (go test -race).
func TestKeyFileConcurrentRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "key")
	keys := []string{"key-one-1111", "key-two-22222"}
	if err := os.WriteFile(path, []byte(keys[0]), 0o600); err != nil {
		t.Fatal(err)
	}
	kf := NewKeyFile(path)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				k, err := kf.Key()
				if err == nil && k != keys[0] && k != keys[1] {
					t.Errorf("Key = %q", k)
					return
				}
				_ = kf.Problem()
			}
		})
	}
	for i := range 50 {
		tmp := filepath.Join(dir, "tmp")
		os.WriteFile(tmp, []byte(keys[i%2]), 0o600)
		os.Rename(tmp, path)
	}
	wg.Wait()
	if k, err := kf.Key(); k != keys[1] || err != nil {
		t.Errorf("after the rotations: Key = %q, %v", k, err)
	}
}
