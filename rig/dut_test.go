package rig

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/dut"
	"github.com/mockloop/mockloop/dut/dutsim"
	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/pumpctl"
	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/sim"
)

// runDUT runs src on the default rig, with the simulated DUT in the loop.
func runDUT(t testing.TB, cfg *Config, src string) runOut {
	t.Helper()
	return runDUTWith(t, cfg, src, Options{})
}

// runDUTWith is runDUT with run options.
func runDUTWith(t testing.TB, cfg *Config, src string, opts Options) runOut {
	t.Helper()
	if opts.Realtime && testing.Short() {
		t.Skip("-short: a run on the wall clock")
	}
	if cfg == nil {
		cfg = dutConfig(t)
	}
	p, err := protocols.Parse("test.yaml", []byte(src), cfg.Info())
	if err != nil {
		t.Fatalf("protocol: %v", err)
	}
	opts.RunsDir, opts.ProtocolSource = t.TempDir(), []byte(src)
	res, dir, err := Run(context.Background(), cfg, p, opts)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	run, err := runlog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ev, _ := run.ReadEvents()
	if run.Manifest.State != runlog.StateClosed {
		t.Errorf("record left %s", run.Manifest.State)
	}
	return runOut{res, run, ev}
}

// impella25Config is the default rig with the Impella 2.5's profile, the
// device whose every level has published flows (its IFU table).
func impella25Config(t testing.TB) *Config {
	t.Helper()
	cfg := dutConfig(t)
	if err := cfg.SetDUTProfile("impella-2.5"); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestImpellaLevelsInHeartFailure: with the heart-failure preset and the
// Impella 2.5 (--dut impella-2.5) at P2..P8, flow_dut (through the ADC)
// falls in the 2.5's IFU ranges, and raising the level unloads the
// ventricle: LV end-diastolic pressure falls and mean aortic pressure rises.
func TestImpellaLevelsInHeartFailure(t *testing.T) {
	o := runDUT(t, impella25Config(t), header+`
  - set: {loop.preset: heart_failure}
    hold: 20 s
  - name: levels
    sweep: {dut.level: [P2, P4, P6, P8]}
    steps:
      - name: settle
        hold: 20 s
      - name: measure
        hold: 20 s
        criteria:
          - {id: P2, when: dut.level == P2, measure: mean(flow_dut), between: [0.8 L/min, 1.5 L/min]}
          - {id: P4, when: dut.level == P4, measure: mean(flow_dut), between: [1.3 L/min, 1.8 L/min]}
          - {id: P6, when: dut.level == P6, measure: mean(flow_dut), between: [1.7 L/min, 2.1 L/min]}
          - {id: P8, when: dut.level == P8, measure: mean(flow_dut), between: [2.1 L/min, 2.4 L/min]}
          - {name: map, measure: mean(aop), min: 0 mmHg}
`)
	if o.res.Outcome != runlog.OutcomePass {
		for _, c := range o.res.Criteria {
			t.Logf("%s %s %v %s", c.ID, c.Step, *c.Value, c.Verdict)
		}
		t.Fatalf("outcome %s %s", o.res.Outcome, o.res.AbortReason)
	}
	col := map[string]int{}
	for i, c := range o.run.Manifest.Layout {
		col[c.Name] = i
	}
	// LVEDP per level: LV pressure at each beat's largest LV volume (end of
	// filling), averaged over the measure step of each iteration.
	var lvedp, maps []float64
	for _, s := range o.res.Steps {
		if !strings.HasPrefix(s.Name, "measure") {
			continue
		}
		start, end := time.Duration(s.StartS*float64(time.Second)), time.Duration(s.EndS*float64(time.Second))
		beat := time.Minute / 85
		var sum float64
		var n int
		var bestV, bestP float64
		w := start
		o.run.Frames(func(ts time.Duration, v []float64) error {
			if ts <= start || ts > end {
				return nil
			}
			if ts-w >= beat {
				sum, n, w, bestV = sum+bestP, n+1, ts, 0
			}
			if v[col["lv_volume"]] > bestV {
				bestV, bestP = v[col["lv_volume"]], v[col["lvp"]]
			}
			return nil
		})
		lvedp = append(lvedp, sum/float64(n))
		maps = append(maps, s.Channels["aop"].Mean)
	}
	t.Logf("P2 P4 P6 P8: LVEDP %.2f mmHg, MAP %.1f mmHg", lvedp, maps)
	if len(lvedp) != 4 || !(lvedp[3] < lvedp[0]) || !(maps[3] > maps[0]+2) {
		t.Errorf("raising the level from P2 to P8 did not unload: LVEDP %v, MAP %v", lvedp, maps)
	}
	for i := 1; i < len(maps); i++ {
		if maps[i] <= maps[i-1] {
			t.Errorf("MAP does not rise with the level: %v", maps)
		}
	}
}

// withDUT reaches the simulated DUT of the plant at a given time.
func withDUT(t *testing.T, at time.Duration, do func(srv *dutsim.Server)) **dutsim.Server {
	t.Helper()
	var srv *dutsim.Server
	orig := plantFor
	plantFor = func(cfg *Config, clk clock.Clock, cals map[string]daq.Calibration) (Plant, error) {
		pl, err := newPlant(cfg, clk, cals)
		if err != nil {
			return nil, err
		}
		srv = pl.(*busPlant).dut.srv
		return &benchProbe{Plant: pl, at: at, do: func(*sim.Bench) { do(srv) }, clk: clk}, nil
	}
	t.Cleanup(func() { plantFor = orig })
	return &srv
}

// TestDUTSilentAborts: a DUT that stops answering mid-run ends the run
// aborted with "DUT link lost" within a second, the pump commanded to its
// safe state (the silent firmware still executes what it hears), and the
// record closed.
func TestDUTSilentAborts(t *testing.T) {
	srv := withDUT(t, 5*time.Second, func(s *dutsim.Server) { s.UpdateFaults(func(f *dutsim.Faults) { f.Silent = true }) })
	o := runDUT(t, nil, header+"  - set: {dut.level: P6}\n    hold: 20 s\n")
	if o.res.Outcome != runlog.OutcomeAborted || !strings.HasPrefix(o.res.AbortReason, "DUT link lost") {
		t.Fatalf("outcome %s %q", o.res.Outcome, o.res.AbortReason)
	}
	st, _ := o.run.Frames(func(time.Duration, []float64) error { return nil })
	if lag := st.Last - 5*time.Second; lag > time.Second {
		t.Errorf("link loss noticed %v after the DUT fell silent", lag)
	}
	if m := (*srv).Firmware().State().Mode; m != dut.ModeStop {
		t.Errorf("DUT left in mode %v, want STOP (its safe command)", m)
	}
	if o.run.Manifest.DUT == nil || o.run.Manifest.DUT.Model != "dutsim-impella-cp" {
		t.Errorf("manifest DUT %+v", o.run.Manifest.DUT)
	}
}

// TestDUTExchangesSummarisedOnVirtualTime: on virtual time every command
// and its reply is in the run record, and so is a STATUS whose reply
// says something new (the first; the targets of P8 and 30,000 rpm); the
// other polls are counted, in a dut.summary at the end of every step and
// of the run, whose counts add up to what the record has. The manifest
// says the DUT was reached in process.
func TestDUTExchangesSummarisedOnVirtualTime(t *testing.T) {
	o := runDUT(t, nil, header+"  - set: {dut.level: P8}\n    hold: 2 s\n  - set: {dut.speed: 30000 rpm}\n    hold: 1 s\n")
	link := runlog.DUTLinkInProcess
	if simDUTOverPTY {
		link = runlog.DUTLinkPTY
	}
	if l := o.run.Manifest.DUTLink; l != link {
		t.Errorf("manifest dut_link %q, want %q", l, link)
	}
	var tx, rx []string
	for _, e := range o.events {
		switch e.Kind {
		case runlog.KindDUTTx:
			tx = append(tx, e.Msg)
		case runlog.KindDUTRx:
			rx = append(rx, e.Msg)
		}
	}
	joined := strings.Join(tx, "\n")
	for _, want := range []string{" HELLO ", " MODE LEVEL ", " LEVEL 8 ", " STATUS ", " MODE SPEED ", " SPEED 30000 ", " MODE STOP "} {
		if !strings.Contains(joined, want) {
			t.Errorf("no %q among the commands sent", strings.TrimSpace(want))
		}
	}
	if len(rx) != len(tx) {
		t.Errorf("%d frames sent, %d received recorded: an exchange is recorded whole or not at all", len(tx), len(rx))
	}
	if n := countStatus(tx); n < 2 || n > 8 {
		t.Errorf("%d STATUS polls recorded, want the few whose reply changed: %q", n, tx)
	}
	sums := o.eventsOf(runlog.KindDUTSummary)
	if len(sums) != 3 {
		t.Fatalf("%d dut.summary events, want one per step and one for the run", len(sums))
	}
	var steps runlog.DUTSummaryData
	steps.Exchanges = map[string]int64{}
	for i, e := range sums {
		var d runlog.DUTSummaryData
		if err := e.Decode(&d); err != nil {
			t.Fatal(err)
		}
		if want := map[bool]string{true: "run", false: "step"}[i == 2]; d.Scope != want || d.Link != link || d.Logged != runlog.DUTLoggedChanges {
			t.Errorf("summary %d: %+v", i, d)
		}
		if i == 2 {
			// The run's: the steps' 3 s of polls every 100 ms, and the
			// 3 s that confirm the safe state at the end (from 30,000
			// rpm at 10,000 rpm/s); every frame of the record, every
			// one answered.
			if n, m := d.Exchanges["STATUS"], steps.Exchanges["STATUS"]; m < 29 || m > 33 || n-m < 27 || n-m > 33 {
				t.Errorf("run: %d STATUS exchanges, the steps %d", n, steps.Exchanges["STATUS"])
			}
			var all int64
			for _, n := range d.Exchanges {
				all += n
			}
			if d.Frames != 2*all || d.FramesLogged != int64(len(tx)+len(rx)) || d.Retries != 0 || d.Errors != (runlog.DUTErrors{}) {
				t.Errorf("run: %d exchanges, %+v; the record has %d frames", all, d, len(tx)+len(rx))
			}
			if !strings.Contains(e.Msg, "no errors") || e.Step != "" {
				t.Errorf("run summary %q at step %q", e.Msg, e.Step)
			}
			continue
		}
		if e.Step != strconv.Itoa(i+1) || d.Exchanges["STATUS"] < 10 {
			t.Errorf("step %q summary: %+v", e.Step, d)
		}
		for k, n := range d.Exchanges {
			steps.Exchanges[k] += n
		}
	}
}

// TestDUTReconnect: with on_link_loss reconnect, a DUT unplugged and
// plugged back within the allowed time costs the run nothing but events.
func TestDUTReconnect(t *testing.T) {
	// On the wall clock the reconnection happens beside the loop, which
	// acquires on: waiting for it in the loop would hold it (and the LV
	// drive) until the DUT is back, 1 s. A loaded machine may hold the
	// loop for tens of milliseconds now and then, never for half of that.
	for _, realtime := range []bool{false, true} {
		t.Run(map[bool]string{false: "virtual", true: "wall"}[realtime], func(t *testing.T) {
			cfg := dutConfig(t)
			if realtime {
				forWallClock(cfg)
			}
			cfg.DUT.OnLinkLoss = "reconnect"
			withDUT(t, time.Second, func(s *dutsim.Server) {
				s.Unplug()
				go func() { time.Sleep(time.Second); s.Replug() }()
			})
			slow := timeLoop(t, 500*time.Millisecond)
			// The pump is back when the DUT reports P2's speed: waited for
			// (the time a loaded machine takes to reconnect and ramp is
			// not the product's), then held a second under criteria.
			o := runDUTWith(t, cfg, header+`  - set: {dut.level: P2}
    until:
      condition: max(dut.rpm, 100 ms) >= 24000 rpm
      timeout: 1 min
      on_timeout: abort
  - hold: 1 s
    criteria: [{measure: min(dut.rpm), min: 24000 rpm}]
`, Options{Realtime: realtime})
			if o.res.Outcome != runlog.OutcomePass {
				t.Fatalf("outcome %s %q", o.res.Outcome, o.res.AbortReason)
			}
			restored := false
			for _, e := range o.events {
				restored = restored || strings.Contains(e.Msg, "link restored")
			}
			if !restored {
				t.Error("no event records the reconnection")
			}
			if n := slow.Load(); realtime && n > 0 {
				t.Errorf("the loop was held over 500 ms %d times: it waited for the reconnection", n)
			}
		})
	}
}

// TestSafeStateOfEveryActuator: with the pump running, the heater on and the
// MAP and the preload under closed-loop control, an e-stop leaves every
// actuator at its declared safe value: LV drive stopped, resistance valve
// open, preload valve shut, heater off, DUT stopped.
func TestSafeStateOfEveryActuator(t *testing.T) {
	var plant *busPlant
	orig := plantFor
	plantFor = func(cfg *Config, clk clock.Clock, cals map[string]daq.Calibration) (Plant, error) {
		pl, err := newPlant(cfg, clk, cals)
		if err != nil {
			return nil, err
		}
		plant = pl.(*busPlant)
		return &benchProbe{Plant: pl, at: 20 * time.Second, do: func(b *sim.Bench) { b.PressEStop(true) }, clk: clk}, nil
	}
	t.Cleanup(func() { plantFor = orig })
	o := runDUT(t, nil, header+`
  - set: {loop.preset: heart_failure, dut.level: P6, loop.temperature: 39 °C}
    hold: 10 s
  - set: {loop.target.map: 70 mmHg, loop.preload: 14 mmHg}
    hold: 30 s
`)
	if o.res.Outcome != runlog.OutcomeAborted || o.res.AbortReason != "emergency stop pressed" {
		t.Fatalf("outcome %s %q", o.res.Outcome, o.res.AbortReason)
	}
	b := plant.bench
	st := b.Loop()
	if st.ActiveElastance() != 0 {
		t.Errorf("LV drive at %g mmHg/ml", st.ActiveElastance())
	}
	if r, open := st.Parameters().Rs, plant.valve.ROpen; math.Abs(r-open) > 1e-9 {
		t.Errorf("resistance valve at %g mmHg·s/ml, want its fail-safe %g (open)", r, open)
	}
	preloadOn := false
	for _, e := range o.events {
		preloadOn = preloadOn || e.Kind == runlog.KindControl && strings.HasPrefix(e.Msg, "loop.preload on")
	}
	if !preloadOn {
		t.Error("the preload was never under control: nothing to take to the safe state")
	}
	if duty, _ := b.Preload(); duty != 0 || plant.preload == nil {
		t.Errorf("preload valve at duty %g (valve %v), want its fail-safe 0 (shut)", duty, plant.preload)
	} else if v := plant.preload.Out.(*pumpctl.Valve); v.Duty() != v.SafeDuty() {
		t.Errorf("preload valve driver at duty %g, want its safe duty %g", v.Duty(), v.SafeDuty())
	}
	if b.Thermal().Heater() {
		t.Error("heater left on")
	}
	if m := plant.dut.srv.Firmware().State().Mode; m != dut.ModeStop {
		t.Errorf("DUT in mode %v", m)
	}
}

// shippedProtocols are the protocols of configs/protocols, each with the
// simulated rig and the DUT profile (empty: the rig's own) it is written
// for: the examples and the scenario library (README, "Scenario library").
// long ones (more than 10 min of run time, or endurance loops cut to an
// hour) are left out under -short: under qemu (make test-arm) they would
// take most of the 30 min a package may.
var shippedProtocols = []shippedProtocol{
	{"demo.yaml", "sim.yaml", "", false},
	{"impella-plevel-sweep.yaml", "sim.yaml", "", true},
	{"loop-characterisation.yaml", "sim-loop-only.yaml", "", false},
	{"lv-function.yaml", "sim.yaml", "", false},
	{"cardiogenic-shock-support.yaml", "sim.yaml", "", false},
	{"cardiogenic-shock-weaning.yaml", "sim.yaml", "", true},
	{"suction-recovery.yaml", "sim.yaml", "", false},
	{"protected-pci.yaml", "sim.yaml", "", true},
	{"rv-failure-rp.yaml", "sim-rp.yaml", "", false},
	{"hemopump-historical.yaml", "sim.yaml", "hemopump", false},
	{"endurance-impella-2.5.yaml", "sim.yaml", "impella-2.5", true},
	{"endurance-impella-cp.yaml", "sim.yaml", "", true},
	{"endurance-impella-5.0.yaml", "sim.yaml", "impella-5.0", true},
	{"endurance-impella-rp.yaml", "sim-rp.yaml", "", true},
}

type shippedProtocol struct {
	file, rig, dut string
	long           bool
}

// longRepeat is a shipped protocol's endurance loop: `repeat: {for: N h}`.
var longRepeat = regexp.MustCompile(`repeat: \{for: [0-9]+ h\}`)

// shippedRun runs a shipped protocol on its rig, its endurance loop (if
// any) cut to span ("": run whole).
func shippedRun(t testing.TB, file, rig, dutProfile, span string) runOut {
	t.Helper()
	cfg, err := LoadConfig("../configs/rigs/" + rig)
	if err != nil {
		t.Fatal(err)
	}
	if dutProfile != "" {
		if err := cfg.SetDUTProfile(dutProfile); err != nil {
			t.Fatal(err)
		}
	}
	src, err := os.ReadFile("../configs/protocols/" + file)
	if err != nil {
		t.Fatal(err)
	}
	if span != "" {
		src = longRepeat.ReplaceAll(src, []byte("repeat: {for: "+span+"}"))
	}
	return runDUT(t, cfg, string(src))
}

// TestShippedProtocolsRun runs every shipped protocol on the rig it is
// written for (endurance loops cut to their first hour) and expects a
// pass; every file of configs/protocols is in the table.
func TestShippedProtocolsRun(t *testing.T) {
	files, err := filepath.Glob("../configs/protocols/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !slices.ContainsFunc(shippedProtocols, func(p shippedProtocol) bool { return p.file == filepath.Base(f) }) {
			t.Errorf("%s: not in shippedProtocols (which rig does it run on?)", f)
		}
	}
	for _, p := range shippedProtocols {
		t.Run(p.file, func(t *testing.T) {
			if p.long && testing.Short() {
				t.Skip("-short: a long protocol")
			}
			o := shippedRun(t, p.file, p.rig, p.dut, "1 h")
			if o.res.Outcome != runlog.OutcomePass {
				for _, c := range o.res.Criteria {
					if !c.Pass {
						t.Logf("%s %s %s: %s %s", c.ID, c.Step, c.Measure, c.Verdict, c.Reason)
					}
				}
				t.Fatalf("%s on %s: %s %s", p.file, p.rig, o.res.Outcome, o.res.AbortReason)
			}
		})
	}
}

