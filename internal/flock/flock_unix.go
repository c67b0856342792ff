//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package flock

import (
	"errors"
	"os"
	"syscall"
)

// TryLock opens path (created with perm, never through a symbolic link)
// and takes an exclusive flock(2) on it without waiting. It returns the
// open file, whose closing (or the process's death) releases the lock, or
// ok false if another open file holds it.
func TryLock(path string, perm os.FileMode) (f *os.File, ok bool, err error) {
	f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, perm)
	if err != nil {
		return nil, false, err
	}
	if ok, err = Lock(f); !ok {
		f.Close()
		return nil, false, err
	}
	return f, true, nil
}

// Lock takes an exclusive flock(2) on the open file f without waiting,
// held until f is closed or its process dies; ok is false if another open
// file holds it. It is also how a file being made says so: a temporary
// file a killed process left is one nobody holds (reports' .*.tmp-* files).
func Lock(f *os.File) (ok bool, err error) {
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}
