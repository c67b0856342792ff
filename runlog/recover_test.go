package runlog

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/internal/golden"
)

func TestRecover(t *testing.T) {
	runs := t.TempDir()
	fc := clock.NewVirtual(testEpoch)
	b := daq.NewBlock(len(testLayout), 10)
	newRun := func(id string) *Record {
		t.Helper()
		r, err := Create(runs, testManifest(id), []byte(testProtocol), []byte(testRig), fc)
		if err != nil {
			t.Fatal(err)
		}
		r.recFrames = 10
		return r
	}
	appendBlocks := func(r *Record, n int) {
		t.Helper()
		for k := range n {
			if err := r.AppendBlock(fillBlock(b, 10*k, 10)); err != nil {
				t.Fatal(err)
			}
		}
	}

	// crashed: killed mid-write, with a torn record and an unfinished event line.
	crashed := newRun("20261120T231502Z-000001")
	crashed.segRecN = 4       // records a segment
	appendBlocks(crashed, 10) // three segments: 4, 4 and 2 records
	if err := crashed.Event(Event{T: 0.05, Kind: KindStepStart, Step: "1"}); err != nil {
		t.Fatal(err)
	}
	crashed.segW.Write(make([]byte, 100)) // a torn record: header and part of a payload
	crashed.events.WriteString(`{"t":0.09,"kind":"setpo`)
	crash(t, crashed)
	segs := segmentPaths(t, crashed.Dir())
	lastSeg := segs[len(segs)-1]
	intactSize := fileSize(t, lastSeg) - 100

	// live: being written by this process; its lock is held.
	live := newRun("20261120T231502Z-000002")
	appendBlocks(live, 3)

	// closed: nothing to do.
	closed := newRun("20261120T231502Z-000003")
	appendBlocks(closed, 1)
	if err := closed.Close(Result{Outcome: OutcomePass, DurationS: 1}); err != nil {
		t.Fatal(err)
	}
	closedManifest := readFile(t, closed.Dir(), manifestFile)

	// halfClosed: died in Close after writing the result, before the manifest.
	halfClosed := newRun("20261120T231502Z-000004")
	appendBlocks(halfClosed, 2)
	crash(t, halfClosed)
	if err := writeJSONAtomic(halfClosed.Dir(), resultFile, Result{RunID: halfClosed.RunID(), Outcome: OutcomeAborted, Frames: 20, DurationS: 2}); err != nil {
		t.Fatal(err)
	}

	ids, err := Recover(runs)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{crashed.RunID(), halfClosed.RunID()}; !slices.Equal(ids, want) {
		t.Fatalf("Recover closed %v, want %v", ids, want)
	}

	// The crashed run: interrupted, every intact frame kept, the tails cut.
	run, err := Open(crashed.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if m := run.Manifest; m.State != StateInterrupted || m.Outcome != OutcomeInterrupted || !m.Ended.Equal(testEpoch.Add(frameTime(99))) {
		t.Errorf("manifest: state %q outcome %q ended %v, want interrupted at the last frame %v", m.State, m.Outcome, m.Ended, testEpoch.Add(frameTime(99)))
	}
	res := run.Result
	if res == nil || res.Outcome != OutcomeInterrupted || res.Frames != 100 || res.DurationS != frameTime(99).Seconds() {
		t.Fatalf("result %+v", res)
	}
	golden.Check(t, "testdata/result_interrupted.golden.json", readFile(t, crashed.Dir(), resultFile))
	got, st := readFrames(t, crashed.Dir())
	checkFrames(t, got)
	if len(got) != 100 || !st.Intact() {
		t.Errorf("after Recover: %d frames, damage %v; want 100 and none", len(got), st.Damaged)
	}
	if n := fileSize(t, lastSeg); n != intactSize {
		t.Errorf("last segment is %d bytes, want it cut to %d", n, intactSize)
	}
	if cut := readFile(t, filepath.Dir(lastSeg), "00000003.seg.cut"); !bytes.Equal(cut, make([]byte, 100)) {
		t.Errorf("cut bytes kept as %d bytes %x, want the 100 torn ones", len(cut), cut)
	}
	evs, err := run.ReadEvents()
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Kind != KindStepStart || evs[1].Kind != KindRunInterrupted {
		t.Fatalf("events after Recover: %+v", evs)
	}
	var d RunInterruptedData
	if err := evs[1].Decode(&d); err != nil || d != (RunInterruptedData{Frames: 100, CutFrameBytes: 100, CutEventBytes: 23}) {
		t.Errorf("run.interrupted data %+v (%v)", d, err)
	}

	// The live run is untouched and can still be closed by its owner.
	if run, err := Open(live.Dir()); err != nil || run.Manifest.State != StateRunning || run.Result != nil {
		t.Errorf("live run after Recover: %+v, %v", run, err)
	}
	if err := live.Close(Result{Outcome: OutcomePass, DurationS: 0.03}); err != nil {
		t.Fatal(err)
	}
	if got, _ := readFrames(t, live.Dir()); len(got) != 30 {
		t.Errorf("live run: %d frames, want 30", len(got))
	}

	if b := readFile(t, closed.Dir(), manifestFile); !bytes.Equal(b, closedManifest) {
		t.Error("Recover rewrote the manifest of a closed run")
	}

	run, err = Open(halfClosed.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if m := run.Manifest; m.State != StateClosed || m.Outcome != OutcomeAborted || !m.Ended.Equal(testEpoch.Add(2*time.Second)) {
		t.Errorf("half-closed run: state %q outcome %q ended %v", m.State, m.Outcome, m.Ended)
	}

	// Again: nothing left to do.
	if ids, err := Recover(runs); err != nil || len(ids) != 0 {
		t.Errorf("second Recover: %v, %v", ids, err)
	}
}

// A crash before the first sync leaves a run with no frames and maybe a
// segment with nothing but part of its header; Recover still closes it.
func TestRecoverEmpty(t *testing.T) {
	runs := t.TempDir()
	r, err := Create(runs, testManifest(testRunID), nil, nil, clock.NewVirtual(testEpoch))
	if err != nil {
		t.Fatal(err)
	}
	crash(t, r)
	seg := segmentPaths(t, r.Dir())[0]
	if err := os.Truncate(seg, 10); err != nil {
		t.Fatal(err)
	}
	ids, err := Recover(runs)
	if err != nil || len(ids) != 1 {
		t.Fatalf("Recover: %v, %v", ids, err)
	}
	run, err := Open(r.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if run.Result.Frames != 0 || run.Result.DurationS != 0 || !run.Manifest.Ended.Equal(testEpoch) {
		t.Errorf("result %+v, ended %v", run.Result, run.Manifest.Ended)
	}
	if _, st := readFrames(t, r.Dir()); !st.Intact() || fileSize(t, seg) != 0 {
		t.Errorf("segment with a torn header: damage %v after Recover, size %d", st.Damaged, fileSize(t, seg))
	}
}
