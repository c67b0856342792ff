package bench

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// systemDir is where a system-wide bench lock lives when it can.
const systemDir = "/run/mockloop"

// Dir is the directory of the bench locks: $MOCKLOOP_LOCK_DIR if set, else
// /run/mockloop if it can be made and written, else
// $XDG_RUNTIME_DIR/mockloop, else <temp>/mockloop-<uid>. The place must be
// one for the whole machine (not a runs folder): two controllers of one
// bench must find the same lock. A directory that is not the caller's (a
// symbolic link, another user's) is refused rather than trusted with the
// socket that stops pumps.
func Dir() (string, error) {
	if d := os.Getenv("MOCKLOOP_LOCK_DIR"); d != "" {
		return d, ensureDir(d)
	}
	if ensureDir(systemDir) == nil && syscall.Access(systemDir, 2 /* W_OK */) == nil {
		return systemDir, nil
	}
	if x := os.Getenv("XDG_RUNTIME_DIR"); x != "" {
		d := filepath.Join(x, "mockloop")
		if ensureDir(d) == nil {
			return d, nil
		}
	}
	d := filepath.Join(os.TempDir(), fmt.Sprintf("mockloop-%d", os.Getuid()))
	return d, ensureDir(d)
}

// ensureDir makes d (owner only) and checks it is a directory of this user
// that no one else may write.
func ensureDir(d string) error {
	if err := os.MkdirAll(d, 0o700); err != nil {
		return fmt.Errorf("bench: lock directory: %w", err)
	}
	fi, err := os.Lstat(d)
	if err != nil {
		return fmt.Errorf("bench: lock directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("bench: lock directory %s is not a directory", d)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return fmt.Errorf("bench: lock directory %s belongs to uid %d, not to this user", d, st.Uid)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return errors.New("bench: lock directory " + d + " is writable by others")
	}
	return nil
}
