// Package smallfile reads the small files an operator names (API keys,
// the configuration file) without ever blocking or exhausting memory:
// only regular files, opened so that a FIFO cannot block, and never more
// than a bound.
//
// Errors never carry the path: a path may be a pasted key. Callers name
// the file (or not) under the contract's rule for naming key sources.
package smallfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
	"time"
)

// ErrNotExist is returned for a path that names nothing; its text is
// just "no such file" and errors.Is with fs.ErrNotExist holds too.
var ErrNotExist error = &reason{"no such file", fs.ErrNotExist}

// ErrPermission is returned for a file that may not be read; errors.Is
// with fs.ErrPermission holds too.
var ErrPermission error = &reason{"permission denied", fs.ErrPermission}

// reason is an error whose text is short and which errors.Is matches
// with the fs error it stands for.
type reason struct {
	text string
	is   error
}

func (r *reason) Error() string        { return r.text }
func (r *reason) Is(target error) bool { return target == r.is }

// Version identifies one content of a file cheaply, from a stat: a change
// of size, modification time or inode (a file replaced by rename, as
// Kubernetes secrets and editors do) means it must be read again.
type Version struct {
	Size    int64
	ModTime time.Time
	Inode   uint64
	Device  uint64
}

// Stat returns the version of the regular file at path, or why it is not
// a readable regular file of at most limit bytes.
func Stat(path string, limit int64) (Version, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return Version{}, plain(err)
	}
	if err := check(fi, limit); err != nil {
		return Version{}, err
	}
	return versionOf(fi), nil
}

// Read returns the contents of the regular file at path and their
// version. It never blocks on a FIFO or device and never reads more than
// limit bytes: a file that is not regular, or larger than limit, is an
// error that says which.
func Read(path string, limit int64) ([]byte, Version, error) {
	// O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
	// writer forever. It has no effect on regular files.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, Version{}, plain(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, Version{}, plain(err)
	}
	if err := check(fi, limit); err != nil {
		return nil, Version{}, err
	}
	// The size may grow between the stat and the read: read one byte
	// more than the bound to notice.
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, Version{}, plain(err)
	}
	if int64(len(data)) > limit {
		return nil, Version{}, fmt.Errorf("larger than %d bytes", limit)
	}
	return data, versionOf(fi), nil
}

// check accepts a regular file of at most limit bytes.
func check(fi fs.FileInfo, limit int64) error {
	switch m := fi.Mode(); {
	case m.IsDir():
		return errors.New("a directory, not a regular file")
	case m&fs.ModeNamedPipe != 0:
		return errors.New("a FIFO (named pipe), not a regular file")
	case m&fs.ModeSocket != 0:
		return errors.New("a socket, not a regular file")
	case m&fs.ModeDevice != 0:
		return errors.New("a device, not a regular file")
	case !m.IsRegular():
		return errors.New("not a regular file")
	}
	if fi.Size() > limit {
		return fmt.Errorf("larger than %d bytes (%d)", limit, fi.Size())
	}
	return nil
}

func versionOf(fi fs.FileInfo) Version {
	v := Version{Size: fi.Size(), ModTime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		v.Inode, v.Device = st.Ino, uint64(st.Dev)
	}
	return v
}

// plain drops the path from an *fs.PathError, keeping what went wrong.
func plain(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return ErrNotExist
	case errors.Is(err, fs.ErrPermission):
		return ErrPermission
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}
