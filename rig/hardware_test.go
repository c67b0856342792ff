package rig

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/sim"
)

// TestSimaanThroughADCPath: the published normal heart, measured the way a
// bench measures it — transducers, ADS131M08 emulator, driver, calibration —
// within 3 % of Simaan et al. 2009.
func TestSimaanThroughADCPath(t *testing.T) {
	o := runSrc(t, context.Background(), header+"  - set: {loop.preset: healthy}\n    hold: 40 s\n")
	col := map[string]int{}
	for i, c := range o.run.Manifest.Layout {
		col[c.Name] = i
	}
	// The last 10 beats (8 s at 75 bpm): each 0.8 s window holds exactly one
	// cycle, so its max and min are that beat's systolic and diastolic.
	const beat = 800 * time.Millisecond
	start := 32 * time.Second
	var sys, dia, aopSum, flowSum float64
	var n int
	lo, hi := math.Inf(1), math.Inf(-1)
	w := 0
	_, err := o.run.Frames(func(ts time.Duration, v []float64) error {
		if ts <= start || ts > start+10*beat {
			return nil
		}
		if k := int((ts - start - 1) / beat); k != w {
			sys, dia, w = sys+hi, dia+lo, k
			lo, hi = math.Inf(1), math.Inf(-1)
		}
		a := v[col["aop"]]
		lo, hi = min(lo, a), max(hi, a)
		aopSum += a
		flowSum += v[col["flow_ao"]]
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sys, dia = (sys+hi)/10, (dia+lo)/10
	mapP, co := aopSum/float64(n), flowSum/float64(n)
	sv := co / 75 * 1000
	t.Logf("through the ADC: %.1f/%.1f mmHg, MAP %.1f mmHg, CO %.3f L/min, SV %.1f ml", sys, dia, mapP, co, sv)
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"systolic", sys, 117}, {"diastolic", dia, 77}, {"MAP", mapP, 99}, {"CO", co, 5.21}, {"SV", sv, 69.5}} {
		if math.Abs(c.got-c.want) > 0.03*c.want {
			t.Errorf("%s %.2f, published %.2f: more than 3 %% off", c.name, c.got, c.want)
		}
	}
}

// benchProbe injects faults into the emulated bench at given times.
type benchProbe struct {
	Plant
	at   time.Duration
	once bool
	do   func(b *sim.Bench)
	clk  clock.Clock
}

func (p *benchProbe) Read(dst []float64) (int64, error) {
	if !p.once && p.clk.Now() >= p.at {
		p.once = true
		p.do(p.Plant.(*busPlant).bench)
	}
	return p.Plant.Read(dst)
}

func withBench(t *testing.T, at time.Duration, do func(b *sim.Bench)) {
	t.Helper()
	orig := plantFor
	plantFor = func(cfg *Config, clk clock.Clock, cals map[string]daq.Calibration) (Plant, error) {
		pl, err := newPlant(cfg, clk, cals)
		return &benchProbe{Plant: pl, at: at, do: do, clk: clk}, err
	}
	t.Cleanup(func() { plantFor = orig })
}

// TestBadFramesCountedNotFatal: CRC errors, missed data-ready and a stuck
// channel are counted, surfaced as events, left out of the record, and the
// run goes on.
func TestBadFramesCountedNotFatal(t *testing.T) {
	withBench(t, 2*time.Second, func(b *sim.Bench) {
		b.ADC().CorruptCRC(3)
		b.ADC().SuppressDRDY(2)
	})
	o := runSrc(t, context.Background(), header+"  - hold: 5 s\n")
	if o.res.Outcome != runlog.OutcomePass {
		t.Fatalf("outcome %s: %s", o.res.Outcome, o.res.AbortReason)
	}
	if lost := 5000 - o.res.Frames; lost < 3 || lost > 8 {
		t.Errorf("%d frames recorded; the bad ones (3 CRC, 2 missed data-ready) should be missing, got %d missing", o.res.Frames, lost)
	}
	acq := o.eventsOf(runlog.KindAcquisition)
	if len(acq) == 0 {
		t.Fatal("no acquisition event")
	}
	last := acq[len(acq)-1].Msg
	for _, want := range []string{"CRC 3", "missed data-ready"} {
		if !strings.Contains(last, want) {
			t.Errorf("last acquisition event %q lacks %q", last, want)
		}
	}
}

