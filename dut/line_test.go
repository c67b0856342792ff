package dut

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"testing/iotest"
)

// readAll reads lines until EOF, writing over-long ones as "<long>".
func readAll(t *testing.T, r io.Reader) []string {
	t.Helper()
	lr := NewLineReader(r)
	var got []string
	for {
		line, err := lr.ReadLine()
		switch {
		case err == nil:
			got = append(got, string(line))
		case errors.Is(err, ErrTooLong):
			got = append(got, "<long>")
		case errors.Is(err, io.EOF):
			return got
		default:
			t.Fatalf("ReadLine: %v", err)
		}
	}
}

func TestLineReader(t *testing.T) {
	long := strings.Repeat("x", 300)
	cases := []struct {
		name, in string
		want     []string
	}{
		{"lines", "a\nbb\n", []string{"a", "bb"}},
		{"crlf", "a\r\nb\r\r\n", []string{"a", "b\r"}},
		{"empty", "\n\n", []string{"", ""}},
		{"unterminated tail is not a line", "a\nb", []string{"a"}},
		{"over-long then resync", long + "\nok\n", []string{"<long>", "ok"}},
		{"two over-long", long + "\n" + long + "\nok\n", []string{"<long>", "<long>", "ok"}},
		{"127 bytes fit", strings.Repeat("y", 127) + "\n", []string{strings.Repeat("y", 127)}},
		{"128 do not", strings.Repeat("y", 128) + "\nz\n", []string{"<long>", "z"}},
		{"126 and CR fit", strings.Repeat("y", 126) + "\r\n", []string{strings.Repeat("y", 126)}},
		{"127 and CR do not", strings.Repeat("y", 127) + "\r\nz\n", []string{"<long>", "z"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, r := range []struct {
				name string
				r    io.Reader
			}{
				{"whole", strings.NewReader(c.in)},
				{"byte by byte", iotest.OneByteReader(strings.NewReader(c.in))},
				{"halves", iotest.HalfReader(strings.NewReader(c.in))},
				{"data with EOF", iotest.DataErrReader(strings.NewReader(c.in))},
			} {
				got := readAll(t, r.r)
				if strings.Join(got, "|") != strings.Join(c.want, "|") || len(got) != len(c.want) {
					t.Errorf("%s: got %q, want %q", r.name, got, c.want)
				}
			}
		})
	}
}

// timeoutReader returns a timeout error between its chunks, like a serial
// port with a read timeout.
type timeoutReader struct{ chunks []string }

func (r *timeoutReader) Read(b []byte) (int, error) {
	if len(r.chunks) == 0 {
		return 0, io.EOF
	}
	c := r.chunks[0]
	if c == "" {
		r.chunks = r.chunks[1:]
		return 0, ErrTimeout
	}
	n := copy(b, c)
	if n == len(c) {
		r.chunks = r.chunks[1:]
	} else {
		r.chunks[0] = c[n:]
	}
	return n, nil
}

func TestLineReaderKeepsPartialLineAcrossTimeouts(t *testing.T) {
	r := &timeoutReader{chunks: []string{"1 PI", "", "NG", "", "", " *X\n"}}
	lr := NewLineReader(r)
	timeouts := 0
	for {
		line, err := lr.ReadLine()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			timeouts++
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if string(line) != "1 PING *X" || timeouts != 3 {
			t.Fatalf("line %q after %d timeouts, want \"1 PING *X\" after 3", line, timeouts)
		}
		return
	}
}

func TestLineReaderTooLongWhileStreaming(t *testing.T) {
	// The over-long line is reported as soon as it overflows, before its end
	// arrives; the rest of it is skipped.
	r := &timeoutReader{chunks: []string{strings.Repeat("g", 200), "", strings.Repeat("g", 50) + "\nok\n"}}
	lr := NewLineReader(r)
	if _, err := lr.ReadLine(); !errors.Is(err, ErrTooLong) {
		t.Fatalf("first ReadLine = %v, want ErrTooLong", err)
	}
	if _, err := lr.ReadLine(); !errors.Is(err, ErrTimeout) {
		t.Fatalf("second ReadLine = %v, want the timeout", err)
	}
	line, err := lr.ReadLine()
	if err != nil || string(line) != "ok" {
		t.Fatalf("third ReadLine = %q, %v; want \"ok\"", line, err)
	}
}

type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

func TestLineReaderNoProgress(t *testing.T) {
	if _, err := NewLineReader(zeroReader{}).ReadLine(); !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("got %v, want io.ErrNoProgress", err)
	}
}
