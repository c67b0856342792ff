package reports

import (
	"bufio"
	"bytes"
	"errors"
	"io"

	"github.com/mockloop/mockloop/runlog"
)

// eachLine calls fn with every complete line of the file at path, without
// its newline, reading it in a streaming fashion: events.jsonl of a 24-hour
// run holds millions of lines and must not be held in memory. A last line
// without its newline is a write cut short (the run is being written, or
// its process died) and is left out, as runlog's readers do. line is only
// valid during the call.
func eachLine(path string, fn func(line []byte) error) error {
	f, size, err := runlog.OpenFile(path) // a FIFO or a device is refused, not waited on
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReaderSize(io.LimitReader(f, size), 256<<10)
	var long []byte // a line longer than the reader's buffer, being assembled
	for {
		chunk, err := br.ReadSlice('\n')
		switch {
		case err == nil:
			line := chunk
			if long != nil {
				long = append(long, chunk...)
				line, long = long, nil
			}
			if err := fn(bytes.TrimRight(line, "\r\n")); err != nil {
				return err
			}
		case errors.Is(err, bufio.ErrBufferFull):
			long = append(long, chunk...)
		case errors.Is(err, io.EOF):
			return nil // a last line without newline is incomplete
		default:
			return err
		}
	}
}
