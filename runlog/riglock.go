package runlog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrRigBusy is returned by LockRig when another run holds the rig.
var ErrRigBusy = errors.New("rig busy")

// RigLock is the exclusive right to run on one rig; Release gives it up
// (so does the process's death).
type RigLock struct{ f *os.File }

// LockRig takes the rig's lock in runsDir without waiting: one run at a
// time per rig, whether it was started by `mockloop run`, by the web view,
// or by another process. what (e.g. "run 20261121T… of demo by pid 42") is
// written into the lock so that a refused start can say who holds the rig.
func LockRig(runsDir, rig, what string) (*RigLock, error) {
	if err := os.MkdirAll(runsDir, 0o755); err != nil {
		return nil, err
	}
	dir := filepath.Join(runsDir, ".rigs", rigLockName(rig))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, ok, err := tryLock(dir)
	if err != nil {
		return nil, fmt.Errorf("runlog: rig lock: %w", err)
	}
	holder := filepath.Join(dir, "holder")
	if !ok {
		who, _ := os.ReadFile(holder)
		if len(who) == 0 {
			who = []byte("another run")
		}
		return nil, fmt.Errorf("%w: a run is already in progress on rig %s (%s)", ErrRigBusy, rig, strings.TrimSpace(string(who)))
	}
	_ = os.WriteFile(holder, []byte(what+"\n"), 0o644) // only for the message above
	return &RigLock{f: f}, nil
}

// Release gives the rig up.
func (l *RigLock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// rigLockName makes a rig name safe as a file name.
func rigLockName(rig string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, rig)
}
