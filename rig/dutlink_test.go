package rig

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mockloop/mockloop/dut"
	"github.com/mockloop/mockloop/runlog"
)

// overPTY makes the runs of t on virtual time reach the simulated DUT over
// a pty, as before it was reached in process.
func overPTY(t *testing.T) {
	t.Helper()
	simDUTOverPTY = true
	t.Cleanup(func() { simDUTOverPTY = false })
}

// TestDUTTestsOverPTY runs the DUT tests of virtual time again with the
// simulated DUT on a pty: both ways to it behave the same to the rig.
func TestDUTTestsOverPTY(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the in-process runs of these tests stand for both")
	}
	for _, tc := range []struct {
		name string
		test func(*testing.T)
	}{
		{"SilentAborts", TestDUTSilentAborts},
		{"ExchangesSummarised", TestDUTExchangesSummarisedOnVirtualTime},
		{"AlarmFloodIsRecordedAndTrips", TestDUTAlarmFloodIsRecordedAndTrips},
		{"AlarmBetweenPollsIsRecorded", TestDUTAlarmBetweenPollsIsRecorded},
		{"ThatDoesNotStopIsPoweredOff", TestDUTThatDoesNotStopIsPoweredOff},
		{"StopConfirmedBySpeed", TestDUTStopConfirmedBySpeed},
		{"PowerStaysOffThroughAnotherSafeState", TestDUTPowerStaysOffThroughAnotherSafeState},
		{"TelemetryAlarmsAreRecorded", TestDUTTelemetryAlarmsAreRecorded},
		{"SafeStateOfEveryActuator", TestSafeStateOfEveryActuator},
	} {
		t.Run(tc.name, func(t *testing.T) {
			overPTY(t)
			tc.test(t)
		})
	}
}

// TestDUTSameRecordInProcessAndOverPTY: a protocol on virtual time that
// commands the DUT by level and by speed, with a suction alarm between two
// polls, records the same frames and the same events whichever way the
// simulated DUT is reached; only the manifest's dut_link and the
// summaries' link say which.
func TestDUTSameRecordInProcessAndOverPTY(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a run over the pty")
	}
	src := header + `  - set: {dut.level: P4}
    hold: 3 s
  - set: {dut.speed: 30000 rpm}
    hold: 2 s
  - set: {dut.clear: alarms}
    hold: 1 s
`
	type record struct {
		frames []string
		events []string
		link   string
	}
	run := func(t *testing.T) record {
		cfg := dutConfig(t)
		cfg.DUT.Faults.PulseBits, cfg.DUT.Faults.PulseAt, cfg.DUT.Faults.PulseFor = dut.AlarmSuction, 1530*time.Millisecond, 20*time.Millisecond
		o := runDUTWith(t, cfg, src, Options{Epoch: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)})
		var r record
		r.link = o.run.Manifest.DUTLink
		o.run.Frames(func(ts time.Duration, v []float64) error {
			r.frames = append(r.frames, fmt.Sprint(ts, v))
			return nil
		})
		for _, e := range o.events {
			if e.Kind == runlog.KindOperator {
				e.Data = nil // the wall time the run started
			}
			if e.Kind == runlog.KindDUTSummary {
				var d runlog.DUTSummaryData
				if err := e.Decode(&d); err != nil {
					t.Fatal(err)
				}
				d.Link = ""
				e = runlog.NewEvent(e.Kind, e.Step, "", d)
			}
			b, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			r.events = append(r.events, string(b))
		}
		return r
	}
	mem := run(t)
	overPTY(t)
	pty := run(t)
	if mem.link != runlog.DUTLinkInProcess || pty.link != runlog.DUTLinkPTY {
		t.Errorf("dut_link %q and %q", mem.link, pty.link)
	}
	if len(mem.frames) < 6000 || !slices.Equal(mem.frames, pty.frames) {
		t.Errorf("%d frames in process, %d over the pty, or they differ", len(mem.frames), len(pty.frames))
	}
	if !slices.Equal(mem.events, pty.events) {
		for i := range min(len(mem.events), len(pty.events)) {
			if mem.events[i] != pty.events[i] {
				t.Fatalf("event %d:\nin process %s\nover pty   %s", i, mem.events[i], pty.events[i])
			}
		}
		t.Fatalf("%d events in process, %d over the pty", len(mem.events), len(pty.events))
	}
	joined := strings.Join(mem.events, "\n")
	for _, want := range []string{`"kind":"dut.alarm"`, `"kind":"dut.summary"`, " LEVEL 4 ", " SPEED 30000 ", " CLEAR "} {
		if !strings.Contains(joined, want) {
			t.Errorf("the record has no %s: the protocol did not exercise the link", want)
		}
	}
}

