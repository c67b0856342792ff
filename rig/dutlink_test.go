package rig

import (
	"encoding/json"
	"fmt"
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
