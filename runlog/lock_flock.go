package runlog

import (
	"os"
	"path/filepath"

	"github.com/mockloop/mockloop/internal/flock"
)

// tryLock takes the run lock of dir: an exclusive flock(2) on dir/lock,
// without waiting. It returns the open lock file, whose closing (or the
// process's death) releases the lock, or ok false if another open file
// holds it — in this or another process, since flock locks belong to the
// open file, not the process.
func tryLock(dir string) (f *os.File, ok bool, err error) {
	return flock.TryLock(filepath.Join(dir, lockFile), 0o644)
}
