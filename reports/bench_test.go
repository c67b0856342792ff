//go:build linux

package reports

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/internal/benchtest"
	"github.com/mockloop/mockloop/runlog"
)

// TestMain runs the tests with a bench lock directory of their own
// (benchtest) and removes the 24-hour run record a benchmark made, once
// every test and benchmark of the package is done.
func TestMain(m *testing.M) {
	code := benchtest.Run(m)
	if long.root != "" {
		os.RemoveAll(long.root)
	}
	os.Exit(code)
}

// long is the 24-hour run record of BenchmarkReport24h, made at most once
// per test binary.
var long struct {
	once sync.Once
	root string // temporary directory holding the runs directory
	dir  string // the run's directory
	gen  time.Duration
	err  error
}

// Size of the 24-hour record: 86.4 million frames of 10 channels at 1 kHz
// in 10-frame blocks, as the engine writes them: about 3.3 GB.
const (
	longRate  = 1000.0
	longHours = 24
	needBytes = 8 << 30 // free space the benchmark wants before it writes
)

// BenchmarkReport24h times the end-of-run reports (HTML, PDF, JUnit) of a
// 24-hour run at 1 kHz: a synthetic but realistic record, generated once
// through runlog (frames, 1.7 million DUT events, beats, step results),
// in a temporary directory deleted at the end. It reports the peak Go heap
// during generation of the reports (sampled every 10 ms) and the process's
// maximum RSS. "warm" reads the frames from the page cache; "cold" evicts
// them first (posix_fadvise), as at the end of a real run on a Pi whose
// memory does not hold 3.3 GB. The reports are kept in the directory
// $MOCKLOOP_BENCH_OUT if it is set. Run it with
//
//	go test ./reports -run '^$' -bench Report24h -benchtime 1x -timeout 30m
func BenchmarkReport24h(b *testing.B) {
	long.once.Do(func() { long.gen, long.err = makeLongRun() })
	if long.err != nil {
		b.Skip(long.err)
	}
	b.Logf("24 h record: %s, generated in %s", long.dir, long.gen.Round(time.Second))
	for _, cold := range []bool{false, true} {
		name := "warm"
		if cold {
			name = "cold"
		}
		b.Run(name, func(b *testing.B) {
			out := b.TempDir()
			if keep := os.Getenv("MOCKLOOP_BENCH_OUT"); keep != "" { // to look at the reports
				out = filepath.Join(keep, name)
			}
			var peak uint64
			for b.Loop() {
				if cold {
					b.StopTimer()
					if err := evict(long.dir); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				runtime.GC()
				stop := sampleHeap(&peak)
				_, err := Generate(long.dir, Options{OutDir: out})
				stop()
				if err != nil {
					b.Fatal(err)
				}
			}
			var ru syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
			b.ReportMetric(float64(ru.Maxrss)/1024, "maxrss-MB")
			b.ReportMetric(86.4e6*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mframes/s")
			for _, f := range []string{HTMLFile, PDFFile, JUnitFile} {
				if fi, err := os.Stat(filepath.Join(out, f)); err == nil {
					b.ReportMetric(float64(fi.Size())/(1<<20), f+"-MB")
				}
			}
		})
	}
}

// sampleHeap records the peak of the Go heap in use into *peak until stop
// is called.
func sampleHeap(peak *uint64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			*peak = max(*peak, ms.HeapInuse)
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// evict drops the run's frame segments from the page cache.
func evict(dir string) error {
	segs, err := filepath.Glob(filepath.Join(dir, "frames", "*.seg"))
	if err != nil {
		return err
	}
	for _, s := range segs {
		f, err := os.Open(s)
		if err != nil {
			return err
		}
		err = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// makeLongRun writes the 24-hour record into a new temporary directory,
// after checking that there is room for it.
func makeLongRun() (time.Duration, error) {
	root, err := os.MkdirTemp("", "mockloop-report24h-")
	if err != nil {
		return 0, err
	}
	long.root = root
	var st syscall.Statfs_t
	if err := syscall.Statfs(root, &st); err != nil {
		return 0, err
	}
	if free := st.Bavail * uint64(st.Bsize); free < needBytes {
		return 0, fmt.Errorf("%.1f GB free in %s, the 24 h record needs 8 GB", float64(free)/(1<<30), root)
	}
	start := time.Now()
	dir, err := writeLongRun(filepath.Join(root, "runs"))
	long.dir = dir
	return time.Since(start), err
}

// writeLongRun writes an endurance run: 30 min baseline, 23 h of 10-minute
// holds alternating between a healthy loop and heart failure at P8, 30 min
// with the pump stopped; DUT polled at 10 Hz; an acquisition warning every
// hour; criteria on every hold.
func writeLongRun(runsDir string) (string, error) {
	epoch := time.Date(2026, 11, 20, 20, 0, 0, 0, time.UTC)
	m := runlog.Manifest{
		RunID: "20261120T200000Z-0024aa", Rig: "sim", SoftwareVersion: "bench",
		Protocol: runlog.ProtocolRef{Name: "endurance-24h", File: "endurance-24h.yaml", Requirements: []runlog.Requirement{
			{ID: "END-1", Text: "Pump speed within 500 rpm (std) in every hold"},
			{ID: "END-2", Text: "Pump flow ≥ 1 L/min in every hold"},
		}},
		DUT: &runlog.DUTIdentity{Model: "dutsim-impella", Serial: "SIM-24H", FW: "1.0.0"}, Operator: "ci",
		Layout: synthLayout, SampleRateHz: longRate, Clock: runlog.ClockVirtual, Epoch: epoch,
	}
	rec, err := runlog.Create(runsDir, m, []byte("protocol: 1\nname: endurance-24h\n"), []byte("rig: sim\n"), clock.NewReal())
	if err != nil {
		return "", err
	}
	nz := noise(12345)
	var res runlog.Result
	var evs []runlog.Event
	ev := func(e runlog.Event) { evs = append(evs, e) }
	stats := func(acc []moments) map[string]runlog.ChannelStats {
		out := map[string]runlog.ChannelStats{}
		for j, c := range synthLayout {
			out[c.Name] = acc[j].channelStats(c.Unit)
		}
		return out
	}
	step := func(path, name string, st loopState, from, to float64, parent []moments) error {
		ev(runlog.Event{T: from, Kind: runlog.KindStepStart, Step: path, Msg: name})
		ev(runlog.Event{T: from, Kind: runlog.KindSetpoint, Step: path, Msg: fmt.Sprintf("loop.heart_rate = %g bpm", st.HR)})
		acc := make([]moments, len(synthLayout))
		n, err := synthStep(rec, st, longRate, secs2d(from), secs2d(to), 10, &nz, acc)
		if err != nil {
			return err
		}
		for j := range acc {
			if parent != nil {
				parent[j].merge(acc[j])
			}
		}
		rpm, flow := acc[5].std(), acc[4].mean
		for _, c := range []runlog.CriterionResult{
			{ID: "END-1", Step: path, StepName: name, Measure: "std(dut.rpm)", Value: f64(rpm), Unit: "rpm", Limits: "≤ 500 rpm", Hi: f64(500), Verdict: runlog.VerdictPass, Pass: true, OnFail: "fail"},
			{ID: "END-2", Step: path, StepName: name, Measure: "mean(flow_dut)", Value: f64(flow), Unit: "L/min", Limits: "≥ 1 L/min", Lo: f64(1), Verdict: runlog.VerdictPass, Pass: true, OnFail: "fail"},
		} {
			if flow < 1 && c.ID == "END-2" {
				c.Verdict, c.Pass = runlog.VerdictFail, false
			}
			res.Criteria = append(res.Criteria, c)
			ev(runlog.Event{T: to, Kind: runlog.KindCriterion, Step: path, Msg: c.ID + ": " + string(c.Verdict)})
		}
		res.Steps = append(res.Steps, runlog.StepResult{Index: len(res.Steps), Path: path, Name: name, StartS: from, EndS: to, Frames: n,
			Outcome: runlog.OutcomePass, Channels: stats(acc)})
		ev(runlog.Event{T: to, Kind: runlog.KindStepEnd, Step: path, Msg: "pass"})
		return nil
	}
	const h = 3600.0
	if err := step("1", "baseline", healthy, 0, h/2, nil); err != nil {
		return "", err
	}
	parent := make([]moments, len(synthLayout))
	ev(runlog.Event{T: h / 2, Kind: runlog.KindStepStart, Step: "2", Msg: "endurance"})
	for k, t := 0, h/2; t < (longHours-0.5)*h; k, t = k+1, t+600 {
		st := healthy
		if k%2 == 1 {
			st = failing
		}
		if err := step("2.1", "hold", st, t, t+600, parent); err != nil {
			return "", err
		}
	}
	res.Steps = append(res.Steps, runlog.StepResult{Index: len(res.Steps), Path: "2", Name: "endurance", StartS: h / 2, EndS: (longHours - 0.5) * h,
		Outcome: runlog.OutcomePass, Channels: stats(parent)})
	ev(runlog.Event{T: (longHours - 0.5) * h, Kind: runlog.KindStepEnd, Step: "2", Msg: "pass"})
	if err := step("3", "stop", loopState{HR: 75, SV: 60, R: 1, RPM: 0, DUTFlow: -0.5}, (longHours-0.5)*h, longHours*h, nil); err != nil {
		return "", err
	}
	for t := h; t < longHours*h; t += h {
		ev(runlog.Event{T: t, Kind: runlog.KindAcquisition, Msg: "ADC bad frames: 1 (CRC 1, missed data-ready 0, gaps 0, stuck 0)"})
	}
	// Events in time order; the DUT traffic (10 Hz) is merged in as it is
	// made rather than held: 1.7 million events.
	slices.SortStableFunc(evs, func(a, b runlog.Event) int { return cmp.Compare(a.T, b.T) })
	next := 0
	for i := 0; float64(i)/10 < longHours*h; i++ {
		t := float64(i) / 10
		for ; next < len(evs) && evs[next].T <= t; next++ {
			if err := rec.Event(evs[next]); err != nil {
				return "", err
			}
		}
		if err := rec.Event(runlog.Event{T: t, Kind: runlog.KindDUTTx, Msg: fmt.Sprintf("%d STATUS *1F2E", i+1)}); err != nil {
			return "", err
		}
		if err := rec.Event(runlog.Event{T: t + 0.000005, Kind: runlog.KindDUTRx, Msg: fmt.Sprintf("%d OK rpm=35000 current=300 alarms=0 *A1B2", i+1)}); err != nil {
			return "", err
		}
	}
	for _, e := range evs[next:] {
		if err := rec.Event(e); err != nil {
			return "", err
		}
	}
	res.Outcome, res.DurationS = runlog.OutcomePass, longHours*h
	for _, c := range res.Criteria {
		if c.Verdict == runlog.VerdictFail {
			res.Outcome = runlog.OutcomeFail
		}
	}
	return rec.Dir(), rec.Close(res)
}