// linkScript is a DUT link's frames as the driver reports them: "> " a
// frame sent ("> 7 STATUS" attempt 0, ">1 7 STATUS" its first retry), "< "
// a line received, "<! " one dropped for its CRC.
var linkScript = []string{
	"> 1 HELLO", "< 1 OK model=m serial=s fw=1 proto=1", // a command: kept
	"> 2 STATUS", "< 2 OK rpm=0 target=0 cur=100 pwr=15 purge=600 alarms=00", // the first STATUS: kept
	"> 3 STATUS", "< 3 OK rpm=5 target=0 cur=101 pwr=16 purge=601 alarms=00", // readings only: left out
	"> 4 PING", "< 4 OK", // keep-alive: left out
	"> 5 STATUS", "< 0 ALARM 01 suction", "< 5 OK rpm=6 target=0 cur=101 pwr=16 purge=601 alarms=01", // alarms changed: kept whole
	"> 6 STATUS", "< 0 ALARM 02 overcurrent", "< 6 OK rpm=7 target=0 cur=102 pwr=17 purge=602 alarms=01", // the ALARM alone
	"> 7 STATUS", "<! 7 OK bad crc", ">1 7 STATUS", "< 7 OK rpm=8 target=0 cur=103 pwr=18 purge=603 alarms=01", // retried: kept whole
	"> 8 STATUS", // never answered: kept
	"> 9 MODE STOP", "< 9 OK",
	"> 10 STATUS", "< 3 OK rpm=1 target=0 cur=1 pwr=1 purge=1 alarms=00", "< 10 OK rpm=9 target=0 cur=104 pwr=19 purge=604 alarms=01", // a reply to no request, kept alone
	"< 0 TLM t=1 rpm=9 cur=104 pwr=19 purge=604 alarms=01", "< 0 TLM t=2 rpm=10 cur=105 pwr=20 purge=605 alarms=01", "< 0 TLM t=3 rpm=10 cur=105 pwr=20 purge=605 alarms=00", // the first and the change
	"> 11 SPEED 1000", "< 11 ERR 3 not allowed in this mode", // a command refused: kept
	"> 12 STATUS", "< 12 ERR 5 alarm active", // a NAK: kept
	"> 13 STATUS", // pending when the events are taken
}

// playLink feeds linkScript to l and returns the lines it keeps, in order.
func playLink(t *testing.T, l *dutLog) []string {
	t.Helper()
	var out []runlog.Event
	for i, s := range linkScript {
		dir, line, _ := strings.Cut(s, " ")
		f := dut.FrameEvent{At: time.Duration(i) * time.Millisecond, Line: line}
		switch dir {
		case ">", ">1":
			f.Dir, f.Attempt = dut.Sent, len(dir)-1
		case "<!":
			f.Dir, f.Err = dut.Received, dut.ErrCRC
		default:
			f.Dir = dut.Received
		}
		if f.Err == nil {
			var err error
			if f.Frame, err = parseScriptFrame(line); err != nil {
				t.Fatalf("%q: %v", line, err)
			}
		}
		out = l.frame(f, out)
	}
	out = l.abandon(out)
	var kept []string
	for _, e := range out {
		kept = append(kept, e.Msg)
	}
	return kept
}

// parseScriptFrame reads a line of linkScript (without its CRC) as the
// driver decodes it.
func parseScriptFrame(line string) (dut.Frame, error) {
	b, err := dut.AppendFrame(nil, scriptFrame(line))
	if err != nil {
		return dut.Frame{}, err
	}
	return dut.ParseFrame(b[:len(b)-1])
}

func scriptFrame(line string) dut.Frame {
	fields := strings.Fields(line)
	var seq uint16
	fmt.Sscan(fields[0], &seq)
	return dut.Frame{Seq: seq, Verb: fields[1], Args: fields[2:]}
}

