package rig

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/dut"
	"github.com/mockloop/mockloop/dut/dutsim"
	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/pumpctl"
	"github.com/mockloop/mockloop/runlog"
)

// column returns a channel's values in the record, frame by frame.
func (o runOut) column(t *testing.T, name string) []float64 {
	t.Helper()
	col := slices.IndexFunc(o.run.Manifest.Layout, func(c runlog.Channel) bool { return c.Name == name })
	if col < 0 {
		t.Fatalf("no channel %s", name)
	}
	var v []float64
	if _, err := o.run.Frames(func(_ time.Duration, f []float64) error { v = append(v, f[col]); return nil }); err != nil {
		t.Fatal(err)
	}
	return v
}

// alarmEvents are the run's dut.alarm events, decoded.
func (o runOut) alarmEvents(t *testing.T) []runlog.DUTAlarmData {
	t.Helper()
	var out []runlog.DUTAlarmData
	for _, e := range o.eventsOf(runlog.KindDUTAlarm) {
		var a runlog.DUTAlarmData
		if err := e.Decode(&a); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

// safeEvents are the run's dut.safe events after the run started, decoded.
func (o runOut) safeEvents(t *testing.T) []runlog.DUTSafeData {
	t.Helper()
	var out []runlog.DUTSafeData
	for _, e := range o.eventsOf(runlog.KindDUTSafe) {
		var s runlog.DUTSafeData
		if err := e.Decode(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// TestDUTAlarmFloodIsRecordedAndTrips: a DUT flooding ALARM frames of all
// six bits (0x3F), which STATUS never shows, used to pass with dut.alarms
// at 0 all run: the rig read STATUS alone. Now the bits reach the alarms
// column (max 63 in the record and the step's statistics) and a warning
// event; with trip_on [overcurrent, suction] the run aborts on the
// supervisor's trip, the frame that tripped in the record and in its
// step's statistics (what the report shows). Without
// trip_on the flood is a warning, and the run goes on.
func TestDUTAlarmFloodIsRecordedAndTrips(t *testing.T) {
	for _, trip := range []dut.Alarms{dut.AlarmOvercurrent | dut.AlarmSuction, 0} {
		t.Run(map[bool]string{true: "trip_on", false: "warn"}[trip != 0], func(t *testing.T) {
			cfg := dutConfig(t)
			cfg.DUT.Faults.Alarm = 0x3F
			cfg.DUT.TripOn = trip
			o := runDUT(t, cfg, header+"  - set: {dut.level: P2}\n    hold: 2 s\n")
			if max := slices.Max(o.column(t, "dut.alarms")); max != 63 {
				t.Errorf("dut.alarms max %g in the record, want 63 (0x3F)", max)
			}
			// The report's step statistics, the frame that tripped included.
			if len(o.res.Steps) == 0 || o.res.Steps[0].Channels["dut.alarms"].Max != 63 {
				t.Errorf("step statistics of dut.alarms: %+v", o.res.Steps)
			}
			// One warning per bit, its ALARM frame's: a flood rises once.
			var names []string
			for _, a := range o.alarmEvents(t) {
				if a.Source != "ALARM" || len(a.Names) != 1 {
					t.Errorf("dut.alarm %+v", a)
				}
				names = append(names, a.Names...)
			}
			if strings.Join(names, ",") != "suction,overcurrent,purge_low,purge_high,speed_deviation,host_link_lost" {
				t.Errorf("dut.alarm events of %v, want each of the six bits once", names)
			}
			if trip == 0 {
				if o.res.Outcome != runlog.OutcomePass {
					t.Errorf("outcome %s %q without trip_on", o.res.Outcome, o.res.AbortReason)
				}
				return
			}
			if o.res.Outcome != runlog.OutcomeAborted || o.res.AbortReason != "safety trip: DUT alarm 0x03: suction, motor overcurrent" {
				t.Fatalf("outcome %s %q", o.res.Outcome, o.res.AbortReason)
			}
			if o.res.DurationS > 0.5 {
				t.Errorf("tripped only after %.3f s; the flood starts with the first poll", o.res.DurationS)
			}
		})
	}
}

// TestDUTAlarmBetweenPollsIsRecorded: a suction alarm that rises and falls
// within 20 ms, between two STATUS polls 100 ms apart, was invisible. Now
// the DUT's ALARM frame puts it in the alarms column and in a warning
// event, though no STATUS reply ever shows it.
func TestDUTAlarmBetweenPollsIsRecorded(t *testing.T) {
	cfg := dutConfig(t)
	f, err := dutsim.ParseFaults("pulse=0x01@1.53s/20ms")
	if err != nil {
		t.Fatal(err)
	}
	cfg.DUT.Faults, cfg.DUT.TripOn = f, dut.AlarmOvercurrent
	o := runDUT(t, cfg, header+"  - set: {dut.level: P2}\n    hold: 3 s\n")
	if o.res.Outcome != runlog.OutcomePass {
		t.Fatalf("outcome %s %q (the alarm is not in trip_on)", o.res.Outcome, o.res.AbortReason)
	}
	for _, e := range o.eventsOf(runlog.KindDUTRx) {
		if strings.Contains(e.Msg, " alarms=") && !strings.Contains(e.Msg, " alarms=00 ") {
			t.Fatalf("a STATUS reply shows the pulse (%q): it was not between two polls", e.Msg)
		}
	}
	var with int
	for _, v := range o.column(t, "dut.alarms") {
		if dut.Alarms(v)&dut.AlarmSuction != 0 {
			with++
		}
	}
	if with == 0 {
		t.Error("no frame of dut.alarms has the suction bit")
	}
	al := o.alarmEvents(t)
	if len(al) != 1 || al[0].Bits != int(dut.AlarmSuction) || al[0].Source != "ALARM" {
		t.Fatalf("dut.alarm events %+v, want the suction alarm's", al)
	}
	ev := o.eventsOf(runlog.KindDUTAlarm)[0]
	if ev.T < 1.53 || ev.T > 1.7 {
		t.Errorf("dut.alarm at %.3f s; the pulse was at 1.53 s after power-on, seen at the next poll", ev.T)
	}
}

// withDUTPower gives the rig a DUT power switch, as a rig config with
// switches: {dut_power: {pin: GPIO5, safe: on}} and dut: {power: dut_power}.
func withDUTPower(cfg *Config) *Config {
	cfg.Hardware.Switches = append(cfg.Hardware.Switches, Switch{Name: "dut_power", Pin: "GPIO5", Safe: true})
	cfg.DUT.Power = "dut_power"
	return cfg
}

// TestDUTThatDoesNotStopIsPoweredOff: a DUT that answers OK to MODE STOP
// and keeps turning at P8 (the CP's 45,000 rpm) used to pass: the OK was taken as
// the safe state. Now its speed must reach the safe speed within
// dut.stop_within; it does not, the run is aborted "DUT did not stop", and
// the rig switches the DUT's power off, an event. Without a power switch
// the run is aborted all the same.
func TestDUTThatDoesNotStopIsPoweredOff(t *testing.T) {
	for _, power := range []bool{true, false} {
		t.Run(map[bool]string{true: "power switch", false: "none"}[power], func(t *testing.T) {
			cfg := dutConfig(t)
			cfg.DUT.Faults.NoStop = true
			cfg.DUT.StopWithin = 3 * time.Second
			if power {
				withDUTPower(cfg)
			}
			srv := withDUT(t, time.Hour, func(*dutsim.Server) {})
			o := runDUT(t, cfg, header+"  - set: {dut.level: P8}\n    hold: 6 s\n")
			if o.res.Outcome != runlog.OutcomeAborted || !strings.HasPrefix(o.res.AbortReason, "safe state failed: DUT did not stop: 45000 rpm measured 3 s after its safe command stop, want 0 rpm within 3 s") {
				t.Fatalf("outcome %s %q", o.res.Outcome, o.res.AbortReason)
			}
			se := o.safeEvents(t)
			last := se[len(se)-1]
			if !power {
				if last.Confirmed || last.PowerOff {
					t.Errorf("last dut.safe %+v", last)
				}
				return
			}
			if !strings.HasSuffix(o.res.AbortReason, "; DUT power switched off (dut_power)") || !last.PowerOff {
				t.Fatalf("power not switched off: %q, events %+v", o.res.AbortReason, se)
			}
			// The switch's pin powers the simulated DUT: off, it is dead.
			fw := (*srv).Firmware()
			fw.Advance(fw.State().Now + 10*time.Second)
			if st := fw.State(); st.TargetRPM != 0 || st.RPM != 0 {
				t.Errorf("the simulated DUT still turns (%+v) with its power off", st)
			}
		})
	}
}

// TestDUTStopConfirmedBySpeed: at the end of a run the DUT's safe state is
// confirmed by its measured speed, not by the OK to MODE STOP: from P6
// (the CP's 40,500 rpm) its ramp of 10,000 rpm/s takes 4.05 s, and the
// dut.safe event says so.
func TestDUTStopConfirmedBySpeed(t *testing.T) {
	o := runDUT(t, nil, header+"  - set: {dut.level: P6}\n    hold: 6 s\n")
	if o.res.Outcome != runlog.OutcomePass {
		t.Fatalf("outcome %s %q", o.res.Outcome, o.res.AbortReason)
	}
	se := o.safeEvents(t)
	last := se[len(se)-1]
	if !last.Confirmed || last.PowerOff || last.SafeRPM != 0 || math.Abs(float64(last.RPM)) > safeTolerance || last.AfterS < 3.9 || last.AfterS > 4.3 {
		t.Fatalf("dut.safe %+v, want confirmed about 4.05 s after the stop", last)
	}
	ev := o.eventsOf(runlog.KindDUTSafe)
	if msg := ev[len(ev)-1].Msg; !strings.HasPrefix(msg, "DUT at its safe speed 4") || !strings.Contains(msg, "after its safe command stop") {
		t.Errorf("dut.safe says %q", msg)
	}
	// The run ends after its DUT stopped: the events stay in time order.
	if end := o.eventsOf(runlog.KindRunEnd); len(end) != 1 || end[0].T < ev[len(ev)-1].T {
		t.Errorf("run.end %+v before the last dut.safe at %.3f s", end, ev[len(ev)-1].T)
	}
}

// TestDUTConfigChecks: the dut section's trip_on, stop_within, power and
// telemetry are decoded, and every mistake is reported at its position.
func TestDUTConfigChecks(t *testing.T) {
	base, err := os.ReadFile("../configs/rigs/sim.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// with replaces the dut section's stop_within line by lines of the test's.
	with := func(lines string) []byte {
		return []byte(strings.Replace(string(base), "  stop_within: 10 s\n", lines, 1))
	}
	const power = "  switches:\n    dut_power: {pin: GPIO5, safe: on}\n"
	good := strings.Replace(string(with("  stop_within: 3 s\n  power: dut_power\n  telemetry: 20 Hz\n")), "  switches:\n", power, 1)
	cfg, err := ParseConfig("sim.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.DUT
	if d.TripOn != dut.AlarmOvercurrent || d.StopWithin != 3*time.Second || d.Power != "dut_power" || d.Telemetry != 20 {
		t.Errorf("decoded %+v", d)
	}
	line := strings.Count(string(base[:strings.Index(string(base), "  stop_within: 10 s")]), "\n") + 1
	for _, c := range []struct{ yaml, want string }{
		{"  stop_within: 0 s\n", ":16: dut stop_within must be from 10 ms to 60 s"},
		{"  stop_within: fast\n", ":16: dut stop_within: "},
		{"  power: heater\n", ":10: dut power switch heater must have safe: on"},
		{"  power: dut_pwr\n", `:10: dut power "dut_pwr" is not a switch of hardware.switches`},
		{"  telemetry: 500 Hz\n", ":14: dut telemetry must be a whole number of Hz from 0 to 100"},
		{"  trip_on: [overcurent]\n", `:13: dut trip_on: unknown alarm "overcurent"; did you mean overcurrent?`},
		{"  trip_on: overcurrent\n", `:12: dut trip_on must be a list, got "overcurrent"`},
	} {
		src := strings.Replace(string(base), "  trip_on: [overcurrent]\n", "", 1)
		src = strings.Replace(src, "  stop_within: 10 s\n", c.yaml, 1)
		_, err := ParseConfig("sim.yaml", []byte(src))
		want := fmt.Sprintf("sim.yaml:%d%s", line-1, c.want)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", c.yaml, err, want)
		}
	}
	// trip_on needs the channel it trips on.
	i := strings.Index(string(base), "  dut.alarms: {unit: flags, dut: alarms")
	j := i + strings.Index(string(base[i:]), "\n") + 1
	src := string(base[:i]) + string(base[j:])
	if _, err := ParseConfig("sim.yaml", []byte(src)); err == nil || !strings.Contains(err.Error(), "dut trip_on needs a channel of the DUT's alarms") {
		t.Errorf("trip_on without a dut.alarms channel: %v", err)
	}
}

// TestDUTCheckedOnWallClock: at the bench, where the link runs beside the
// sampling loop (the poller, and the driver's reader delivering ALARM
// frames), a transient alarm reaches the alarms column and a warning
// event, and a DUT that does not stop is found out and powered off.
func TestDUTCheckedOnWallClock(t *testing.T) {
	cfg := withDUTPower(forWallClock(dutConfig(t)))
	f, err := dutsim.ParseFaults("pulse=0x01@1s/20ms,nostop")
	if err != nil {
		t.Fatal(err)
	}
	cfg.DUT.Faults, cfg.DUT.StopWithin, cfg.DUT.TripOn = f, time.Second, dut.AlarmOvercurrent
	srv := withDUT(t, time.Hour, func(*dutsim.Server) {})
	o := runDUTWith(t, cfg, header+"  - set: {dut.level: P2}\n    hold: 2 s\n", Options{Realtime: true})
	if o.res.Outcome != runlog.OutcomeAborted || !strings.HasPrefix(o.res.AbortReason, "safe state failed: DUT did not stop: ") ||
		!strings.HasSuffix(o.res.AbortReason, "; DUT power switched off (dut_power)") {
		t.Fatalf("outcome %s %q", o.res.Outcome, o.res.AbortReason)
	}
	// The simulated pump may raise alarms of its own on a loaded machine
	// (purge low at the start); the pulse's is the one looked for.
	al := o.alarmEvents(t)
	if slices.IndexFunc(al, func(a runlog.DUTAlarmData) bool { return a.Bits == int(dut.AlarmSuction) }) < 0 {
		t.Errorf("dut.alarm events %+v, want the suction pulse's", al)
	}
	if slices.IndexFunc(o.column(t, "dut.alarms"), func(v float64) bool { return dut.Alarms(v)&dut.AlarmSuction != 0 }) < 0 {
		t.Error("no frame of dut.alarms has the suction bit")
	}
	if st := (*srv).Firmware().State(); st.TargetRPM != 0 {
		t.Errorf("the simulated DUT is still driven to %d rpm with its power off", st.TargetRPM)
	}
}

// TestDUTPowerStaysOffThroughAnotherSafeState: the safe state may be asked
// for again (it must work repeatedly); the DUT's power switch, switched
// off because the DUT did not stop, is not switched back on to its
// declared safe state.
func TestDUTPowerStaysOffThroughAnotherSafeState(t *testing.T) {
	cfg := withDUTPower(dutConfig(t))
	cfg.DUT.Faults.NoStop, cfg.DUT.StopWithin = true, time.Second
	p, clk := newSimPlant(t, cfg)
	if err := p.Apply("dut.level", protocols.Value{Word: "P4"}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(5 * time.Second)
	if err := p.Safe(); err == nil || !strings.Contains(err.Error(), "DUT did not stop") {
		t.Fatalf("first safe state: %v", err)
	}
	if err := p.Safe(); err != nil {
		t.Errorf("second safe state: %v", err)
	}
	if on, known := p.dut.power.(*pumpctl.Solenoid).On(); on || !known {
		t.Errorf("DUT power switch on %v (known %v) after a second safe state", on, known)
	}
}

// newSimPlant builds the plant of a sim rig on a virtual clock, with its
// nominal calibrations; it is closed when the test ends.
func newSimPlant(t *testing.T, cfg *Config) (*busPlant, *clock.Virtual) {
	t.Helper()
	clk := clock.NewVirtual(time.Now())
	cals, _, err := cfg.channelCalibrations(&Calibrations{}, clk.Epoch(), false)
	if err != nil {
		t.Fatal(err)
	}
	pl, err := newPlant(cfg, clk, cals)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pl.Close() })
	return pl.(*busPlant), clk
}

// TestDUTTelemetryAlarmsAreRecorded: with dut.telemetry the DUT streams
// TLM frames, and their alarms are used like an ALARM frame's: a device
// that announces nothing (noalarm) and whose purge alarm is over by the
// next STATUS poll still puts it in the alarms column and a warning
// event, from its TLM frame.
func TestDUTTelemetryAlarmsAreRecorded(t *testing.T) {
	cfg := dutConfig(t)
	cfg.DUT.Telemetry = 100
	f, err := dutsim.ParseFaults("pulse=0x04@1s/30ms,noalarm")
	if err != nil {
		t.Fatal(err)
	}
	cfg.DUT.Faults = f
	clk := clock.NewVirtual(time.Now())
	d, err := openDUT(cfg, clk, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	// The device on its own clock, in the pulse: one TLM frame goes out.
	// Over the pty the driver's reader takes it at once; in process it
	// waits on the line for the next exchange, which reads it before the
	// STATUS reply.
	clk.Advance(1005 * time.Millisecond)
	d.srv.Advance()
	for guard := time.Now().Add(30 * time.Second); d.link == runlog.DUTLinkPTY && d.seen.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(guard) {
			t.Fatal("the TLM frame never reached the rig")
		}
	}
	// The next frame, after the pulse: its STATUS says no alarm.
	clk.Advance(45 * time.Millisecond)
	dst := make([]float64, len(cfg.Channels))
	if err := d.read(dst); err != nil {
		t.Fatal(err)
	}
	if v := dst[slices.IndexFunc(cfg.Channels, func(c daq.Channel) bool { return c.Name == "dut.alarms" })]; v != float64(dut.AlarmPurgeLow) {
		t.Errorf("dut.alarms %g, want 4 (purge low)", v)
	}
	var got []string
	for _, e := range d.takeEvents() {
		if e.Kind == runlog.KindDUTAlarm {
			var a runlog.DUTAlarmData
			if err := e.Decode(&a); err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("%s %s", a.Source, a.Names))
		}
		if e.Kind == runlog.KindDUTRx && strings.Contains(e.Msg, " alarms=") && !strings.Contains(e.Msg, " TLM ") && !strings.Contains(e.Msg, " alarms=00 ") {
			t.Fatalf("a STATUS reply shows the pulse: %q", e.Msg)
		}
	}
	if strings.Join(got, "|") != "TLM [purge_low]" {
		t.Errorf("dut.alarm events %q, want the TLM frame's purge_low", got)
	}
}