func TestAcquisitionStallTrips(t *testing.T) {
	withBench(t, time.Second, func(b *sim.Bench) { b.ADC().SuppressDRDY(1000) })
	o := runSrc(t, context.Background(), header+"  - hold: 5 s\n")
	if o.res.Outcome != runlog.OutcomeAborted || !strings.Contains(o.res.AbortReason, "acquisition stalled") {
		t.Errorf("outcome %s %q", o.res.Outcome, o.res.AbortReason)
	}
	if o.res.Frames > 1100 {
		t.Errorf("%d frames: the stall was not caught within 50 ms", o.res.Frames)
	}
}

func TestEmergencyStopButtonIsADeviationInTheAuditTrail(t *testing.T) {
	var bench *sim.Bench
	withBench(t, 3*time.Second, func(b *sim.Bench) { bench = b; b.PressEStop(true) })
	o := runSrc(t, context.Background(), header+"  - hold: 10 s\n")
	if o.res.Outcome != runlog.OutcomeAborted || o.res.AbortReason != "emergency stop pressed" {
		t.Fatalf("outcome %s %q", o.res.Outcome, o.res.AbortReason)
	}
	// The frame taken when the button went down is the last one.
	st, _ := o.run.Frames(func(time.Duration, []float64) error { return nil })
	if st.Last < 3*time.Second || st.Last > 3*time.Second+time.Millisecond {
		t.Errorf("last frame at %v: the e-stop pressed at 3 s was not acted on within one sample", st.Last)
	}
	if a := bench.Loop().ActiveElastance(); a != 0 {
		t.Errorf("LV drive still at %g mmHg/ml after the e-stop", a)
	}
	// The button is a person's action: a deviation in the audit trail.
	trail := runlog.AuditTrail(o.eventsOf(runlog.KindOperator))
	if n := len(trail); n == 0 || trail[n-1].Action != runlog.ActionEStop || trail[n-1].By != "e-stop button" || trail[n-1].Via != "button" || !trail[n-1].Deviation {
		t.Errorf("audit trail after the e-stop button: %+v", trail)
	}
}

// TestTenKilohertz runs the ADS131M08 path at 10 kSPS (CLKIN 5.12 MHz).
func TestTenKilohertz(t *testing.T) {
	src, _ := os.ReadFile("../configs/rigs/sim.yaml")
	s := strings.Replace(string(src), "sample_rate: 1 kHz", "sample_rate: 10 kHz", 1)
	s = strings.Replace(s, "adc: {spi: SPI0.0, drdy: GPIO25, gain: 1}", "adc: {spi: SPI0.0, drdy: GPIO25, gain: 1, clkin: 5120 kHz}", 1)
	cfg, err := ParseConfig(filepath.Join(t.TempDir(), "sim10k.yaml"), []byte(s))
	if err != nil {
		t.Fatal(err)
	}
	p, err := protocols.Parse("t.yaml", []byte(header+"  - hold: 2 s\n    criteria: [{measure: mean(aop), between: [80 mmHg, 120 mmHg]}]\n"), cfg.Info())
	if err != nil {
		t.Fatal(err)
	}
	res, dir, err := Run(context.Background(), cfg, p, Options{RunsDir: t.TempDir()})
	if err != nil || res.Outcome != runlog.OutcomePass || res.Frames != 20_000 {
		t.Fatalf("10 kHz run: %v %+v", err, res)
	}
	r, _ := runlog.Open(dir)
	var prev time.Duration
	bad := 0
	r.Frames(func(ts time.Duration, _ []float64) error {
		if prev != 0 && ts-prev != 100*time.Microsecond {
			bad++
		}
		prev = ts
		return nil
	})
	if bad != 0 || r.Manifest.SampleRateHz != 10000 {
		t.Errorf("%d frames not 100 µs apart; manifest rate %g", bad, r.Manifest.SampleRateHz)
	}
}

