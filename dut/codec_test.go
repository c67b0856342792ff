package dut

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestCRC16CheckValue(t *testing.T) {
	if got := CRC16([]byte("123456789")); got != 0x29B1 {
		t.Fatalf("CRC16(123456789) = %04X, want 29B1", got)
	}
	if got := CRC16(nil); got != 0xFFFF {
		t.Fatalf("CRC16(empty) = %04X, want the initial value FFFF", got)
	}
}

// crcBitwise is the textbook definition, to check the table against.
func crcBitwise(b []byte) uint16 {
	c := uint16(0xFFFF)
	for _, x := range b {
		c ^= uint16(x) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
	}
	return c
}

func TestCRC16MatchesBitwise(t *testing.T) {
	for _, s := range []string{"", "A", "1 HELLO", "0 TLM t=1 rpm=2", strings.Repeat("\xff\x00", 60)} {
		if got, want := CRC16([]byte(s)), crcBitwise([]byte(s)); got != want {
			t.Errorf("CRC16(%q) = %04X, bitwise %04X", s, got, want)
		}
	}
}

func TestAppendFrame(t *testing.T) {
	b, err := AppendFrame(nil, Frame{Seq: 12, Verb: "SPEED", Args: []string{"30000"}})
	if err != nil {
		t.Fatal(err)
	}
	body := "12 SPEED 30000"
	want := body + " *" + strings.ToUpper(hex4(crcBitwise([]byte(body)))) + "\n"
	if string(b) != want {
		t.Fatalf("got %q, want %q", b, want)
	}
	// Appends, does not overwrite.
	b2, _ := AppendFrame([]byte("x"), Frame{Seq: 1, Verb: "PING"})
	if !strings.HasPrefix(string(b2), "x1 PING *") {
		t.Fatalf("AppendFrame did not append: %q", b2)
	}
}

func hex4(v uint16) string {
	const d = "0123456789abcdef"
	return string([]byte{d[v>>12], d[v>>8&15], d[v>>4&15], d[v&15]})
}

func TestAppendFrameRefuses(t *testing.T) {
	for _, f := range []Frame{
		{Seq: 1, Verb: ""},
		{Seq: 1, Verb: "ping"},
		{Seq: 1, Verb: "1X"},
		{Seq: 1, Verb: "PING", Args: []string{""}},
		{Seq: 1, Verb: "PING", Args: []string{"a b"}},
		{Seq: 1, Verb: "PING", Args: []string{"a*b"}},
		{Seq: 1, Verb: "PING", Args: []string{"\x01"}},
	} {
		if _, err := AppendFrame(nil, f); !errors.Is(err, ErrSyntax) {
			t.Errorf("AppendFrame(%+v) = %v, want ErrSyntax", f, err)
		}
	}
	long := Frame{Seq: 1, Verb: "X", Args: []string{strings.Repeat("a", 200)}}
	if b, err := AppendFrame([]byte("keep"), long); !errors.Is(err, ErrTooLong) || string(b) != "keep" {
		t.Errorf("over-long frame: %q, %v; want ErrTooLong and dst untouched", b, err)
	}
}

// frame builds a wire line (without "\n") with a correct CRC.
func frame(body string) string {
	return body + " *" + strings.ToUpper(hex4(CRC16([]byte(body))))
}