// BenchmarkScenarioEndurance runs each endurance protocol of the scenario library
// whole, as a CI dry run does (4 days for the 2.5 and CP, 6 for the 5.0, 14
// for the RP, on virtual time), and reports its wall time and the
// process's peak resident memory. Not part of `make test`: `go test ./rig
// -run - -bench ScenarioEndurance -benchtime 1x`.
func BenchmarkScenarioEndurance(b *testing.B) {
	for _, p := range shippedProtocols {
		if !strings.HasPrefix(p.file, "endurance-") {
			continue
		}
		b.Run(strings.TrimSuffix(p.file, ".yaml"), func(b *testing.B) {
			for range b.N {
				start := time.Now()
				o := shippedRun(b, p.file, p.rig, p.dut, "")
				if o.res.Outcome != runlog.OutcomePass {
					b.Fatalf("%s: %s %s", p.file, o.res.Outcome, o.res.AbortReason)
				}
				b.ReportMetric(time.Since(start).Seconds(), "wall-s")
				b.ReportMetric(float64(o.res.Frames)/1e6, "Mframes")
			}
			var ru syscall.Rusage
			if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
				b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MB")
			}
		})
	}
}

// loopTimer wraps the plant and times the loop's calls into it on the wall
// clock: how many took longer than slow.
type loopTimer struct {
	Plant
	slow  time.Duration
	count atomic.Int64
}

