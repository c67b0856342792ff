package runlog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/internal/golden"
)

// closedRun makes a closed run of n blocks of 10 frames, five records (50
// frames) to a segment, in a new runs directory.
func closedRun(t *testing.T, id string, n int) *Record {
	t.Helper()
	r, _ := create(t, id)
	r.segRecN = 5 // records a segment
	appendN(t, r, 0, n)
	if err := r.Close(Result{Outcome: OutcomePass}); err != nil {
		t.Fatal(err)
	}
	return r
}

// appendN appends blocks k0 .. k0+n-1 of 10 frames to r.
func appendN(t testing.TB, r *Record, k0, n int) {
	t.Helper()
	b := daq.NewBlock(len(testLayout), 10)
	for k := k0; k < k0+n; k++ {
		if err := r.AppendBlock(fillBlock(b, 10*k, 10)); err != nil {
			t.Fatal(err)
		}
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A segment copied under the next number (a backup restored twice, a
// careless cp) is refused with a warning in the stats; before, it doubled
// the frame count.
func TestDuplicatedSegmentIsRefusedNotCounted(t *testing.T) {
	r := closedRun(t, testRunID, 10)
	segs := segmentPaths(t, r.Dir())
	copyFile(t, segs[0], filepath.Join(r.Dir(), framesDir, segmentName(3)))
	got, st := readFrames(t, r.Dir())
	checkFrames(t, got)
	if len(got) != 100 {
		t.Errorf("%d frames, want the 100 written", len(got))
	}
	if len(st.Damaged) != 1 || !st.Damaged[0].Refused || st.Damaged[0].Segment != "frames/00000003.seg" {
		t.Fatalf("damage %v, want segment 3 refused", st.Damaged)
	}
	t.Logf("warning: %s", st.Damaged[0])
}

// A segment of another run put among a run's segments is refused; before,
// its frames were read as the run's.
func TestSegmentOfAnotherRunIsRefused(t *testing.T) {
	r := closedRun(t, testRunID, 10)
	other := closedRun(t, "20261120T231502Z-0000aa", 10)
	copyFile(t, segmentPaths(t, other.Dir())[0], filepath.Join(r.Dir(), framesDir, segmentName(1)))
	got, st := readFrames(t, r.Dir())
	if len(got) != 50 || len(st.Damaged) != 1 || !st.Damaged[0].Refused {
		t.Fatalf("%d frames, damage %v; want segment 2's 50 and segment 1 refused", len(got), st.Damaged)
	}
}

// rewriteOld rewrites the segments of the run in dir as format version
// 1 (no record marker, no number in the header) or 2 (float32 values)
// wrote them, a record per 10 frames.
func rewriteOld(t *testing.T, dir string, version uint32) {
	t.Helper()
	for i, seg := range segmentPaths(t, dir) {
		f, size, err := OpenFile(seg)
		if err != nil {
			t.Fatal(err)
		}
		var times []time.Duration
		var values []float64
		_, err = scanSegment(f, size, nil, func(ts time.Duration, v []float64) error {
			times, values = append(times, ts), append(values, v...)
			return nil
		})
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		h := segHeader{RunID: testRunID, Channels: testLayout}
		if version >= segVersion2 {
			h.Seq = i + 1
		}
		out, err := appendSegmentHeaderVersion(nil, h, version)
		if err != nil {
			t.Fatal(err)
		}
		w := len(testLayout)
		for k := 0; k < len(times); k += 10 {
			e := min(k+10, len(times))
			rec := appendRecordV2(nil, times[k:e], values[k*w:e*w])
			if version == segVersion1 {
				rec = rec[len(recMarker):]
			}
			out = append(out, rec...)
		}
		if err := os.WriteFile(seg, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Segments of format versions 1 (no record marker, no number in the
// header) and 2 (float32 values) are still read.
func TestOldSegmentsStillRead(t *testing.T) {
	for _, v := range []uint32{segVersion1, segVersion2} {
		r := closedRun(t, testRunID, 10)
		rewriteOld(t, r.Dir(), v)
		got, st := readFrames(t, r.Dir())
		checkFrames(t, got)
		if len(got) != 100 || !st.Intact() || st.Records != 10 {
			t.Fatalf("version %d: %d frames in %d records, damage %v; want 100 in 10 and none", v, len(got), st.Records, st.Damaged)
		}
	}
}

// noHang runs fn, failing the test if it has not returned within a
// generous bound: the hang guard of the tests of non-blocking opens.
func noHang(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s hangs", what)
	}
}

// A FIFO, or a symlink to /dev/zero, named as a file of a record is
// refused at once: before, it hung run, runs and report (a FIFO blocks
// open, /dev/zero never ends).
func TestNonRegularRecordFilesRefusedWithoutBlocking(t *testing.T) {
	for _, name := range []string{manifestFile, resultFile, eventsFile, filepath.Join(framesDir, segmentName(2))} {
		for _, kind := range []string{"fifo", "zero"} {
			t.Run(name+"/"+kind, func(t *testing.T) {
				r := closedRun(t, testRunID, 5)
				p := filepath.Join(r.Dir(), name)
				os.Remove(p)
				if kind == "fifo" {
					if err := syscall.Mkfifo(p, 0o644); err != nil {
						t.Skip("no FIFOs here:", err)
					}
				} else if err := os.Symlink("/dev/zero", p); err != nil {
					t.Fatal(err)
				}
				var openErr, listErr, evErr error
				var st FrameStats
				noHang(t, "reading the record", func() {
					_, listErr = List(filepath.Dir(r.Dir()))
					var run *Run
					if run, openErr = Open(r.Dir()); openErr == nil {
						_, evErr = run.ReadEvents()
						st, _ = run.Frames(nil)
					}
				})
				switch name {
				case manifestFile:
					if !errors.Is(openErr, ErrNotRegular) || !errors.Is(listErr, ErrNotRegular) {
						t.Errorf("Open: %v; List: %v; want %v", openErr, listErr, ErrNotRegular)
					}
				case resultFile:
					if !errors.Is(openErr, ErrNotRegular) {
						t.Errorf("Open: %v, want %v", openErr, ErrNotRegular)
					}
				case eventsFile:
					if !errors.Is(evErr, ErrNotRegular) {
						t.Errorf("ReadEvents: %v, want %v", evErr, ErrNotRegular)
					}
				default:
					if st.Frames != 50 || len(st.Damaged) != 1 || !st.Damaged[0].Refused {
						t.Errorf("%d frames, damage %v; want segment 1's 50 and segment 2 refused", st.Frames, st.Damaged)
					}
				}
			})
		}
	}
}

// A run whose files are too big to be a record's is refused, not read
// into memory.
func TestOversizedRecordFileRefused(t *testing.T) {
	r := closedRun(t, testRunID, 1)
	if err := os.Truncate(filepath.Join(r.Dir(), manifestFile), maxJSONFile+1); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(r.Dir()); err == nil {
		t.Fatal("a 64 MiB manifest was read")
	}
}

// recoverOne runs Recover on the runs directory of r and checks that it
// closed r as interrupted with want frames, resumable and sealed.
func recoverOne(t *testing.T, r *Record, want int64) *Run {
	t.Helper()
	if _, err := Recover(filepath.Dir(r.Dir())); err != nil {
		t.Fatal(err)
	}
	run, err := Open(r.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if run.Manifest.State != StateInterrupted || run.Result == nil || run.Result.Frames != want {
		t.Fatalf("after Recover: state %s, result %+v; want interrupted with %d frames", run.Manifest.State, run.Result, want)
	}
	if f := verify(t, r.Dir()); len(f) != 0 { // sealed by recovery, over what it kept
		t.Fatalf("after Recover, the record does not verify: %q", f)
	}
	return run
}

// A kill during `run --resume` leaves the run interrupted, its result
// recomputed from every part on disk, and resumable again. Before, the
// first part's result.json stayed: Recover took it as the run's, closed the
// run (337,510 frames of 966,740) and a second --resume was refused.
func TestKillDuringResumeStaysResumable(t *testing.T) {
	r, _ := create(t, testRunID)
	appendN(t, r, 0, 5)
	crash(t, r)
	recoverOne(t, r, 50)
	for part := 1; part <= 2; part++ {
		rec, lastT, err := Reopen(r.Dir(), clock.NewVirtual(testEpoch))
		if err != nil {
			t.Fatalf("resume %d: %v", part, err)
		}
		if lastT != frameTime(50*part-1) {
			t.Errorf("resume %d continues at %v, want %v", part, lastT, frameTime(50*part-1))
		}
		appendN(t, rec, 5*part, 5)
		crash(t, rec)
		recoverOne(t, r, int64(50*(part+1)))
	}
	got, st := readFrames(t, r.Dir())
	checkFrames(t, got)
	if len(got) != 150 || !st.Intact() {
		t.Errorf("%d frames, damage %v", len(got), st.Damaged)
	}
}

// Recovery killed at each of its steps is completed by the next one: the
// run ends interrupted and resumable, with one run.interrupted event.
func TestKillDuringRecoveryIsRecoveredAgain(t *testing.T) {
	for _, step := range []string{"after the event", "after the result"} {
		t.Run(step, func(t *testing.T) {
			r, _ := create(t, testRunID)
			appendN(t, r, 0, 5)
			r.segW.Write(make([]byte, 30)) // a torn record
			crash(t, r)
			st, err := scanFrames(r.Dir(), testRunID, testLayout, nil)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := interruptedEvent(r.Dir(), &st)
			if err != nil {
				t.Fatal(err)
			}
			if step == "after the result" {
				res := Result{RunID: testRunID, Outcome: OutcomeInterrupted, Frames: st.Frames, DurationS: ev.T}
				if err := writeJSONAtomic(r.Dir(), resultFile, res); err != nil {
					t.Fatal(err)
				}
			}
			run := recoverOne(t, r, 50)
			evs, err := run.ReadEvents()
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, e := range evs {
				if e.Kind == KindRunInterrupted {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%d run.interrupted events, want 1", n)
			}
			if _, _, err := Reopen(r.Dir(), clock.NewVirtual(testEpoch)); err != nil {
				t.Errorf("resume after a recovery that was killed: %v", err)
			}
		})
	}
}

// A kill inside Reopen, after the manifest says running again but before
// the interrupted part's result.json is gone, leaves a run that Recover
// closes as interrupted with that result, which still counts the frames on
// disk, and that resumes again. In the other order a kill left an
// interrupted run without a result.json (found by the kill loop).
func TestKillInsideReopenStaysResumable(t *testing.T) {
	r, _ := create(t, testRunID)
	appendN(t, r, 0, 5)
	crash(t, r)
	recoverOne(t, r, 50)
	run, err := Open(r.Dir())
	if err != nil {
		t.Fatal(err)
	}
	m := run.Manifest
	m.State, m.Outcome, m.Resumed = StateRunning, "", 1
	if err := writeJSONAtomic(r.Dir(), manifestFile, m); err != nil { // killed here
		t.Fatal(err)
	}
	recoverOne(t, r, 50)
	if _, _, err := Reopen(r.Dir(), clock.NewVirtual(testEpoch)); err != nil {
		t.Fatal(err)
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.ReaderAt
	n int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n += int64(n)
	return n, err
}

// Crafted data full of record markers, each claiming a long plausible
// record, cannot make the resynchronising reader read a segment over and
// over: what it reads is bounded by a small multiple of the segment's size.
func TestResyncReadsAreBounded(t *testing.T) {
	hdr, err := appendSegmentHeader(nil, segHeader{RunID: testRunID, Seq: 1, Channels: testLayout})
	if err != nil {
		t.Fatal(err)
	}
	const size = 8 << 20
	data := append([]byte(nil), hdr...)
	fake := append(append([]byte(nil), recMarker...), make([]byte, 8)...)
	le.PutUint32(fake[4:], 1<<20-12) // a plausible 1 MiB payload, wrong CRC
	for len(data) < size {
		data = append(data, fake...)
	}
	cr := &countingReader{r: bytes.NewReader(data)}
	sc, err := scanSegment(cr, int64(len(data)), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sc.frames != 0 || len(sc.damage) != 1 {
		t.Errorf("%d frames, damage %+v", sc.frames, sc.damage)
	}
	if limit := int64(4*len(data) + 2*maxPayload); cr.n > limit {
		t.Errorf("read %d bytes of a %d-byte segment, more than %d", cr.n, len(data), limit)
	}
}

// Golden segments of versions 1 and 2, as their writers made them, read
// back: 12 frames of exact float32 values. Generated once (-update); a
// reader that stops reading them fails here.
func TestOldSegmentGoldensRead(t *testing.T) {
	layout := []Channel{{Name: "aop", Unit: "mmHg"}, {Name: "q_ao", Unit: "L/min"}}
	for _, v := range []uint32{segVersion1, segVersion2} {
		h := segHeader{RunID: testRunID, Channels: layout}
		if v >= segVersion2 {
			h.Seq = 1
		}
		seg, err := appendSegmentHeaderVersion(nil, h, v)
		if err != nil {
			t.Fatal(err)
		}
		b := daq.NewBlock(2, 4)
		for k := range 3 {
			b.Reset()
			for i := 4 * k; i < 4*k+4; i++ {
				f := b.Append(frameTime(i))
				f[0], f[1] = 80+float64(i)/4, -float64(i)/8
			}
			rec := appendRecordV2(nil, b.Times, b.Values)
			if v == segVersion1 {
				rec = rec[len(recMarker):]
			}
			seg = append(seg, rec...)
		}
		path := fmt.Sprintf("testdata/segment_v%d.golden.seg", v)
		golden.Check(t, path, seg)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		i := 0
		sc, err := scanSegment(bytes.NewReader(data), int64(len(data)), &segWant{runID: testRunID, seq: 1, layout: layout}, func(ts time.Duration, f []float64) error {
			if ts != frameTime(i) || f[0] != 80+float64(i)/4 || f[1] != -float64(i)/8 {
				t.Errorf("version %d frame %d: %v %v", v, i, ts, f)
			}
			i++
			return nil
		})
		if err != nil || sc.frames != 12 || len(sc.damage) != 0 || sc.version != v {
			t.Errorf("version %d: %d frames, damage %v, version %d, %v", v, sc.frames, sc.damage, sc.version, err)
		}
	}
}
