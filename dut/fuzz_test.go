package dut

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/mockloop/mockloop/clock"
)

// FuzzParseFrame checks the frame parser on arbitrary lines: it never
// panics, it classifies every failure, and whatever it accepts re-encodes to
// the same bytes and parses back to the same frame.
func FuzzParseFrame(f *testing.F) {
	for _, s := range []string{
		"1 HELLO *7DF0",
		"0 TLM t=1000 rpm=25000 cur=100 pwr=1200 purge=600 alarms=00",
		"7 ERR 3 not allowed in this mode *0000",
		"123456789",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		fr, err := ParseFrame(line)
		if err != nil {
			if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrCRC) && !errors.Is(err, ErrTooLong) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		enc, err := AppendFrame(nil, fr)
		if err != nil {
			t.Fatalf("accepted %q but cannot encode %+v: %v", line, fr, err)
		}
		want := bytes.TrimSuffix(line, []byte("\r"))
		if !bytes.Equal(enc[:len(enc)-1], want) {
			t.Fatalf("re-encoded %q as %q", line, enc)
		}
		back, err := ParseFrame(enc[:len(enc)-1])
		if err != nil || !reflect.DeepEqual(back, fr) {
			t.Fatalf("round trip %+v -> %q -> %+v, %v", fr, enc, back, err)
		}
	})
}

// FuzzEncode checks the other direction: any frame AppendFrame accepts
// parses back to itself.
func FuzzEncode(f *testing.F) {
	f.Add(uint16(1), "STATUS", "", "")
	f.Add(uint16(0), "TLM", "t=1", "rpm=2")
	f.Add(uint16(65535), "ERR", "5", "alarm")
	f.Fuzz(func(t *testing.T, seq uint16, verb, a1, a2 string) {
		var args []string
		for _, a := range []string{a1, a2} {
			if a != "" {
				args = append(args, a)
			}
		}
		fr := Frame{Seq: seq, Verb: verb, Args: args}
		enc, err := AppendFrame(nil, fr)
		if err != nil {
			return
		}
		if len(enc) > MaxFrame || enc[len(enc)-1] != '\n' || bytes.Count(enc, []byte("\n")) != 1 {
			t.Fatalf("bad encoding %q", enc)
		}
		back, err := ParseFrame(enc[:len(enc)-1])
		if err != nil || !reflect.DeepEqual(back, fr) {
			t.Fatalf("round trip %+v -> %q -> %+v, %v", fr, enc, back, err)
		}
	})
}

// FuzzHostReceive feeds an arbitrary byte stream from the device through
// the host's receive path (framing, parsing, reply matching, TLM and ALARM
// decoding) with request 7 outstanding: no panic, every line accounted for,
// and only a reply to 7 reaches the request.
func FuzzHostReceive(f *testing.F) {
	ok, _ := AppendFrame(nil, Frame{Seq: 7, Verb: "OK", Args: []string{"rpm=1", "target=2", "cur=3", "pwr=4", "purge=5", "alarms=21"}})
	tlm, _ := AppendFrame(nil, Frame{Seq: 0, Verb: "TLM", Args: []string{"t=5", "rpm=1", "cur=2", "pwr=3", "purge=4", "alarms=0"}})
	alarm, _ := AppendFrame(nil, Frame{Seq: 0, Verb: "ALARM", Args: []string{"20", "host", "link", "lost"}})
	errf, _ := AppendFrame(nil, Frame{Seq: 7, Verb: "ERR", Args: []string{"3", "not", "allowed"}})
	f.Add(ok)
	f.Add(append(append(append([]byte{}, tlm...), alarm...), errf...))
	f.Add(append(bytes.Repeat([]byte("x"), 200), ok...))
	f.Add([]byte("\r\n\n\x00\xff*\n"))
	f.Fuzz(func(t *testing.T, stream []byte) {
		var events int
		d := &VADLINK{clk: clock.NewVirtual(time.Time{}), cfg: Config{
			OnFrame:     func(FrameEvent) { events++ },
			OnTelemetry: func(Telemetry) {},
			OnAlarm:     func(a AlarmEvent) {},
		}}
		d.awaiting.Store(7)
		c := &conn{replies: make(chan Frame, 1)}
		lr := NewLineReader(bytes.NewReader(stream))
		lines := 0
		for {
			line, err := lr.ReadLine()
			if errors.Is(err, ErrTooLong) {
				d.n.tooLong.Add(1)
				lines++
				continue
			}
			if err != nil {
				break
			}
			lines++
			if len(line)+1 > MaxFrame {
				t.Fatalf("LineReader returned %d bytes", len(line))
			}
			d.receive(c, line)
			select {
			case r := <-c.replies:
				if r.Seq != 7 || (r.Verb != "OK" && r.Verb != "ERR") {
					t.Fatalf("reply %+v reached the request", r)
				}
				if r.Verb == "ERR" {
					var de *Error
					if err := parseErr(r); !errors.As(err, &de) && !errors.Is(err, ErrSyntax) {
						t.Fatalf("parseErr: %v", err)
					}
				} else {
					parseStatus(r)
					parseIdentity(r)
				}
			default:
			}
		}
		n := d.Stats()
		if got := n.Received + n.BadCRC + n.BadSyntax + n.TooLong; got < uint64(lines) || n.Received > uint64(lines) {
			t.Fatalf("%d lines, stats %+v", lines, n)
		}
		if events != lines-int(n.TooLong) {
			t.Fatalf("%d frame events for %d lines", events, lines)
		}
	})
}