func TestParseFrame(t *testing.T) {
	ok := []struct {
		line string
		want Frame
	}{
		{frame("1 HELLO"), Frame{Seq: 1, Verb: "HELLO"}},
		{frame("65535 OK rpm=25000"), Frame{Seq: 65535, Verb: "OK", Args: []string{"rpm=25000"}}},
		{frame("7 ERR 3 not allowed in this mode"), Frame{Seq: 7, Verb: "ERR", Args: []string{"3", "not", "allowed", "in", "this", "mode"}}},
		{frame("0 ALARM 20 host link lost") + "\r", Frame{Seq: 0, Verb: "ALARM", Args: []string{"20", "host", "link", "lost"}}},
	}
	for _, c := range ok {
		got, err := ParseFrame([]byte(c.line))
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseFrame(%q) = %+v, %v; want %+v", c.line, got, err, c.want)
		}
	}
	good := frame("1 PING")
	bad := []struct {
		line string
		want error
	}{
		{"", ErrSyntax},
		{"1 PING", ErrSyntax},
		{"1 PING *29b1", ErrSyntax},        // lower-case hex
		{"1 PING *29B", ErrSyntax},         // short CRC
		{good[:len(good)-1] + "0", ErrCRC}, // wrong CRC
		{"1 PINGX" + good[6:], ErrCRC},     // body changed
		{frame("01 PING"), ErrSyntax},      // leading zero
		{frame("65536 PING"), ErrSyntax},   // seq range
		{frame("-1 PING"), ErrSyntax},      // sign
		{frame("1"), ErrSyntax},            // no verb
		{frame("1 ping"), ErrSyntax},       // lower-case verb
		{frame("1  PING"), ErrSyntax},      // double space
		{frame(" 1 PING"), ErrSyntax},      // leading space
		{frame("1 PING a*b"), ErrSyntax},   // '*' in argument
		{frame("1 PING \x7f"), ErrSyntax},  // control character
		{frame("1 PING " + strings.Repeat("a", 120)), ErrTooLong},
		{frame("1 PING") + "\r\r", ErrSyntax}, // only one '\r' is dropped
	}
	for _, c := range bad {
		if _, err := ParseFrame([]byte(c.line)); !errors.Is(err, c.want) {
			t.Errorf("ParseFrame(%q) = %v, want %v", c.line, err, c.want)
		}
	}
}

