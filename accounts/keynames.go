package accounts

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/dasha-exporter/dasha_exporter/client"
	"github.com/dasha-exporter/dasha_exporter/internal/smallfile"
)

// The contract's rule for naming key sources: a key is never shown, and a
// key source only when it cannot be a pasted key. A value that fails the
// rule is described by its field, account and line instead.

// maxShownEnvName is the length from which a variable name is not shown:
// a longer "name" of letters, digits and _ may well be a key.
const maxShownEnvName = 32

// ShowableEnvName reports whether an api_key_env value may be shown: it
// looks like a variable name and is shorter than 32 characters.
func ShowableEnvName(name string) bool {
	return len(name) < maxShownEnvName && envNameRE.MatchString(name)
}

// ShowableKeyFile reports whether an api_key_file path may be shown: only
// once it names an existing regular file (a pasted key names none).
func ShowableKeyFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

// KeySourceName names s's key source for messages under the rule:
// `api_key_env ACME_KEY`, `api_key_file /etc/dasha/acme.key`, or, for a
// value that may not be shown, `api_key_file of account "x" (line 4)`.
func (s *Settings) KeySourceName() string {
	field, value, shown := "api_key_file", s.KeyFile, ShowableKeyFile(s.KeyFile)
	if s.KeyEnv != "" {
		field, value, shown = "api_key_env", s.KeyEnv, ShowableEnvName(s.KeyEnv)
	}
	if shown {
		return field + " " + value
	}
	where := fmt.Sprintf("%s of account %q", field, s.Name)
	if line := s.Origin.LineOf(field); line > 0 {
		where += fmt.Sprintf(" (line %d)", line)
	}
	return where
}

// errKeyFileMissing is a key file that does not exist (yet): a warning,
// not an error, since secrets may be mounted after the exporter starts.
var errKeyFileMissing = errors.New("no such file")

// keyFileProblem says what is wrong with s's key file now, never with its
// path: nil for a regular file within client.MaxKeyFileSize; an error
// wrapping errKeyFileMissing when it does not exist; otherwise what it is
// ("a FIFO (named pipe), not a regular file", "larger than 4096 bytes").
func (s *Settings) keyFileProblem() error {
	if s.KeyFile == "" {
		return nil
	}
	err := KeyFileProblem(s.KeyFile)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: %w", s.KeySourceName(), errKeyFileMissing)
	default:
		return fmt.Errorf("%s: %v", s.KeySourceName(), err)
	}
}

// KeyFileProblem says why the file at path cannot hold a key now, without
// its path: nil for a regular file of at most client.MaxKeyFileSize; an
// error that errors.Is fs.ErrNotExist when it does not exist; otherwise
// what it is ("a FIFO (named pipe), not a regular file"). It only stats
// the file: it never blocks and never reads.
func KeyFileProblem(path string) error {
	_, err := smallfile.Stat(path, client.MaxKeyFileSize)
	return err
}

// checkKeyFiles refuses a configuration with a key file that exists but
// can never hold a key: not a regular file (a FIFO would block a read, a
// device such as /dev/zero never ends), or over client.MaxKeyFileSize. A
// missing key file is not refused (see errKeyFileMissing).
func checkKeyFiles(settings []Settings) error {
	for i := range settings {
		if err := settings[i].keyFileProblem(); err != nil && !errors.Is(err, errKeyFileMissing) {
			return err
		}
	}
	return nil
}
