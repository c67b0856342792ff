package runlog

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/internal/frametest"
)

const testRunID = "20261120T231502Z-7f3a9c"

var testEpoch = time.Date(2026, 11, 20, 23, 15, 2, 123456789, time.UTC)

var testLayout = []Channel{
	{Name: "lvp", Unit: "mmHg"},
	{Name: "aop", Unit: "mmHg"},
	{Name: "lap", Unit: "mmHg"},
	{Name: "q_ao", Unit: "L/min"},
	{Name: "q_dut", Unit: "L/min"},
	{Name: "temp", Unit: "°C"},
	{Name: "dut.rpm", Unit: "rpm"},
	{Name: "dut.current", Unit: "mA"},
}

const (
	testProtocol = "name: hemodynamic baseline\nsteps:\n  - hold: {aop: 80 mmHg, for: 30 s}\n"
	testRig      = "name: sim\nsample_rate: 1 kHz\n"
)

// testManifest is a complete manifest with fixed values, for goldens.
func testManifest(id string) Manifest {
	return Manifest{
		RunID:           id,
		Rig:             "sim",
		RigMode:         RigModeNumerical,
		Protocol:        ProtocolRef{Name: "hemodynamic baseline", File: "configs/protocols/baseline.yaml"},
		SoftwareVersion: "v0.1.0-test",
		DUT:             &DUTIdentity{Model: "VAD-5", Serial: "SN0042", FW: "2.3.1"},
		Calibration: []Calibration{
			{Channel: "aop", Method: "two-point", Date: "2026-11-02", Due: "2027-05-02", Reference: "Fluke 700G05 #1234",
				Fields: map[string]any{"gain": 18.75, "offset": -0.5}},
		},
		Operator:     "ci",
		Started:      testEpoch,
		Layout:       testLayout,
		SampleRateHz: 1000,
		Clock:        ClockVirtual,
		Epoch:        testEpoch,
	}
}

// create makes a record of a test run in a new temporary runs directory,
// with a virtual flush clock the test drives.
func create(t testing.TB, id string) (*Record, *clock.Virtual) {
	t.Helper()
	fc := clock.NewVirtual(testEpoch)
	r, err := Create(t.TempDir(), testManifest(id), []byte(testProtocol), []byte(testRig), fc)
	if err != nil {
		t.Fatal(err)
	}
	r.recFrames = 10 // a record a block, as the tests count them
	return r, fc
}

// The frames of the tests, as the record's and the sink's tests make them.
var (
	testValue = frametest.Value
	frameTime = frametest.Time
	fillBlock = frametest.Fill
)

// frame is one frame as read back.
type frame struct {
	t time.Duration
	v []float64
}

// readFrames reads all frames of the run in dir with a fresh reader.
func readFrames(t testing.TB, dir string) ([]frame, FrameStats) {
	t.Helper()
	run, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var fs []frame
	st, err := run.Frames(func(ts time.Duration, v []float64) error {
		fs = append(fs, frame{ts, append([]float64(nil), v...)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Frames != int64(len(fs)) {
		t.Fatalf("stats say %d frames, fn got %d", st.Frames, len(fs))
	}
	return fs, st
}

// readEvents reads the events of the run in dir with a fresh reader.
func readEvents(t testing.TB, dir string) []Event {
	t.Helper()
	run, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := run.ReadEvents()
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// checkFrames checks that got are frames 0..len(got) as fillBlock made them:
// timestamps exact, values equal to their float32 rounding.
func checkFrames(t testing.TB, got []frame) {
	t.Helper()
	for i, f := range got {
		if f.t != frameTime(i) {
			t.Fatalf("frame %d: t = %v, want %v", i, f.t, frameTime(i))
		}
		for j, v := range f.v {
			if want := float64(float32(testValue(i, j))); v != want {
				t.Fatalf("frame %d channel %d: %v, want %v", i, j, v, want)
			}
		}
	}
}

// crash abandons r as a killed process would: what was written reaches the
// files, the lock is released, nothing is closed properly.
func crash(t testing.TB, r *Record) {
	t.Helper()
	if err := r.codePendingLocked(); err != nil {
		t.Fatal(err)
	}
	if err := r.segW.Flush(); err != nil {
		t.Fatal(err)
	}
	r.abandon()
	r.closed = true
}

// segmentPaths returns the paths of the run's segments in order.
func segmentPaths(t testing.TB, dir string) []string {
	t.Helper()
	names, err := segmentFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range names {
		names[i] = filepath.Join(dir, framesDir, n)
	}
	return names
}

func fileSize(t testing.TB, name string) int64 {
	t.Helper()
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
