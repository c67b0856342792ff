package dutsim

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/dut"
)

// FuzzFirmware feeds arbitrary bytes, split into lines, to the firmware's
// request parser and interpreter, 37 ms apart, with device faults: no panic; every reply is a
// well-formed OK or ERR frame for the request's seq; every unsolicited frame
// is well formed with seq 0; the state stays within its limits.
func FuzzFirmware(f *testing.F) {
	for _, fr := range []dut.Frame{
		{Seq: 1, Verb: "HELLO"},
		{Seq: 2, Verb: "MODE", Args: []string{"SPEED"}},
		{Seq: 3, Verb: "SPEED", Args: []string{"60000"}},
		{Seq: 4, Verb: "LEVEL", Args: []string{"9"}},
		{Seq: 5, Verb: "TELEM", Args: []string{"100"}},
	} {
		b, _ := dut.AppendFrame(nil, fr)
		f.Add(b)
	}
	f.Add([]byte("1 PING *0000\n\x00\xff\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		// The device faults too, chosen by the input's length.
		faults := Faults{Alarm: dut.Alarms(len(data) % 64), NoStop: len(data)%2 == 1,
			PulseBits: dut.AlarmSuction, PulseAt: 100 * time.Millisecond, PulseFor: 30 * time.Millisecond}
		fw, err := NewFirmware(Config{SelfTest: 50 * time.Millisecond, Faults: faults}, 0)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Duration(0)
		check := func(b []byte, wantSeq int) dut.Frame {
			if len(b) > dut.MaxFrame || len(b) == 0 || b[len(b)-1] != '\n' {
				t.Fatalf("frame %q: bad length or terminator", b)
			}
			fr, err := dut.ParseFrame(b[:len(b)-1])
			if err != nil {
				t.Fatalf("firmware sent %q: %v", b, err)
			}
			if wantSeq >= 0 && int(fr.Seq) != wantSeq {
				t.Fatalf("reply %q to seq %d", b, wantSeq)
			}
			return fr
		}
		for line := range bytes.SplitSeq(data, []byte("\n")) {
			now += 37 * time.Millisecond
			req, reqErr := dut.ParseFrame(line)
			uns, reply := fw.Handle(now, line)
			for _, u := range uns {
				if fr := check(u, 0); fr.Verb != "TLM" && fr.Verb != "ALARM" {
					t.Fatalf("unsolicited %s", fr)
				}
			}
			switch {
			case reqErr != nil || req.Seq == 0:
				if reply != nil {
					t.Fatalf("invalid request %q answered %q", line, reply)
				}
			default:
				if reply == nil {
					t.Fatalf("valid request %q not answered", line)
				}
				if fr := check(reply, int(req.Seq)); fr.Verb != "OK" && fr.Verb != "ERR" {
					t.Fatalf("reply %s", fr)
				}
			}
			st := fw.State()
			if st.TargetRPM < 0 || st.TargetRPM > MaxRPM || st.RPM < 0 || st.RPM > MaxRPM ||
				st.TelemHz < 0 || st.TelemHz > MaxTelemetryHz || st.Now != now {
				t.Fatalf("state out of bounds: %+v", st)
			}
		}
	})
}

// FuzzInProcessPort writes arbitrary bytes, in chunks of arbitrary sizes,
// to an in-process DUT through its host port: no panic; every line the
// host reads back is a well-formed frame, a reply to a request's seq or
// an unsolicited one; the line holds at most memQueue frames whatever the
// host does not read.
func FuzzInProcessPort(f *testing.F) {
	for _, fr := range []dut.Frame{{Seq: 1, Verb: "HELLO"}, {Seq: 2, Verb: "TELEM", Args: []string{"100"}}, {Seq: 3, Verb: "STATUS"}} {
		b, _ := dut.AppendFrame(nil, fr)
		f.Add(uint8(7), b)
	}
	f.Add(uint8(1), []byte("1 PING *0000\n\x00\xff\r\n"+string(bytes.Repeat([]byte("x"), 300))+"\n"))
	f.Fuzz(func(t *testing.T, chunk uint8, data []byte) {
		clk := clock.NewVirtual(time.Unix(0, 0))
		s, err := Serve(context.Background(), Config{Clock: clk, InProcess: true})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		rw, err := s.Open(InProcessName)
		if err != nil {
			t.Fatal(err)
		}
		n := int(chunk%32) + 1
		for len(data) > 0 {
			k := min(n, len(data))
			clk.Advance(3 * time.Millisecond)
			if w, err := rw.Write(data[:k]); err != nil || w != k {
				t.Fatalf("write %d bytes: %d, %v", k, w, err)
			}
			data = data[k:]
		}
		mp := rw.(*memPort)
		if q := len(mp.p.mem.q); q > memQueue {
			t.Fatalf("%d frames queued", q)
		}
		lr := dut.NewLineReader(rw)
		for {
			line, err := lr.ReadLine()
			if err != nil {
				if !errors.Is(err, dut.ErrTimeout) {
					t.Fatalf("read: %v", err)
				}
				break
			}
			fr, err := dut.ParseFrame(line)
			if err != nil || (fr.Seq == 0) != (fr.Verb == "TLM" || fr.Verb == "ALARM") {
				t.Fatalf("host read %q: %v", line, err)
			}
		}
	})
}