func (p *loopTimer) time(start time.Time) {
	if time.Since(start) > p.slow {
		p.count.Add(1)
	}
}

func (p *loopTimer) Read(dst []float64) (int64, error) {
	defer p.time(time.Now())
	return p.Plant.Read(dst)
}

func (p *loopTimer) Apply(param string, v protocols.Value) error {
	defer p.time(time.Now())
	return p.Plant.Apply(param, v)
}

func (p *loopTimer) Actuate(now time.Duration) error {
	defer p.time(time.Now())
	return p.Plant.Actuate(now)
}

// timeLoop times the loop's calls into the plant of the next run (after
// any probe set up before it) and counts those longer than slow.
func timeLoop(t *testing.T, slow time.Duration) *atomic.Int64 {
	t.Helper()
	lt := &loopTimer{slow: slow}
	orig := plantFor
	plantFor = func(cfg *Config, clk clock.Clock, cals map[string]daq.Calibration) (Plant, error) {
		pl, err := orig(cfg, clk, cals)
		lt.Plant = pl
		return lt, err
	}
	t.Cleanup(func() { plantFor = orig })
	return &lt.count
}

// forWallClock readies a rig config for a test run on the wall clock: the
// hard limits off, since a test machine busy with other tests may hold the
// simulated heart's drive for milliseconds, which a real heart never waits
// for.
func forWallClock(cfg *Config) *Config {
	cfg.Limits = nil
	return cfg
}