// tempRig copies the sim rig config into a temporary directory, with the
// given calibration records (on the inputs their channels are on).
func tempRig(t *testing.T, recs []CalRecord) *Config {
	t.Helper()
	dir := t.TempDir()
	src, _ := os.ReadFile("../configs/rigs/sim.yaml")
	path := filepath.Join(dir, "sim.yaml")
	os.WriteFile(path, src, 0o644)
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if recs != nil {
		for i := range recs {
			recs[i].Input = cfg.inputID(recs[i].Channel)
		}
		data, _ := json.Marshal(Calibrations{Rig: "sim", Records: recs})
		os.WriteFile(filepath.Join(dir, "sim.calibration.json"), data, 0o644)
	}
	return cfg
}

func TestOverdueCalibrationRefusedUnlessAllowedWithAReason(t *testing.T) {
	past := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := tempRig(t, []CalRecord{{Channel: "aop", Method: "two-point", Date: past.AddDate(-1, 0, 0), Due: &past,
		Reference: "Fluke 700G #1", Points: []daq.Point{{Volts: 0, Value: 2}}, Coeffs: []float64{2, 250}}})
	p, _ := protocols.Parse("t.yaml", []byte(header+"  - hold: 1 s\n"), cfg.Info())
	runs := t.TempDir()
	_, _, err := Run(context.Background(), cfg, p, Options{RunsDir: runs})
	if err == nil || !strings.Contains(err.Error(), "calibration overdue: [aop (due 2020-01-01)]") {
		t.Fatalf("overdue calibration: %v", err)
	}
	if list, _ := runlog.List(runs); len(list) != 0 {
		t.Fatal("a refused run created a record")
	}
	if _, _, err := Run(context.Background(), cfg, p, Options{RunsDir: runs, AllowOverdue: true}); !errors.Is(err, ErrNoReason) {
		t.Fatalf("--allow-overdue without a reason: %v, want ErrNoReason", err)
	}
	res, dir, err := Run(context.Background(), cfg, p, Options{RunsDir: runs, AllowOverdue: true,
		Operator: "A. Tester", Via: "cli", Reason: "reference gauge away for recertification"})
	if err != nil || res.Outcome != runlog.OutcomePass {
		t.Fatalf("--allow-overdue: %v %+v", err, res)
	}
	r, _ := runlog.Open(dir)
	var aop runlog.Calibration
	for _, c := range r.Manifest.Calibration {
		if c.Channel == "aop" {
			aop = c
		}
	}
	if aop.Method != "two-point" || aop.Fields["overdue"] != true || aop.Due != "2020-01-01T00:00:00Z" || aop.Reference != "Fluke 700G #1" {
		t.Errorf("manifest calibration of aop: %+v", aop)
	}
	ev, _ := r.ReadEvents()
	found := false
	for _, e := range ev {
		var d runlog.OperatorData
		_ = e.Decode(&d)
		found = found || strings.Contains(e.Msg, "calibration of aop overdue") && d.Action == runlog.ActionAllowOverdue &&
			d.Deviation && d.By == "A. Tester" && d.Reason == "reference gauge away for recertification"
	}
	if !found {
		t.Errorf("the overdue run has no deviation event saying so, by whom and why: %+v", ev)
	}
}

