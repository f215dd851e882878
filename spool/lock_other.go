//go:build !unix

package spool

import (
	"os"
	"path/filepath"
)

// lockDir cannot lock outside Unix; the daemon runs beside Asterisk, on
// Unix. Elsewhere (a developer's machine) one process per spool is up to the
// user.
func lockDir(dir string) (*os.File, error) {
	return os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
}
