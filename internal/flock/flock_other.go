//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package flock

import (
	"errors"
	"os"
)

// TryLock would take the lock of path; without flock(2) it cannot, and
// neither a run record nor a bench can be held safely.
func TryLock(path string, perm os.FileMode) (f *os.File, ok bool, err error) {
	return nil, false, errors.New("flock: locks need flock(2), not available on this system")
}

// Lock would flock f; without flock(2) it cannot.
func Lock(f *os.File) (ok bool, err error) {
	return false, errors.New("flock: locks need flock(2), not available on this system")
}
