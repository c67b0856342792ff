package dut

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/mockloop/mockloop/internal/crc16"
	"strconv"
)

// MaxFrame is the longest VADLINK frame on the wire, its terminator ("\n",
// or "\r\n") included.
const MaxFrame = 128

// Codec errors. A receiver drops a frame that fails with one of them, counts
// it, and carries on at the next line; they are wrapped with the detail.
var (
	ErrCRC     = errors.New("dut: bad CRC")
	ErrSyntax  = errors.New("dut: bad frame syntax")
	ErrTooLong = errors.New("dut: frame too long")
)

// Frame is one VADLINK frame, `<seq> <VERB> [<arg> ...] *<crc>`, without its
// CRC, which AppendFrame computes and ParseFrame checks.
//
// Seq is 1..65535 for a host request and its reply, 0 for a frame the DUT
// sends on its own (TLM, ALARM). Verb is upper-case letters, digits and '_',
// starting with a letter; arguments are printable ASCII without spaces or
// '*'. Those rules make the encoding canonical: ParseFrame(AppendFrame(f))
// gives f back, and a parsed line re-encodes to the same bytes.
type Frame struct {
	Seq  uint16
	Verb string
	Args []string
}

// String returns the frame as it appears on the wire without " *<crc>", for
// messages and logs.
func (f Frame) String() string {
	b := strconv.AppendUint(nil, uint64(f.Seq), 10)
	b = append(b, ' ')
	b = append(b, f.Verb...)
	for _, a := range f.Args {
		b = append(b, ' ')
		b = append(b, a...)
	}
	return string(b)
}

// Field returns the value of the first argument of the form key=value, for
// the fields of OK and TLM frames.
func (f Frame) Field(key string) (string, bool) {
	for _, a := range f.Args {
		if len(a) > len(key) && a[len(key)] == '=' && a[:len(key)] == key {
			return a[len(key)+1:], true
		}
	}
	return "", false
}

// CRC16 is CRC-16/CCITT-FALSE: polynomial 0x1021, initial value 0xFFFF, no
// reflection, no final xor. CRC16([]byte("123456789")) is 0x29B1.
func CRC16(b []byte) uint16 { return crc16.Checksum(b, crc16.CCITT) }

const hexDigits = "0123456789ABCDEF"

// AppendFrame appends f, its CRC and the terminating "\n" to dst. It refuses
// a frame that ParseFrame would not read back identically: a bad verb or
// argument, or one longer than MaxFrame.
func AppendFrame(dst []byte, f Frame) ([]byte, error) {
	if !validVerb(f.Verb) {
		return dst, fmt.Errorf("%w: verb %q", ErrSyntax, f.Verb)
	}
	for _, a := range f.Args {
		if !validArg(a) {
			return dst, fmt.Errorf("%w: argument %q", ErrSyntax, a)
		}
	}
	start := len(dst)
	dst = strconv.AppendUint(dst, uint64(f.Seq), 10)
	dst = append(dst, ' ')
	dst = append(dst, f.Verb...)
	for _, a := range f.Args {
		dst = append(dst, ' ')
		dst = append(dst, a...)
	}
	c := CRC16(dst[start:])
	dst = append(dst, ' ', '*',
		hexDigits[c>>12], hexDigits[c>>8&0xF], hexDigits[c>>4&0xF], hexDigits[c&0xF], '\n')
	if n := len(dst) - start; n > MaxFrame {
		return dst[:start], fmt.Errorf("%w: %d bytes encoded, at most %d", ErrTooLong, n, MaxFrame)
	}
	return dst, nil
}

// ParseFrame decodes one line, without its "\n" (a "\r" before it is
// ignored). Errors wrap ErrTooLong, ErrSyntax or ErrCRC. A line whose trailer
// " *XXXX" is well formed but whose CRC does not match is a CRC error even if
// the rest is also damaged: line noise is counted as such.
func ParseFrame(line []byte) (Frame, error) {
	if len(line)+1 > MaxFrame { // +1: the '\n' it had on the wire
		return Frame{}, fmt.Errorf("%w: %d bytes", ErrTooLong, len(line)+1)
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	n := len(line)
	if n < 7 || line[n-6] != ' ' || line[n-5] != '*' {
		return Frame{}, fmt.Errorf("%w: no \" *<crc>\" at the end", ErrSyntax)
	}
	var want uint16
	for _, h := range line[n-4:] {
		var d byte
		switch {
		case h >= '0' && h <= '9':
			d = h - '0'
		case h >= 'A' && h <= 'F':
			d = h - 'A' + 10
		default:
			return Frame{}, fmt.Errorf("%w: CRC %q is not 4 upper-case hex digits", ErrSyntax, line[n-4:])
		}
		want = want<<4 | uint16(d)
	}
	body := line[:n-6]
	if got := CRC16(body); got != want {
		return Frame{}, fmt.Errorf("%w: computed %04X, frame says %04X", ErrCRC, got, want)
	}

	var f Frame
	if n := bytes.Count(body, []byte{' '}) - 1; n > 0 {
		f.Args = make([]string, 0, n)
	}
	field := 0
	for len(body) > 0 {
		i := 0
		for i < len(body) && body[i] != ' ' {
			i++
		}
		tok := body[:i]
		if i < len(body) {
			body = body[i+1:]
			if len(body) == 0 {
				return Frame{}, fmt.Errorf("%w: double space before CRC", ErrSyntax)
			}
		} else {
			body = nil
		}
		switch field {
		case 0:
			seq, ok := parseSeq(tok)
			if !ok {
				return Frame{}, fmt.Errorf("%w: sequence number %q", ErrSyntax, tok)
			}
			f.Seq = seq
		case 1:
			if !validVerb(string(tok)) {
				return Frame{}, fmt.Errorf("%w: verb %q", ErrSyntax, tok)
			}
			f.Verb = internVerb(tok)
		default:
			if !validArg(string(tok)) {
				return Frame{}, fmt.Errorf("%w: argument %q", ErrSyntax, tok)
			}
			f.Args = append(f.Args, string(tok))
		}
		field++
	}
	if field < 2 {
		return Frame{}, fmt.Errorf("%w: no verb", ErrSyntax)
	}
	return f, nil
}

// internVerb returns the verb as a string, without allocating for the verbs
// of VADLINK v1.
func internVerb(b []byte) string {
	switch string(b) {
	case "OK":
		return "OK"
	case "ERR":
		return "ERR"
	case "TLM":
		return "TLM"
	case "ALARM":
		return "ALARM"
	case "HELLO":
		return "HELLO"
	case "PING":
		return "PING"
	case "MODE":
		return "MODE"
	case "SPEED":
		return "SPEED"
	case "LEVEL":
		return "LEVEL"
	case "STATUS":
		return "STATUS"
	case "TELEM":
		return "TELEM"
	case "CLEAR":
		return "CLEAR"
	}
	return string(b)
}

// parseSeq reads a canonical decimal 0..65535: no sign, no leading zero.
func parseSeq(b []byte) (uint16, bool) {
	if len(b) == 0 || len(b) > 5 || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	if v > 0xFFFF {
		return 0, false
	}
	return uint16(v), true
}

func validVerb(s string) bool {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func validArg(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' || c == '*' {
			return false
		}
	}
	return true
}