// TestDUTOnWallClockLeavesAcquisitionAlone: on the wall clock the DUT's
// exchanges do not hold up the loop. The simulated DUT answers 20 ms late
// (a slow device on a 115200-baud line takes 8 ms for a STATUS alone):
// waiting for it in the loop, each of the ten polls a second would hold
// the loop 20 ms, losing 20 conversions and holding the LV drive. The
// STATUS readings still reach the record, the level set goes out, and the
// DUT ends in its safe state.
func TestDUTOnWallClockLeavesAcquisitionAlone(t *testing.T) {
	cfg := forWallClock(dutConfig(t))
	cfg.DUT.Faults.Delay = 20 * time.Millisecond
	srv := withDUT(t, time.Hour, func(*dutsim.Server) {})
	slow := timeLoop(t, 15*time.Millisecond)
	o := runDUTWith(t, cfg, header+"  - set: {dut.level: P4}\n    hold: 2 s\n", Options{Realtime: true})
	if o.res.Outcome != runlog.OutcomePass {
		t.Fatalf("outcome %s %q", o.res.Outcome, o.res.AbortReason)
	}
	t.Logf("%d conversions lost", adcGaps(o.events))
	var sent []string
	for _, e := range o.eventsOf(runlog.KindDUTTx) {
		sent = append(sent, e.Msg)
	}
	polls := countStatus(sent)
	// Waiting for the DUT would hold the loop at every poll; a loaded
	// machine may hold it now and then, never at half of them.
	if n := slow.Load(); n > int64(polls/2) {
		t.Errorf("the loop was held over 15 ms %d times in 2 s, %d polls: it waited for the DUT", n, polls)
	}
	if polls < 12 || polls > 23 {
		t.Errorf("%d STATUS polls in 2 s, want about 20", polls)
	}
	if !strings.Contains(strings.Join(sent, "\n"), " LEVEL 4 ") {
		t.Errorf("LEVEL 4 never sent: %q", sent)
	}
	// On the wall clock every frame is recorded (the poller may add some
	// after the run's summary), and the DUT on its pty.
	sums := o.eventsOf(runlog.KindDUTSummary)
	var run runlog.DUTSummaryData
	if len(sums) == 0 || sums[len(sums)-1].Decode(&run) != nil || run.Scope != "run" {
		t.Fatalf("no run summary among %+v", sums)
	}
	if run.Logged != runlog.DUTLoggedAll || run.Link != runlog.DUTLinkPTY || run.FramesLogged != run.Frames ||
		run.Frames > int64(len(o.eventsOf(runlog.KindDUTTx))+len(o.eventsOf(runlog.KindDUTRx))) || o.run.Manifest.DUTLink != runlog.DUTLinkPTY {
		t.Errorf("run summary %+v; manifest dut_link %q", run, o.run.Manifest.DUTLink)
	}
	rpm := -1.0
	col := slices.IndexFunc(o.run.Manifest.Layout, func(c runlog.Channel) bool { return c.Name == "dut.rpm" })
	o.run.Frames(func(_ time.Duration, f []float64) error { rpm = f[col]; return nil })
	if rpm < 10000 {
		t.Errorf("dut.rpm %g at the end: the STATUS readings did not reach the record", rpm)
	}
	if m := (*srv).Firmware().State().Mode; m != dut.ModeStop {
		t.Errorf("DUT left in mode %v, want STOP (its safe command)", m)
	}
}

