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
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, err
	}
	return f, true, nil
}
