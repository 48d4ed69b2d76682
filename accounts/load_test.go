package accounts

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dasha-exporter/dasha_exporter/client"
)

// loadWithin runs Load and fails the test if it blocks (a FIFO opened for
// reading waits for a writer forever).
func loadWithin(t *testing.T, path string) ([]Settings, error) {
	t.Helper()
	type result struct {
		s   []Settings
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := Load(path, testDefaults)
		done <- result{s, err}
	}()
	select {
	case r := <-done:
		return r.s, r.err
	case <-time.After(10 * time.Second):
		t.Fatalf("Load(%s) blocked", path)
		return nil, nil
	}
}

// TestLoadRefusesAConfigFileThatIsNotASmallRegularFile: /dev/zero as the
// configuration file ran the exporter out of memory, and a FIFO blocked
// --config.check, the start and every reload.
func TestLoadRefusesAConfigFileThatIsNotASmallRegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.yml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	zeroLink := filepath.Join(dir, "zero.yml")
	if err := os.Symlink("/dev/zero", zeroLink); err != nil {
		t.Fatal(err)
	}
	fifoLink := filepath.Join(dir, "fifo-link.yml")
	if err := os.Symlink(fifo, fifoLink); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, "huge.yml")
	if err := os.WriteFile(huge, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(huge, 1<<30); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"/dev/zero":                       "a device, not a regular file",
		zeroLink:                          "a device, not a regular file",
		fifo:                              "a FIFO (named pipe), not a regular file",
		fifoLink:                          "a FIFO (named pipe), not a regular file",
		huge:                              fmt.Sprintf("larger than %d bytes", MaxConfigSize),
		dir:                               "a directory, not a regular file",
		filepath.Join(dir, "missing.yml"): "no such file",
	} {
		_, err := loadWithin(t, path)
		if err == nil || !strings.HasPrefix(err.Error(), path+": ") || !strings.Contains(err.Error(), want) {
			t.Errorf("Load(%s) = %v, want %q", path, err, want)
		}
	}
}

// TestLoadRefusesKeyFilesThatCanNeverHoldAKey: a key file that exists but
// is not a regular file, or is over client.MaxKeyFileSize, refuses the
// file, naming the account; a missing one does not (it may be mounted
// later).
func TestLoadRefusesKeyFilesThatCanNeverHoldAKey(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.key")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.key")
	if err := os.WriteFile(big, make([]byte, client.MaxKeyFileSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "s.key")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for keyFile, want := range map[string]string{
		fifo:        `: api_key_file of account "a" (line 7): a FIFO (named pipe), not a regular file`,
		"/dev/zero": `: api_key_file of account "a" (line 7): a device, not a regular file`,
		dir:         `: api_key_file of account "a" (line 7): a directory, not a regular file`,
		sock:        `: api_key_file of account "a" (line 7): a socket, not a regular file`,
		// A regular file may be named: it cannot be a pasted key.
		big: `: api_key_file ` + big + `: larger than 4096 bytes`,
	} {
		path := filepath.Join(t.TempDir(), "dasha.yml")
		os.WriteFile(path, []byte("accounts:\n  ok:\n    platform: us\n    api_key_env: K\n  a:\n    platform: us\n    api_key_file: "+keyFile+"\n"), 0o600)
		_, err := loadWithin(t, path)
		if err == nil || !strings.HasPrefix(err.Error(), path+want) {
			t.Errorf("key file %s: %v\nwant %s%s...", keyFile, err, path, want)
		}
		if keyFile != big && err != nil && strings.Contains(err.Error(), keyFile) {
			t.Errorf("names a path that is not a regular file: %v", err)
		}
	}

	path := filepath.Join(dir, "dasha.yml")
	os.WriteFile(path, []byte("accounts:\n  a:\n    platform: us\n    api_key_file: missing.key\n"), 0o600)
	if s, err := loadWithin(t, path); err != nil || len(s) != 1 || s[0].Origin.File != path {
		t.Errorf("a missing key file: %v, %+v", err, s)
	}
}

// TestReloadKeepsTheRunningConfigurationOnAHostileFile: the file swapped
// for a symlink to /dev/zero or a FIFO fails the reload at once.
func TestReloadKeepsTheRunningConfigurationOnAHostileFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "dasha.yml")
	if err := os.WriteFile(path, []byte("accounts:\n  a:\n    url: http://127.0.0.1:1\n    api_key_env: K\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := NewRegistry(File(path), Options{Defaults: testDefaults, Getenv: func(string) string { return "k" }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"/dev/zero", fifo} {
		os.Remove(path)
		if err := os.Symlink(target, path); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- r.Reload() }()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("reload of %s succeeded", target)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("reload of %s blocked", target)
		}
		if r.Get("a") == nil {
			t.Errorf("after the reload of %s, the running account is gone", target)
		}
	}
}
