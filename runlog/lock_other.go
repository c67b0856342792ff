//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package runlog

import (
	"errors"
	"os"
)

// tryLock would take the run lock of dir; without flock(2) it cannot, and a
// run record cannot be written or recovered safely.
func tryLock(dir string) (f *os.File, ok bool, err error) {
	return nil, false, errors.New("runlog: run locks need flock(2), not available on this system")
}

// LockFile would flock f; without flock(2) it cannot.
func LockFile(f *os.File) (ok bool, err error) {
	return false, errors.New("runlog: file locks need flock(2), not available on this system")
}