func TestParseFrameLengthLimit(t *testing.T) {
	// 127 bytes + "\n" is the longest frame, a '\r' among the 127.
	for _, c := range []struct {
		content int // before the '\n'
		cr      bool
		ok      bool
	}{{127, false, true}, {128, false, false}, {127, true, true}, {128, true, false}} {
		body := "1 X "
		pad := c.content - len(body) - 6
		if c.cr {
			pad--
		}
		line := frame(body + strings.Repeat("a", pad))
		if c.cr {
			line += "\r"
		}
		if len(line) != c.content {
			t.Fatalf("built %d bytes, want %d", len(line), c.content)
		}
		_, err := ParseFrame([]byte(line))
		if (err == nil) != c.ok {
			t.Errorf("%d bytes (cr=%v) before \\n: err = %v, want ok=%v", c.content, c.cr, err, c.ok)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for _, f := range []Frame{
		{Seq: 0, Verb: "TLM", Args: []string{"t=1000", "rpm=25000", "cur=100", "pwr=1200", "purge=600", "alarms=00"}},
		{Seq: 65535, Verb: "STATUS"},
		{Seq: 42, Verb: "X_1", Args: []string{"!", "~", "k=v=w"}},
	} {
		b, err := AppendFrame(nil, f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseFrame(b[:len(b)-1])
		if err != nil || !reflect.DeepEqual(got, f) {
			t.Errorf("round trip of %+v: %+v, %v", f, got, err)
		}
	}
}

func TestReplyParsers(t *testing.T) {
	st, err := parseStatus(Frame{Seq: 3, Verb: "OK", Args: []string{"rpm=1", "target=2", "cur=3", "pwr=4", "purge=5", "alarms=21"}})
	want := Status{RPM: 1, TargetRPM: 2, CurrentmA: 3, PowermW: 4, PurgemmHg: 5, Alarms: AlarmSuction | AlarmHostLinkLost}
	if err != nil || st != want {
		t.Errorf("parseStatus = %+v, %v; want %+v", st, err, want)
	}
	if _, err := parseStatus(Frame{Seq: 3, Verb: "OK", Args: []string{"rpm=1"}}); !errors.Is(err, ErrSyntax) {
		t.Errorf("STATUS without fields: %v", err)
	}
	if _, err := parseStatus(Frame{Seq: 3, Verb: "OK", Args: []string{"rpm=x", "target=2", "cur=3", "pwr=4", "purge=5", "alarms=0"}}); !errors.Is(err, ErrSyntax) {
		t.Errorf("STATUS with rpm=x: %v", err)
	}
	id, err := parseIdentity(Frame{Seq: 1, Verb: "OK", Args: []string{"model=m", "serial=s", "fw=f", "proto=1"}})
	if err != nil || id != (Identity{Model: "m", Serial: "s", FW: "f", Proto: 1}) {
		t.Errorf("parseIdentity = %+v, %v", id, err)
	}
	if _, err := parseIdentity(Frame{Seq: 1, Verb: "OK", Args: []string{"model=m", "serial=s", "fw=f", "proto=2"}}); err == nil {
		t.Error("proto=2 accepted")
	}
	e := parseErr(Frame{Seq: 1, Verb: "ERR", Args: []string{"5", "alarm", "active"}})
	var de *Error
	if !errors.As(e, &de) || de.Code != 5 || de.Text != "alarm active" || !errors.Is(e, ErrAlarmActive) || errors.Is(e, ErrBusy) {
		t.Errorf("parseErr = %#v", e)
	}
	a, err := parseAlarm(Frame{Verb: "ALARM", Args: []string{"20", "host", "link", "lost"}})
	if err != nil || a.Bits != AlarmHostLinkLost || a.Text != "host link lost" {
		t.Errorf("parseAlarm = %+v, %v", a, err)
	}
	tl, err := parseTelemetry(Frame{Verb: "TLM", Args: []string{"t=1500", "rpm=1", "cur=2", "pwr=3", "purge=4", "alarms=0"}})
	if err != nil || tl.DeviceT.Milliseconds() != 1500 || tl.RPM != 1 || tl.PurgemmHg != 4 {
		t.Errorf("parseTelemetry = %+v, %v", tl, err)
	}
}

func TestAlarmsString(t *testing.T) {
	for a, want := range map[Alarms]string{
		0:                                  "none",
		AlarmHostLinkLost:                  "host link lost",
		AlarmSuction | AlarmSpeedDeviation: "suction, speed deviation",
		0x41:                               "suction, 0x40",
	} {
		if got := a.String(); got != want {
			t.Errorf("Alarms(%#x).String() = %q, want %q", uint16(a), got, want)
		}
	}
	if AlarmHostLinkLost.Hex() != "20" || Alarms(0).Hex() != "00" {
		t.Error("Hex")
	}
}

// TestAlarmKeys: each bit's one-word name, as a rig config's trip_on
// names it, reads back as the bit; unknown names are refused.
func TestAlarmKeys(t *testing.T) {
	for i, k := range AlarmKeys() {
		if a, err := ParseAlarmKey(k); err != nil || a != 1<<i {
			t.Errorf("ParseAlarmKey(%q) = %v, %v", k, a, err)
		}
	}
	if got := strings.Join(Alarms(0x43).Keys(), ","); got != "suction,overcurrent,0x40" {
		t.Errorf("Keys = %q", got)
	}
	if _, err := ParseAlarmKey("motor overcurrent"); err == nil || !strings.Contains(err.Error(), "known: suction, overcurrent,") {
		t.Errorf("ParseAlarmKey of a description: %v", err)
	}
}

func TestModeString(t *testing.T) {
	for _, m := range []Mode{ModeStop, ModeSpeed, ModeLevel} {
		got, err := ParseMode(m.String())
		if err != nil || got != m {
			t.Errorf("ParseMode(%s) = %v, %v", m, got, err)
		}
	}
	if _, err := ParseMode("stop"); err == nil {
		t.Error("ParseMode accepts lower case")
	}
}