// TestDUTLogKeepsChangesAndErrors: on virtual time the log keeps the
// frames of commands, of STATUS replies that change something but the
// readings, of errors (a retry, a dropped line, a reply to nothing, no
// reply, an ERR), ALARM frames and TLM frames whose alarms changed, in the
// line's order; the rest is counted.
func TestDUTLogKeepsChangesAndErrors(t *testing.T) {
	l := newDUTLog(false, runlog.DUTLinkInProcess, 0)
	kept := playLink(t, l)
	want := []string{
		"1 HELLO", "1 OK model=m serial=s fw=1 proto=1",
		"2 STATUS", "2 OK rpm=0 target=0 cur=100 pwr=15 purge=600 alarms=00",
		"5 STATUS", "0 ALARM 01 suction", "5 OK rpm=6 target=0 cur=101 pwr=16 purge=601 alarms=01",
		"0 ALARM 02 overcurrent",
		"7 STATUS", "7 OK bad crc", "7 STATUS", "7 OK rpm=8 target=0 cur=103 pwr=18 purge=603 alarms=01",
		"8 STATUS",
		"9 MODE STOP", "9 OK",
		"3 OK rpm=1 target=0 cur=1 pwr=1 purge=1 alarms=00",
		"0 TLM t=1 rpm=9 cur=104 pwr=19 purge=604 alarms=01", "0 TLM t=3 rpm=10 cur=105 pwr=20 purge=605 alarms=00",
		"11 SPEED 1000", "11 ERR 3 not allowed in this mode",
		"12 STATUS", "12 ERR 5 alarm active",
		"13 STATUS",
	}
	if !slices.Equal(kept, want) {
		t.Errorf("kept:\n%s\nwant:\n%s", strings.Join(kept, "\n"), strings.Join(want, "\n"))
	}
	wantExchanges := map[string]int64{"HELLO": 1, "STATUS": 9, "PING": 1, "MODE": 1, "SPEED": 1}
	if c := l.n; !maps.Equal(c.exchanges, wantExchanges) || c.frames != int64(len(linkScript)) || c.logged != int64(len(want)) || c.retries != 1 || c.naks != 2 {
		t.Errorf("counts %+v", c)
	}

	// On the wall clock, every frame.
	whole := newDUTLog(true, runlog.DUTLinkSerial, 0)
	if kept := playLink(t, whole); len(kept) != len(linkScript) || whole.n.logged != int64(len(linkScript)) {
		t.Errorf("on the wall clock %d of %d frames kept", len(kept), len(linkScript))
	}
}

// TestDUTLogSummaries: a step summary counts since the last one, with the
// driver's error counters as differences; the run's counts everything
// since the link was opened.
func TestDUTLogSummaries(t *testing.T) {
	l := newDUTLog(false, runlog.DUTLinkInProcess, 5*time.Microsecond)
	playLink(t, l)
	st1 := dut.Stats{BadCRC: 1, NoReply: 1, SeqMismatch: 1, AlarmFrames: 2, TLMFrames: 3, Retries: 1}
	decode := func(e runlog.Event) runlog.DUTSummaryData {
		t.Helper()
		var d runlog.DUTSummaryData
		if err := e.Decode(&d); err != nil || e.Kind != runlog.KindDUTSummary {
			t.Fatalf("%+v: %v", e, err)
		}
		return d
	}
	e1 := l.summary(false, 2*time.Second, st1)
	s1 := decode(e1)
	if s1.Scope != "step" || s1.FromS != 5e-6 || s1.Frames != int64(len(linkScript)) || s1.FramesLogged != 23 || s1.Retries != 1 ||
		s1.Exchanges["STATUS"] != 9 || s1.Alarms != 2 || s1.TLM != 3 || s1.Logged != runlog.DUTLoggedChanges ||
		s1.Errors != (runlog.DUTErrors{BadCRC: 1, NoReply: 1, SeqMismatch: 1, NAK: 2}) {
		t.Errorf("first step summary %+v", s1)
	}
	wantMsg := "DUT link in-process, changes logged: 13 exchanges (STATUS 9, HELLO 1, MODE 1, PING 1, SPEED 1), 32 frames, 23 of them logged; " +
		"errors: no reply 1, NAK 2, bad CRC 1, reply to no request 1; 1 retries"
	if e1.Msg != wantMsg {
		t.Errorf("message\n%q, want\n%q", e1.Msg, wantMsg)
	}
	playLink(t, l)
	st2 := st1
	st2.BadCRC, st2.Reconnects = 3, 1
	s2 := decode(l.summary(false, 4*time.Second, st2))
	if s2.FromS != 2 || s2.Frames != int64(len(linkScript)) || s2.Errors.BadCRC != 2 || s2.Errors.NoReply != 0 || s2.Reconnects != 1 || s2.Alarms != 0 {
		t.Errorf("second step summary %+v", s2)
	}
	playLink(t, l)
	run := decode(l.summary(true, 5*time.Second, st2))
	if run.Scope != "run" || run.FromS != 5e-6 || run.Frames != 3*int64(len(linkScript)) || run.FramesLogged != 3*23 ||
		run.Exchanges["STATUS"] != 27 || run.Errors.BadCRC != 3 || run.Errors.NAK != 6 || run.Retries != 3 {
		t.Errorf("run summary %+v", run)
	}
}
