package bench

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mockloop/mockloop/internal/flock"
)

// ErrBusy is the error of Acquire when another process holds the bench.
var ErrBusy = errors.New("bench busy")

// BusyError says who holds the bench (as its holder wrote it); it is
// ErrBusy.
type BusyError struct {
	Resource string
	Holder   Status // zero when the holder has not said (yet)
}

func (e *BusyError) Error() string {
	h := e.Holder
	if h.PID == 0 {
		return fmt.Sprintf("bench busy: %s is held by another process", e.Resource)
	}
	who := fmt.Sprintf("pid %d, %q", h.PID, h.Command)
	if h.RunID != "" {
		who += ", run " + h.RunID
	}
	if h.Protocol != "" {
		who += " of protocol " + h.Protocol
	}
	if !h.Since.IsZero() {
		who += ", since " + h.Since.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("bench busy: %s is held by %s; `mockloop stop` stops it", e.Resource, who)
}

func (e *BusyError) Is(target error) bool { return target == ErrBusy }

// Lock is the exclusive right to a bench; Release gives it up (so does the
// process's death).
type Lock struct {
	dir   string
	names []string // file names of the resources; the first's has the socket
	files []*os.File
	ctl   *control // nil until Serve

	mu     sync.Mutex // holder: set by the run, read by the socket
	holder Status
}

// Acquire takes the bench made of resources (at least one), in the lock
// directory dir (see Dir), without waiting: every resource or none. who
// says what the holder does (Command is filled in from os.Args, PID and
// Since from the process); it is written beside the lock so that a refused
// start can say who holds the bench.
func Acquire(dir string, resources []string, who Status) (*Lock, error) {
	if len(resources) == 0 {
		return nil, errors.New("bench: a bench needs at least one resource")
	}
	l := &Lock{dir: dir}
	for _, r := range resources {
		l.names = append(l.names, fileName(r))
		f, ok, err := flock.TryLock(filepath.Join(dir, fileName(r)+".lock"), 0o600)
		if err != nil || !ok {
			l.Release()
			if err != nil {
				return nil, fmt.Errorf("bench: lock of %s: %w", r, err)
			}
			return nil, &BusyError{Resource: r, Holder: readHolder(filepath.Join(dir, fileName(r)+".holder"))}
		}
		l.files = append(l.files, f)
	}
	who.PID, who.Since = os.Getpid(), time.Now().UTC()
	who.Command = strings.Join(os.Args, " ")
	l.holder = who
	l.writeHolders(who)
	return l, nil
}

// Holder is what the holder says of itself.
func (l *Lock) Holder() Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.holder
}

// SetRun records the run the holder now runs, for the refusals of others.
func (l *Lock) SetRun(runID, protocol string) {
	l.mu.Lock()
	l.holder.RunID, l.holder.Protocol = runID, protocol
	h := l.holder
	l.mu.Unlock()
	l.writeHolders(h)
}

// writeHolders writes the holder beside every resource's lock: a start
// refused on any of them says who.
func (l *Lock) writeHolders(h Status) {
	for _, n := range l.names {
		_ = writeHolder(filepath.Join(l.dir, n+".holder"), h)
	}
}

// Release closes the control socket and gives the bench up.
func (l *Lock) Release() {
	if l == nil {
		return
	}
	if l.ctl != nil {
		l.ctl.close()
		l.ctl = nil
	}
	// While the locks are still held: a start refused now must not read
	// this holder as the next one's.
	for _, n := range l.names[:len(l.files)] {
		_ = os.Remove(filepath.Join(l.dir, n+".holder"))
	}
	for _, f := range l.files {
		_ = f.Close()
	}
	l.files = nil
}

// maxHolder bounds what is read of a holder file.
const maxHolder = 4 << 10

func writeHolder(path string, s Status) error {
	data, _ := json.Marshal(s)
	return os.WriteFile(path, append(data, '\n'), 0o600)
}

// readHolder reads a holder file; anything unreadable is an unknown holder.
func readHolder(path string) Status {
	var s Status
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return s
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return s
	}
	data, _ := io.ReadAll(io.LimitReader(f, maxHolder))
	if json.Unmarshal(data, &s) != nil {
		return Status{}
	}
	return s
}

// fileName makes a resource a file name: its safe characters, for people
// reading the directory, and a hash of the whole, so that no two resources
// share a file.
func fileName(resource string) string {
	safe := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, resource)
	if len(safe) > 32 {
		safe = safe[:32]
	}
	sum := sha256.Sum256([]byte(resource))
	return safe + "-" + hex.EncodeToString(sum[:6])
}