// TestZeroAndCalibrateRecoverTheTransducer: zeroing removes the simulated
// sensor's offset; a two-point calibration against presented references
// recovers its sensitivity; a run then uses the new records.
func TestZeroAndCalibrateRecoverTheTransducer(t *testing.T) {
	cfg := tempRig(t, nil) // no records: nominal calibrations, offsets uncorrected
	s, err := OpenCalibration(cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, ch := range []string{"lvp", "aop"} {
		s.Present(ch, 0)
	}
	recs, removed, err := s.Zero(context.Background(), []string{"lvp", "aop"}, 2*time.Second, "test")
	if err != nil {
		t.Fatal(err)
	}
	// sim.yaml: lvp reads +1.5 mmHg, aop −2 mmHg too high at zero
	if math.Abs(removed[0]-1.5) > 0.02 || math.Abs(removed[1]+2) > 0.02 {
		t.Errorf("zero removed %v, want about [1.5 -2]", removed)
	}
	if recs[1].Method != "zero" || math.Abs(recs[1].Coeffs[0]-2) > 0.02 || recs[1].Coeffs[1] != 250 {
		t.Errorf("aop zero record %+v", recs[1])
	}
	pts, cal, err := s.Calibrate(context.Background(), "aop", []float64{0, 100, 200}, time.Second, 2*time.Second, func(v float64) error { return s.Present("aop", v) })
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 3 || math.Abs(cal.Apply(pts[2].Volts)-200) > 0.05 || math.Abs(cal.Apply(pts[0].Volts)) > 0.05 {
		t.Errorf("calibration %v from %+v", cal.Coeffs, pts)
	}
	due := s.Now().AddDate(0, 6, 0)
	var points []daq.Point
	for _, p := range pts {
		points = append(points, daq.Point{Volts: p.Volts, Value: p.Value})
	}
	if err := cfg.SaveCalibrations(append(recs, CalRecord{Channel: "aop", Method: "multi-point", Date: s.Now().Add(time.Second), Due: &due,
		Reference: "test", Points: points, Coeffs: cal.Coeffs})...); err != nil {
		t.Fatal(err)
	}
	file, err := cfg.LoadCalibrations()
	if err != nil || len(file.Records) != 3 || file.InForce()["aop"].Method != "multi-point" || file.InForce()["lvp"].Method != "zero" {
		t.Fatalf("saved calibrations: %v %+v", err, file)
	}
}

// BenchmarkAcquisition is the acquisition path of one frame: ADS131M08
// driver and emulator (with transducers and physics), slow ADC, calibration,
// and the frame into a block.
func BenchmarkAcquisition(b *testing.B) {
	cfg := simConfig(b)
	clk := clock.NewVirtual(time.Now())
	file, _ := cfg.LoadCalibrations()
	cals, _, _ := cfg.channelCalibrations(file, clk.Epoch(), true)
	pl, err := newPlant(cfg, clk, cals)
	if err != nil {
		b.Fatal(err)
	}
	defer pl.Close()
	block := daq.NewBlock(len(pl.Layout()), 10)
	next := clk.Now()
	b.ReportAllocs()
	for b.Loop() {
		next += time.Millisecond
		clk.SleepUntil(context.Background(), next)
		if block.Full() {
			block.Reset()
		}
		if _, err := pl.Read(block.Append(next)); err != nil {
			b.Fatal(err)
		}
	}
}

// TestStuckSensorTrips: a sensor frozen at one reading (a broken
// transducer) trips the supervisor after a second.
func TestStuckSensorTrips(t *testing.T) {
	withBench(t, 2*time.Second, func(b *sim.Bench) {
		if err := b.ADC().Freeze(2); err != nil { // lap
			t.Error(err)
		}
	})
	o := runSrc(t, context.Background(), header+"  - hold: 10 s\n")
	if o.res.Outcome != runlog.OutcomeAborted || !strings.Contains(o.res.AbortReason, "sensor lap stuck") {
		t.Fatalf("outcome %s %q", o.res.Outcome, o.res.AbortReason)
	}
	st, _ := o.run.Frames(func(time.Duration, []float64) error { return nil })
	if st.Last < 3*time.Second || st.Last > 3*time.Second+20*time.Millisecond {
		t.Errorf("tripped at %v; the sensor froze at 2 s and is implausible after 1 s", st.Last)
	}
}
