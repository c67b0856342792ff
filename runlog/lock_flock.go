//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package runlog

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
)

// tryLock takes the run lock of dir: an exclusive flock(2) on dir/lock,
// without waiting. It returns the open lock file, whose closing (or the
// process's death) releases the lock, or ok false if another open file
// holds it — in this or another process, since flock locks belong to the
// open file, not the process.
func tryLock(dir string) (f *os.File, ok bool, err error) {
	f, err = os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, false, err
	}
	if ok, err = LockFile(f); !ok {
		f.Close()
		return nil, false, err
	}
	return f, true, nil
}

// LockFile takes an exclusive flock(2) on the open file f without waiting,
// held until f is closed or its process dies; ok is false if another open
// file holds it. It is how a file being made says so: a temporary file a
// killed process left is one nobody holds (reports' .*.tmp-* files).
func LockFile(f *os.File) (ok bool, err error) {
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