// TestDUTSilentOnWallClockAborts: on the wall clock a DUT falling silent
// still ends the run "DUT link lost" within its retries — noticed by the
// link's own goroutine while the loop acquires on — with the STOP sent.
func TestDUTSilentOnWallClockAborts(t *testing.T) {
	srv := withDUT(t, time.Second, func(s *dutsim.Server) { s.UpdateFaults(func(f *dutsim.Faults) { f.Silent = true }) })
	o := runDUTWith(t, forWallClock(dutConfig(t)), header+"  - set: {dut.level: P6}\n    hold: 10 s\n", Options{Realtime: true})
	if o.res.Outcome != runlog.OutcomeAborted || !strings.HasPrefix(o.res.AbortReason, "DUT link lost") {
		t.Fatalf("outcome %s %q", o.res.Outcome, o.res.AbortReason)
	}
	st, _ := o.run.Frames(func(time.Duration, []float64) error { return nil })
	// Silent at 1 s; a STATUS goes unanswered three times (simReplyTimeout
	// each for the simulated DUT), and a fourth timeout is margin.
	if st.Last > time.Second+4*simReplyTimeout {
		t.Errorf("link loss noticed only at %v; the DUT fell silent at 1 s", st.Last)
	}
	if m := (*srv).Firmware().State().Mode; m != dut.ModeStop {
		t.Errorf("DUT left in mode %v, want STOP (its safe command)", m)
	}
}

// countStatus counts the STATUS polls among the frames sent before the
// run's last MODE STOP: the polls of the run, not those that confirm its
// safe state.
func countStatus(sent []string) int {
	end := len(sent)
	for i, l := range sent {
		if strings.Contains(l, " MODE STOP ") {
			end = i
		}
	}
	n := 0
	for _, l := range sent[:end] {
		if strings.Contains(l, " STATUS ") {
			n++
		}
	}
	return n
}

// adcGaps is the number of conversions the fast ADC lost in a run, from its
// last acquisition event.
func adcGaps(events []runlog.Event) int {
	gaps := 0
	for _, e := range events {
		var a runlog.AcquisitionData
		if e.Kind == runlog.KindAcquisition && e.Decode(&a) == nil {
			gaps = int(a.ADC.Gaps)
		}
	}
	return gaps
}
