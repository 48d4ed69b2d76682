package smallfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "key")
	if err := os.WriteFile(regular, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, 65), 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	toZero := filepath.Join(dir, "zero")
	if err := os.Symlink("/dev/zero", toZero); err != nil {
		t.Fatal(err)
	}

	data, v, err := Read(regular, 64)
	if err != nil || string(data) != "secret\n" || v.Size != 7 || v.Inode == 0 {
		t.Fatalf("Read(regular) = %q, %+v, %v", data, v, err)
	}
	sv, err := Stat(regular, 64)
	if err != nil || sv != v {
		t.Fatalf("Stat(regular) = %+v, %v; want %+v", sv, err, v)
	}

	for _, tc := range []struct{ path, want string }{
		{filepath.Join(dir, "missing"), "no such file"},
		{dir, "a directory"},
		{fifo, "a FIFO"},
		{toZero, "a device"},
		{"/dev/null", "a device"},
		{big, "larger than 64 bytes"},
	} {
		done := make(chan error, 1)
		go func() { _, _, err := Read(tc.path, 64); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Read(%s) = %v, want an error with %q", tc.path, err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), tc.path) {
				t.Errorf("Read(%s): the error repeats the path: %v", tc.path, err)
			}
			if _, serr := Stat(tc.path, 64); serr == nil || serr.Error() != err.Error() {
				t.Errorf("Stat(%s) = %v, want the same error as Read: %v", tc.path, serr, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("Read(%s) blocked", tc.path)
		}
	}
	if _, _, err := Read(filepath.Join(dir, "missing"), 64); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file: %v is not fs.ErrNotExist", err)
	}
}
