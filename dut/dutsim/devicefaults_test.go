package dutsim

import (
	"strings"
	"testing"
	"time"

	"github.com/mockloop/mockloop/dut"
)

// TestFaultAlarmFloodsUnlatched: with alarm=0x3F every run of the firmware
// sends an ALARM frame for each of the six bits, and none is latched:
// STATUS says no alarm, and speed commands are not refused — the flood a
// host that reads STATUS alone never sees.
func TestFaultAlarmFloodsUnlatched(t *testing.T) {
	h := newFW(t, Config{Faults: Faults{Alarm: 0x3F}})
	h.ok(10*ms, "MODE", "SPEED")
	for i, now := range []time.Duration{100 * ms, 200 * ms} {
		h.uns = nil
		st := h.ok(now, "STATUS")
		if a := h.field(st, "alarms"); a != 0 {
			t.Fatalf("STATUS alarms=%X: the flood is latched", a)
		}
		if len(h.uns) != 6 || h.uns[0].String() != "0 ALARM 01 suction" || h.uns[5].String() != "0 ALARM 20 host link lost" {
			t.Fatalf("poll %d: unsolicited %v, want an ALARM for each of 6 bits", i, frames(h.uns))
		}
	}
	h.ok(300*ms, "SPEED", "20000")
}

// TestFaultPulseBetweenPolls: pulse=0x02@1s/30ms rises and falls between
// two polls 100 ms apart. STATUS before and after shows nothing; the ALARM
// frame sent at the rise, and the TLM frames during it, show the bit.
func TestFaultPulseBetweenPolls(t *testing.T) {
	f, err := ParseFaults("pulse=0x02@1s/30ms")
	if err != nil {
		t.Fatal(err)
	}
	h := newFW(t, Config{Faults: f})
	h.ok(950*ms, "TELEM", "100")
	h.uns = nil
	for now := 955 * ms; now < 1050*ms; now += 10 * ms { // a device on its own clock
		h.collect(h.fw.Advance(now))
	}
	st := h.ok(1050*ms, "STATUS")
	if a := h.field(st, "alarms"); a != 0 {
		t.Fatalf("STATUS after the pulse: alarms=%X", a)
	}
	var alarm, during int
	for _, u := range h.uns {
		switch {
		case u.Verb == "ALARM" && u.String() == "0 ALARM 02 motor overcurrent":
			alarm++
		case u.Verb == "TLM":
			if v, _ := u.Field("alarms"); v == "02" {
				during++
			}
		}
	}
	// TLM at 100 Hz: the frames of 1.00, 1.01 and 1.02 s fall in the pulse.
	if alarm != 1 || during != 3 {
		t.Fatalf("ALARM frames %d (want 1), TLM frames showing the pulse %d (want 3): %v", alarm, during, frames(h.uns))
	}
	h.ok(1060*ms, "MODE", "SPEED") // unlatched: nothing blocks
}

// TestFaultNoStopKeepsTurning: with nostop, MODE STOP is answered OK but
// the pump keeps its speed; the power cut stops it and silences the
// device.
func TestFaultNoStopKeepsTurning(t *testing.T) {
	h := newFW(t, Config{Faults: Faults{NoStop: true}})
	h.ok(0, "MODE", "LEVEL")
	h.ok(0, "LEVEL", "8")
	h.ok(10*s, "MODE", "STOP")
	st := h.ok(20*s, "STATUS")
	if rpm := h.field(st, "rpm"); rpm != 50000 {
		t.Fatalf("rpm %d 10 s after MODE STOP, want 50000 (nostop)", rpm)
	}
	h.fw.PowerOff(20 * s)
	line, _ := dut.AppendFrame(nil, dut.Frame{Seq: 99, Verb: "STATUS"})
	if uns, reply := h.fw.Handle(21*s, line[:len(line)-1]); reply != nil || uns != nil {
		t.Fatalf("a powered-off device answered %q %q", uns, reply)
	}
	h.fw.Advance(30 * s)
	if st := h.fw.State(); st.RPM != 0 || st.Pump.RPM != 0 {
		t.Fatalf("rotor at %g rpm 10 s after the power cut", st.RPM)
	}
}

func TestParseDeviceFaults(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Faults
	}{
		{"alarm=0x3F", Faults{Alarm: 0x3F}},
		{"alarm=3f,nostop", Faults{Alarm: 0x3F, NoStop: true}},
		{"pulse=0x02@2s/30ms", Faults{PulseBits: 2, PulseAt: 2 * s, PulseFor: 30 * ms}},
		{"nostop=false", Faults{}},
		{"noalarm,pulse=0x01@1s/1ms", Faults{NoAlarmFrames: true, PulseBits: 1, PulseAt: s, PulseFor: ms}},
	} {
		got, err := ParseFaults(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseFaults(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
			continue
		}
		if back, err := ParseFaults(got.String()); err != nil || back != got {
			t.Errorf("round trip of %q via %q: %+v, %v", c.in, got.String(), back, err)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"alarm=0", "non-zero alarm bitmask"},
		{"alarm=zz", "non-zero alarm bitmask"},
		{"alarm", "needs a value"},
		{"pulse=0x02", "want pulse=BITS@AT/FOR"},
		{"pulse=0x02@2s", "want pulse=BITS@AT/FOR"},
		{"pulse=0x02@2s/0s", "want pulse=BITS@AT/FOR"},
		{"pulse=0x02@0s/1s", "want pulse=BITS@AT/FOR"},
		{"pulse=x@2s/1s", "non-zero alarm bitmask"},
		{"nostop=perhaps", "takes no value"},
	} {
		_, err := ParseFaults(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseFaults(%q) = %v, want an error containing %q", c.in, err, c.want)
		}
	}
}

// FuzzParseFaults: any string is parsed without panic, and what is
// accepted is written by String in a form that reads back the same.
func FuzzParseFaults(f *testing.F) {
	for _, s := range []string{"", "none", "drop=0.2,delay=150ms", "unplug=1m/2.5s,seed=-7",
		"alarm=0x3F", "pulse=0x02@2s/30ms,nostop", "noalarm", "garbage=0.05,babble,silent=false"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ft, err := ParseFaults(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "dutsim: ") {
				t.Fatalf("error without its package: %v", err)
			}
			return
		}
		back, err := ParseFaults(ft.String())
		if err != nil || back != ft {
			t.Fatalf("%q read as %+v, written %q, read back %+v, %v", s, ft, ft.String(), back, err)
		}
	})
}

// TestFaultNoAlarmFrames: with noalarm the device announces no alarm; its
// TLM frames show the pulse while it lasts.
func TestFaultNoAlarmFrames(t *testing.T) {
	h := newFW(t, Config{Faults: Faults{NoAlarmFrames: true, PulseBits: dut.AlarmPurgeLow, PulseAt: s, PulseFor: 30 * ms}})
	h.ok(950*ms, "TELEM", "100")
	h.uns = nil
	h.collect(h.fw.Advance(1005 * ms))
	if got := strings.Join(frames(h.uns), "|"); got != "0 TLM t=1000 rpm=0 cur=0 pwr=0 purge=600 alarms=04" {
		t.Fatalf("unsolicited %q, want the TLM frame of the pulse and no ALARM", got)
	}
}
