package runlog

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/mockloop/mockloop/internal/flock"
)

// BenchLogEntry is one line of the bench audit log: an operator action
// outside any run (a user added or disabled, a password changed, a zero,
// a calibration), chained to the line before it by its SHA-256, so that
// a line edited, removed or reordered breaks the chain (21 CFR 11.10(e)).
type BenchLogEntry struct {
	// Prev is the hex SHA-256 of the previous line, newline included;
	// empty on the first line.
	Prev string `json:"prev"`
	OperatorData
	// Subject is what the action was on: a user's name, a channel.
	Subject string `json:"subject,omitempty"`
}

// maxBenchLogLine bounds one line of the bench audit log.
const maxBenchLogLine = 64 << 10

// AppendBenchLog appends an entry to the bench audit log at path (made,
// 0600, with its directory, when missing), chained to its last line. The
// log is locked for the append, so that two commands never chain to the
// same line.
func AppendBenchLog(path string, e BenchLogEntry) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := lockWait(f); err != nil {
		return fmt.Errorf("%s: lock: %w", path, err)
	}
	last, err := lastLine(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	e.Prev = ""
	if last != nil {
		sum := sha256.Sum256(last)
		e.Prev = hex.EncodeToString(sum[:])
	}
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		return err
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		return err
	}
	return f.Sync()
}

// lockWait locks f, waiting up to 5 s for another command's append (a
// few milliseconds) to end.
func lockWait(f *os.File) error {
	for range 250 {
		ok, err := flock.Lock(f)
		if ok || err != nil {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("held by another process for 5 s")
}

// lastLine is the file's last line, newline included; nil when empty.
func lastLine(f *os.File) ([]byte, error) {
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil || size == 0 {
		return nil, err
	}
	off := max(0, size-maxBenchLogLine-1)
	buf := make([]byte, size-off)
	if _, err := f.ReadAt(buf, off); err != nil {
		return nil, err
	}
	if buf[len(buf)-1] != '\n' {
		return nil, errors.New("the last line is cut short: the log was damaged; repair it by hand, the chain says where")
	}
	i := bytes.LastIndexByte(buf[:len(buf)-1], '\n')
	if i < 0 && off > 0 {
		return nil, fmt.Errorf("its last line is longer than %d bytes", maxBenchLogLine)
	}
	return buf[i+1:], nil
}

// ReadBenchLog reads the bench audit log at path and checks its chain: an
// error names the first line that does not follow from the one before.
func ReadBenchLog(path string) ([]BenchLogEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []BenchLogEntry
	var prev string
	r := bufio.NewReaderSize(f, 4096)
	for n := 1; ; n++ {
		line, err := readBoundedLine(r, maxBenchLogLine)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		var e BenchLogEntry
		if err := json.Unmarshal(line, &e); err != nil {
			return out, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		if e.Prev != prev {
			return out, fmt.Errorf("%s:%d: the chain is broken: the line before it was changed, removed or reordered", path, n)
		}
		sum := sha256.Sum256(line)
		prev = hex.EncodeToString(sum[:])
		out = append(out, e)
	}
}

// readBoundedLine reads one line, newline included, of at most limit
// bytes; io.EOF at the end.
func readBoundedLine(r *bufio.Reader, limit int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > limit {
			return nil, fmt.Errorf("line longer than %d bytes", limit)
		}
		switch {
		case err == nil:
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF && len(line) > 0:
			return nil, errors.New("last line cut short")
		}
		return nil, err
	}
}
