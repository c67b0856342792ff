package dut

import (
	"bytes"
	"fmt"
	"io"
)

// LineReader splits a byte stream into VADLINK lines: one per "\n", a "\r"
// before it dropped, at most MaxFrame bytes with the terminator.
//
// It is written for serial lines rather than bufio.Scanner because a serial
// read may time out and be retried: a Scanner stops for good at its first
// error, a LineReader returns the error and keeps its partial line, so the
// next call continues where the stream stopped. An over-long line is reported
// once, with ErrTooLong, and the reader resynchronises at the next "\n".
//
// A LineReader is not safe for concurrent use.
type LineReader struct {
	r          io.Reader
	buf        []byte // bytes read from r, buf[start:end] not yet consumed
	start, end int
	line       []byte // the line being assembled
	returned   bool   // line was handed out and must be reset
	discard    bool   // inside an over-long line: skip to the next '\n'
	err        error  // error of the last Read, returned once buf is used up
	empty      int    // consecutive (0, nil) reads
}

// NewLineReader returns a LineReader reading from r.
func NewLineReader(r io.Reader) *LineReader {
	return &LineReader{r: r, buf: make([]byte, 512), line: make([]byte, 0, MaxFrame)}
}

// ReadLine returns the next line without its terminator. The slice is valid
// until the next call. Errors are ErrTooLong for a dropped over-long line and
// those of the underlying reader (a timeout included), after which the
// LineReader may be called again.
func (l *LineReader) ReadLine() ([]byte, error) {
	if l.returned {
		l.line = l.line[:0]
		l.returned = false
	}
	for {
		for l.start < l.end {
			b := l.buf[l.start:l.end]
			i := bytes.IndexByte(b, '\n')
			if l.discard {
				if i < 0 {
					l.start = l.end
					break
				}
				l.start += i + 1
				l.discard = false
				continue
			}
			chunk := b
			if i >= 0 {
				chunk = b[:i]
			}
			// The bytes before '\n' (a '\r' included) may be MaxFrame-1.
			if len(l.line)+len(chunk) > MaxFrame-1 {
				n := len(l.line) + len(chunk)
				l.line = l.line[:0]
				if i >= 0 {
					l.start += i + 1
					return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLong, n+1, MaxFrame)
				}
				l.start = l.end
				l.discard = true
				return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLong, MaxFrame)
			}
			l.line = append(l.line, chunk...)
			if i < 0 {
				l.start = l.end
				break
			}
			l.start += i + 1
			l.returned = true
			line := l.line
			if n := len(line); n > 0 && line[n-1] == '\r' {
				line = line[:n-1]
			}
			return line, nil
		}
		if l.err != nil {
			err := l.err
			l.err = nil
			return nil, err
		}
		n, err := l.r.Read(l.buf)
		if n < 0 || n > len(l.buf) {
			n = 0
		}
		l.start, l.end, l.err = 0, n, err
		if n == 0 && err == nil {
			// go.bug.st/serial returns (0, nil) on a timeout, which
			// would spin here; Port turns it into an error. Other
			// readers get bufio's tolerance.
			if l.empty++; l.empty >= 100 {
				l.empty = 0
				l.err = io.ErrNoProgress
			}
		} else {
			l.empty = 0
		}
	}
}
