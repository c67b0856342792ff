package runlog

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/mockloop/mockloop/internal/durable"
)

// File names in a run directory.
const (
	manifestFile = "manifest.json"
	resultFile   = "result.json"
	eventsFile   = "events.jsonl"
	protocolFile = "protocol.yaml"
	rigFile      = "rig.yaml"
	framesDir    = "frames"
	lockFile     = "lock"
	reserveFile  = "reserve"
)

// reserveBytes is the space a run holds in its reserve file while it is
// written and frees at close: a disk the run filled still takes the
// result.json and manifest.json that say why it ended.
const reserveBytes = 4 << 20

// reserveSpace writes dir's reserve file: real blocks, not a sparse file.
func reserveSpace(dir string) error {
	f, err := os.OpenFile(filepath.Join(dir, reserveFile), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	zeros := make([]byte, 64<<10)
	for n := 0; n < reserveBytes && err == nil; n += len(zeros) {
		_, err = f.Write(zeros)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// freeReserve removes dir's reserve file, if any.
func freeReserve(dir string) error {
	if err := os.Remove(filepath.Join(dir, reserveFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// writeFileAtomic replaces dir/name with data so that a reader or a crash
// sees the old content or the new, never a mix (durable.WriteFile).
func writeFileAtomic(dir, name string, data []byte) error { return durable.WriteFile(dir, name, data) }

// writeJSONAtomic writes v as marshalFile encodes it with writeFileAtomic.
func writeJSONAtomic(dir, name string, v any) error {
	b, err := marshalFile(v)
	if err != nil {
		return err
	}
	return writeFileAtomic(dir, name, b)
}

// syncDir fsyncs a directory, making the creation, renaming or removal of
// its entries durable.
func syncDir(dir string) error { return durable.SyncDir(dir) }

// Bounds on the files of a record read whole: far above any real one, low
// enough that a wrong file cannot take the Pi's memory.
const (
	maxJSONFile   = 64 << 20  // manifest.json, result.json
	maxEventsFile = 512 << 20 // events.jsonl, read whole by ReadEvents and Recover
)

// ErrNotRegular is wrapped by the errors of OpenFile for a FIFO, a device,
// a socket or a directory where a file of a record should be.
var ErrNotRegular = errors.New("not a regular file")

// OpenFile opens a file of a run record for reading, refusing without
// blocking anything but a regular file: a FIFO named manifest.json would
// block a plain open forever, and /dev/zero (or a symlink to it) would never
// end. It returns the file and its size, which is where a reader stops.
func OpenFile(name string) (*os.File, int64, error) {
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s: %w (%s)", name, ErrNotRegular, fi.Mode().Type())
	}
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

// openAppend opens a regular file of a record for appending, creating it
// if create is set; a FIFO or a device in its place is refused without
// blocking (a FIFO opened for writing waits for a reader).
func openAppend(name string, create bool) (*os.File, error) {
	flag := os.O_WRONLY | os.O_APPEND | syscall.O_NONBLOCK
	if create {
		flag |= os.O_CREATE
	}
	f, err := os.OpenFile(name, flag, 0o644)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s: %w (%s)", name, ErrNotRegular, fi.Mode().Type())
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// ReadFile reads a regular file of a run record whole (OpenFile), failing
// if it holds more than limit bytes.
func ReadFile(name string, limit int64) ([]byte, error) {
	f, size, err := OpenFile(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if size > limit {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d it may have", name, size, limit)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err == nil && int64(len(b)) > limit {
		err = fmt.Errorf("%s: more than the %d bytes it may have", name, limit)
	}
	return b, err
}

// readJSON decodes the JSON file dir/name into v.
func readJSON(dir, name string, v any) error {
	b, err := ReadFile(filepath.Join(dir, name), maxJSONFile)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
