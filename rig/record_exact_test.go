package rig

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/runlog"
)

// frameTap keeps every frame the engine produced, and the manifest (with
// the column coding) the run started with.
type frameTap struct {
	m      runlog.Manifest
	times  []time.Duration
	values []float64
}

func (f *frameTap) RunStarted(ri RunInfo) { f.m = ri.Manifest }
func (f *frameTap) Beat(runlog.Beat)      {}
func (f *frameTap) Event(runlog.Event)    {}
func (f *frameTap) Frame(t time.Duration, v []float64) {
	f.times = append(f.times, t)
	f.values = append(f.values, v...)
}

// segmentBytes is the size of the run's frame segments.
func segmentBytes(t *testing.T, dir string) int64 {
	t.Helper()
	segs, err := filepath.Glob(filepath.Join(dir, "frames", "*.seg"))
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, s := range segs {
		fi, err := os.Stat(s)
		if err != nil {
			t.Fatal(err)
		}
		n += fi.Size()
	}
	return n
}

// The default rig's record holds exactly what the engine had: every value
// of every frame of the demo (160 s, 19 columns) reads back with the same
// 64 bits, but the simulation truth, which is float32 as before; every
// ADC column's value is its converter's code through the calibration. The
// bytes per frame are measured and extrapolated to 24 h.
func TestRecordHoldsWhatTheADCProduced(t *testing.T) {
	if testing.Short() {
		t.Skip("a 160 s run of the default rig")
	}
	cfg := dutConfig(t)
	src, err := os.ReadFile("../configs/protocols/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := protocols.Parse("demo.yaml", src, cfg.Info())
	if err != nil {
		t.Fatal(err)
	}
	tap := &frameTap{}
	_, dir, err := Run(context.Background(), cfg, p, Options{RunsDir: t.TempDir(), ProtocolFile: "demo.yaml", ProtocolSource: src, Version: "test", Observer: tap})
	if err != nil {
		t.Fatal(err)
	}
	run, err := runlog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	w := len(run.Manifest.Layout)
	coding := tap.m.Coding
	if len(coding) != w {
		t.Fatalf("%d column codings for %d channels", len(coding), w)
	}
	kinds := map[string]int{}
	for _, c := range coding {
		kinds[c.Kind]++
	}
	if kinds[runlog.CodingADC] != 8 || kinds[runlog.CodingF32] != 2 {
		t.Fatalf("codings %v: want the 8 ADC inputs by code and the 2 truth columns as float32", kinds)
	}
	i := 0
	st, err := run.Frames(func(ts time.Duration, v []float64) error {
		if i >= len(tap.times) {
			t.Fatalf("more frames read than the engine produced")
		}
		if ts != tap.times[i] {
			t.Fatalf("frame %d: t = %v, engine %v", i, ts, tap.times[i])
		}
		for j, got := range v {
			checkValue(t, i, run.Manifest.Layout[j].Name, coding[j], tap.values[i*w+j], got)
		}
		i++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if i != len(tap.times) || !st.Intact() {
		t.Fatalf("read %d frames of %d, damage %v", i, len(tap.times), st.Damaged)
	}
	n := float64(len(tap.times))
	perFrame := float64(segmentBytes(t, dir)) / n
	t.Logf("record: %.2f B/frame over %d frames in %d records (%.0f frames a record); 24 h at 1 kHz: %.2f GB",
		perFrame, len(tap.times), st.Records, n/float64(st.Records), perFrame*86.4e6/1e9)

	// The same frames in full records, as a run without an event every
	// DUT poll writes them (each event ends the record before it).
	long := rewrite(t, tap)
	t.Logf("full records: %.2f B/frame; 24 h at 1 kHz: %.2f GB", long, long*86.4e6/1e9)
	all := dirBytes(t, dir)
	t.Logf("the whole record (frames, events, beats, manifest, result, seal): %.2f B/frame", all/n)
	// 11.5 B/frame (1 GB a day) is out of reach of this rig: five of its
	// pressures and flows carry 0.01 to 0.2 units of white noise, 1,400
	// to 7,000 codes, whose entropy alone is about 70 bits a frame, and
	// the two volumes of the simulation's truth about 20 more as float32.
	if perFrame > 15 || long > 14.2 {
		t.Errorf("%.2f B/frame (%.2f in full records): the coding got worse", perFrame, long)
	}
}

// dirBytes is the size of the files in dir and its subdirectories.
func dirBytes(t *testing.T, dir string) float64 {
	t.Helper()
	var n int64
	err := filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return float64(n)
}

// checkValue checks the value read back against the engine's.
func checkValue(t *testing.T, i int, name string, c runlog.ColumnCoding, want, got float64) {
	t.Helper()
	if c.Kind == runlog.CodingF32 && !math.IsNaN(want) {
		want = float64(float32(want)) // as versions 1 and 2 kept it
	}
	if math.Float64bits(got) != math.Float64bits(want) {
		t.Fatalf("frame %d %s: read %v (%#x), engine %v (%#x)", i, name, got, math.Float64bits(got), want, math.Float64bits(want))
	}
	if c.Kind != runlog.CodingADC || math.IsNaN(want) {
		return
	}
	// The converter's code: a 24-bit (ADS131M08) or 16-bit (ADS1115)
	// integer whose volts the calibration maps to the value, bit for bit.
	code := math.Round((want - c.Coeffs[0]) / c.Coeffs[1] / c.LSB)
	limit := float64(1 << 23)
	if c.LSB > 1e-5 {
		limit = 1 << 15
	}
	cal := daq.Calibration{Coeffs: c.Coeffs}
	if code < -limit || code >= limit || math.Float64bits(cal.Apply(code*c.LSB)) != math.Float64bits(want) {
		t.Fatalf("frame %d %s: %v is not a converter code (%v) through the calibration", i, name, want, code)
	}
}

// rewrite writes the tap's frames into a new record in blocks of 10
// frames without events, and returns its bytes per frame.
func rewrite(t *testing.T, tap *frameTap) float64 {
	t.Helper()
	m := tap.m
	m.RunID = runlog.NewRunID(m.Epoch)
	m.Protocol.SHA256, m.RigConfigSHA256 = "", ""
	rec, err := runlog.Create(t.TempDir(), m, []byte("protocol: 1\n"), []byte("rig: sim\n"), clock.NewVirtual(m.Epoch))
	if err != nil {
		t.Fatal(err)
	}
	w := len(m.Layout)
	b := daq.NewBlock(w, 10)
	for i := 0; i < len(tap.times); i += 10 {
		b.Reset()
		for k := i; k < min(i+10, len(tap.times)); k++ {
			copy(b.Append(tap.times[k]), tap.values[k*w:(k+1)*w])
		}
		if err := rec.AppendBlock(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := rec.Close(runlog.Result{Outcome: runlog.OutcomePass}); err != nil {
		t.Fatal(err)
	}
	return float64(segmentBytes(t, rec.Dir())) / float64(len(tap.times))
}
