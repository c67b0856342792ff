package runlog

import (
	"bytes"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/daq"
)

// recordSpans returns the offset and length of every record of the
// (intact, version 3) segment at path.
func recordSpans(t testing.TB, path string) (spans [][2]int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var sc segScan
	off, why, err := sc.readHeader(bytes.NewReader(data), int64(len(data)))
	if err != nil || why != "" {
		t.Fatalf("%s: header: %v %s", path, err, why)
	}
	for o := int(off); o < len(data); {
		n := recHeaderLen + int(le.Uint32(data[o+4:]))
		spans = append(spans, [2]int{o, n})
		o += n
	}
	return spans
}

func TestFramesRoundTripAcrossSegments(t *testing.T) {
	r, _ := create(t, testRunID)
	r.segRecN = 5 // records a segment
	b := daq.NewBlock(len(testLayout), 10)
	const blocks = 100
	for k := range blocks {
		if err := r.AppendBlock(fillBlock(b, 10*k, 10)); err != nil {
			t.Fatal(err)
		}
	}
	if got := r.Frames(); got != blocks*10 {
		t.Fatalf("Frames() = %d, want %d", got, blocks*10)
	}
	if err := r.Close(Result{Outcome: OutcomePass, DurationS: 1}); err != nil {
		t.Fatal(err)
	}
	got, st := readFrames(t, r.Dir())
	if len(got) != blocks*10 {
		t.Fatalf("read %d frames, want %d", len(got), blocks*10)
	}
	checkFrames(t, got)
	if !st.Intact() || st.UnreadBytes != 0 {
		t.Errorf("damage in a clean record: %+v", st.Damaged)
	}
	segs := segmentPaths(t, r.Dir())
	if len(segs) < 10 || st.Segments != len(segs) {
		t.Fatalf("%d segments, %d read; want rotation into at least 10", len(segs), st.Segments)
	}
	for _, s := range segs {
		if n := fileSize(t, s); n > r.segMax {
			t.Errorf("%s: %d bytes, over the bound of %d", s, n, r.segMax)
		}
	}
	if st.Records != blocks {
		t.Errorf("%d records, want one per block (%d)", st.Records, blocks)
	}
	if st.Last != frameTime(blocks*10-1) {
		t.Errorf("Last = %v, want %v", st.Last, frameTime(blocks*10-1))
	}
}

// Timestamps far apart, going back, before the epoch, and values that
// float32 cannot hold (NaN, ±Inf, beyond its range) read back exactly.
func TestRecordSplit(t *testing.T) {
	r, _ := create(t, testRunID)
	times := []time.Duration{
		0, time.Millisecond, maxOffset, // last offset that fits
		maxOffset + 1, // starts a record
		10 * time.Hour, 10*time.Hour + 5,
		10*time.Hour - time.Second, // back in time: starts a record
		-3 * time.Second,           // before the epoch: allowed, starts a record
	}
	b := daq.NewBlock(len(testLayout), len(times))
	for i, ts := range times {
		v := b.Append(ts)
		for j := range v {
			v[j] = testValue(i, j)
		}
	}
	v := b.Frame(1)
	v[0], v[1], v[2], v[3] = math.NaN(), math.Inf(1), math.Inf(-1), 1e300 // 1e300 is beyond float32
	if err := r.AppendBlock(b); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(Result{Outcome: OutcomePass}); err != nil {
		t.Fatal(err)
	}
	got, st := readFrames(t, r.Dir())
	if len(got) != len(times) {
		t.Fatalf("read %d frames, want %d", len(got), len(times))
	}
	if st.Records != 1 {
		t.Errorf("%d records, want 1", st.Records)
	}
	for i, f := range got {
		if f.t != times[i] {
			t.Errorf("frame %d: t = %v, want %v", i, f.t, times[i])
		}
	}
	if v := got[1].v; !math.IsNaN(v[0]) || !math.IsInf(v[1], 1) || !math.IsInf(v[2], -1) || v[3] != 1e300 {
		t.Errorf("special values read back as %v", v[:4])
	}
}

func TestTornTail(t *testing.T) {
	const recLen = 240 // about; the cuts fall in various places
	for _, cut := range []int{1, 5, recLen - recHeaderLen, recLen - 3, recLen, recLen + 100} {
		r, _ := create(t, testRunID)
		b := daq.NewBlock(len(testLayout), 10)
		for k := range 5 {
			if err := r.AppendBlock(fillBlock(b, 10*k, 10)); err != nil {
				t.Fatal(err)
			}
		}
		crash(t, r)
		seg := segmentPaths(t, r.Dir())[0]
		size := fileSize(t, seg)
		spans := recordSpans(t, seg)
		if err := os.Truncate(seg, size-int64(cut)); err != nil {
			t.Fatal(err)
		}
		got, st := readFrames(t, r.Dir())
		checkFrames(t, got)
		intactRecords, torn := 0, size-int64(cut)-int64(spans[0][0])
		for _, sp := range spans {
			if end := int64(sp[0] + sp[1]); end <= size-int64(cut) {
				intactRecords, torn = intactRecords+1, size-int64(cut)-end
			}
		}
		if len(got) != 10*intactRecords || st.Records != int64(intactRecords) {
			t.Errorf("cut %d: read %d frames in %d records, want %d records", cut, len(got), st.Records, intactRecords)
		}
		if torn == 0 {
			if !st.Intact() {
				t.Errorf("cut %d (whole records): damage %v", cut, st.Damaged)
			}
			continue
		}
		if len(st.Damaged) != 1 {
			t.Fatalf("cut %d: damage %v, want one", cut, st.Damaged)
		}
		d := st.Damaged[0]
		if d.Reason != damageTruncated || d.Bytes != torn || st.UnreadBytes != torn || d.Offset != size-int64(cut)-torn {
			t.Errorf("cut %d: %+v, want %d torn bytes of a truncated record at %d", cut, d, torn, size-int64(cut)-torn)
		}
		if d.Segment != "frames/00000001.seg" {
			t.Errorf("damage in %q", d.Segment)
		}
	}
}

// A flipped bit in a record is detected and hides that record only: the
// reader resynchronises on the next record's marker, so the rest of its
// segment (up to 64 MiB, half an hour of frames) is still read.
func TestBitFlipHidesOnlyItsRecord(t *testing.T) {
	for _, tc := range []struct {
		name   string
		at     int // byte offset in the third record
		reason string
	}{
		{"payload", recHeaderLen + 40, damageChecksum},
		{"value", -1, damageChecksum}, // the last byte
		{"checksum", 9, damageChecksum},
		{"marker", 1, damageNoMarker},
		{"length low", 4, damageChecksum},   // a shorter record, whose CRC fails
		{"length mid", 6, damageTruncated},  // 1 MiB more: past the end of the file
		{"length high", 7, damageBadLength}, // 256 MiB more: over the bound
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := create(t, testRunID)
			r.segRecN = 5 // records a segment
			b := daq.NewBlock(len(testLayout), 10)
			for k := range 10 {
				if err := r.AppendBlock(fillBlock(b, 10*k, 10)); err != nil {
					t.Fatal(err)
				}
			}
			if err := r.Close(Result{Outcome: OutcomePass}); err != nil {
				t.Fatal(err)
			}
			segs := segmentPaths(t, r.Dir())
			if len(segs) != 2 {
				t.Fatalf("%d segments, want 2", len(segs))
			}
			data, err := os.ReadFile(segs[0])
			if err != nil {
				t.Fatal(err)
			}
			third := recordSpans(t, segs[0])[2]
			flipAt := third[0] + tc.at
			if tc.at < 0 {
				flipAt += third[1]
			}
			data[flipAt] ^= 0x10
			if err := os.WriteFile(segs[0], data, 0o644); err != nil {
				t.Fatal(err)
			}

			got, st := readFrames(t, r.Dir())
			checkFrames(t, got[:20])
			if len(got) != 90 {
				t.Fatalf("read %d frames, want 90: all but the 10 of the damaged record", len(got))
			}
			for i, f := range got[20:] { // the rest of segment 1, and segment 2
				if f.t != frameTime(30+i) {
					t.Fatalf("frame %d after the damage: t = %v, want %v", i, f.t, frameTime(30+i))
				}
			}
			want := Damage{Segment: "frames/00000001.seg", Offset: int64(third[0]), Bytes: int64(third[1]), Reason: tc.reason}
			if len(st.Damaged) != 1 || st.Damaged[0] != want {
				t.Errorf("damage %v, want %v", st.Damaged, want)
			}
		})
	}
}

// Data appended before a sync point is readable by a fresh reader without
// Close; data appended between sync points is not yet, because syncing is
// driven by the flush clock and not done on every append.
func TestSyncCadence(t *testing.T) {
	r, fc := create(t, testRunID)
	b := daq.NewBlock(len(testLayout), 10)
	visible := func() (frames, events int) {
		t.Helper()
		got, _ := readFrames(t, r.Dir())
		return len(got), len(readEvents(t, r.Dir()))
	}
	append := func(k int) {
		t.Helper()
		if err := r.AppendBlock(fillBlock(b, 10*k, 10)); err != nil {
			t.Fatal(err)
		}
	}

	append(0)
	fc.Advance(SyncInterval - time.Millisecond)
	append(1)
	if f, e := visible(); f != 0 || e != 0 {
		t.Fatalf("before the sync point: %d frames and %d events visible, want none (still buffered)", f, e)
	}
	// An event is written at once, after the frames before it.
	if err := r.Event(Event{T: 0.015, Kind: KindStepStart, Step: "1"}); err != nil {
		t.Fatal(err)
	}
	if f, e := visible(); f != 20 || e != 1 {
		t.Fatalf("after an event: %d frames and %d events visible, want 20 and 1 (written through)", f, e)
	}
	fc.Advance(time.Millisecond)
	append(2) // due: this append syncs, itself included
	if f, e := visible(); f != 30 || e != 1 {
		t.Fatalf("after the sync point: %d frames and %d events visible, want 30 and 1", f, e)
	}

	// An event can be the append that finds the sync due.
	append(3)
	fc.Advance(SyncInterval)
	if err := r.Event(Event{T: 0.045, Kind: KindStepEnd, Step: "1"}); err != nil {
		t.Fatal(err)
	}
	if f, e := visible(); f != 40 || e != 2 {
		t.Fatalf("after an event at the sync point: %d frames and %d events visible, want 40 and 2", f, e)
	}

	// Sync makes everything visible at once, whatever the clock.
	append(4)
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	if f, _ := visible(); f != 50 {
		t.Fatalf("after Sync: %d frames visible, want 50", f)
	}
	got, _ := readFrames(t, r.Dir())
	checkFrames(t, got)
}

// Sync may run on another goroutine while the engine appends (go test -race).
func TestSyncConcurrent(t *testing.T) {
	r, fc := create(t, testRunID)
	r.segMax = 8 << 10
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
				if err := r.Sync(); err != nil {
					t.Error(err)
					return
				}
			}
		}
	})
	b := daq.NewBlock(len(testLayout), 10)
	for k := range 500 {
		if err := r.AppendBlock(fillBlock(b, 10*k, 10)); err != nil {
			t.Fatal(err)
		}
		fc.Advance(10 * time.Millisecond)
	}
	close(done)
	wg.Wait()
	if err := r.Close(Result{Outcome: OutcomePass, DurationS: 5}); err != nil {
		t.Fatal(err)
	}
	got, st := readFrames(t, r.Dir())
	if len(got) != 5000 || !st.Intact() {
		t.Fatalf("%d frames, damage %v", len(got), st.Damaged)
	}
	checkFrames(t, got)
}

func TestClose(t *testing.T) {
	r, _ := create(t, testRunID)
	b := fillBlock(daq.NewBlock(len(testLayout), 10), 0, 10)
	if err := r.AppendBlock(b); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []Result{{Outcome: "passed"}, {Outcome: OutcomeTimeout}, {Outcome: OutcomePass, DurationS: math.NaN()}, {Outcome: OutcomePass, DurationS: -1}} {
		if err := r.Close(bad); err == nil {
			t.Errorf("Close(%+v) succeeded", bad)
		}
	}
	if err := r.AppendBlock(b); err != nil { // still open after a refused Close
		t.Fatal(err)
	}
	if err := r.Close(Result{Outcome: OutcomeFail, DurationS: 2.5, Frames: 999}); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(Result{Outcome: OutcomePass}); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close: %v, want ErrClosed", err)
	}
	if err := r.AppendBlock(b); !errors.Is(err, ErrClosed) {
		t.Errorf("AppendBlock after Close: %v, want ErrClosed", err)
	}
	if err := r.Event(Event{Kind: KindOperator}); !errors.Is(err, ErrClosed) {
		t.Errorf("Event after Close: %v, want ErrClosed", err)
	}
	if err := r.Sync(); !errors.Is(err, ErrClosed) {
		t.Errorf("Sync after Close: %v, want ErrClosed", err)
	}

	run, err := Open(r.Dir())
	if err != nil {
		t.Fatal(err)
	}
	m := run.Manifest
	if m.State != StateClosed || m.Outcome != OutcomeFail || !m.Ended.Equal(testEpoch.Add(2500*time.Millisecond)) {
		t.Errorf("manifest after Close: state %q outcome %q ended %v", m.State, m.Outcome, m.Ended)
	}
	res := run.Result
	if res == nil || res.RunID != testRunID || res.Frames != 20 || res.Outcome != OutcomeFail || res.Steps == nil || res.Criteria == nil {
		t.Errorf("result after Close: %+v", res)
	}
	// The lock is released: another holder can take it.
	l, ok, err := tryLock(r.Dir())
	if err != nil || !ok {
		t.Fatalf("lock after Close: ok %v, %v", ok, err)
	}
	l.Close()
}

func TestAppendBlockWidth(t *testing.T) {
	r, _ := create(t, testRunID)
	if err := r.AppendBlock(fillBlock(daq.NewBlock(3, 10), 0, 10)); err == nil {
		t.Error("block of 3 channels appended to a run of 8")
	}
	bad := fillBlock(daq.NewBlock(8, 10), 0, 10)
	bad.Values = bad.Values[:75]
	if err := r.AppendBlock(bad); err == nil {
		t.Error("block with missing values appended")
	}
	if err := r.AppendBlock(daq.NewBlock(8, 10)); err != nil {
		t.Errorf("empty block: %v", err)
	}
	if err := r.Close(Result{Outcome: OutcomeAborted}); err != nil {
		t.Fatal(err)
	}
	if got, _ := readFrames(t, r.Dir()); len(got) != 0 {
		t.Errorf("%d frames from refused blocks", len(got))
	}
}

func TestCreateRefuses(t *testing.T) {
	runs := t.TempDir()
	fc := clock.NewVirtual(testEpoch)
	if _, err := Create(runs, testManifest(testRunID), nil, nil, fc); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(runs, testManifest(testRunID), nil, nil, fc); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Create over an existing run: %v, want ErrExist", err)
	}
	const other = "20261120T231502Z-000001"
	for name, edit := range map[string]func(*Manifest){
		"run id":         func(m *Manifest) { m.RunID = "../x" },
		"no channels":    func(m *Manifest) { m.Layout = nil },
		"twice":          func(m *Manifest) { m.Layout = []Channel{{"a", "mmHg"}, {"a", "mmHg"}} },
		"unnamed":        func(m *Manifest) { m.Layout = []Channel{{"", "mmHg"}} },
		"no epoch":       func(m *Manifest) { m.Epoch = time.Time{} },
		"clock":          func(m *Manifest) { m.Clock = "wall" },
		"rate":           func(m *Manifest) { m.SampleRateHz = math.Inf(1) },
		"protocol hash":  func(m *Manifest) { m.Protocol.SHA256 = strings.Repeat("0", 64) },
		"rig hash":       func(m *Manifest) { m.RigConfigSHA256 = "abc" },
		"nan in a field": func(m *Manifest) { m.Calibration[0].Fields["gain"] = math.NaN() },
	} {
		m := testManifest(other)
		edit(&m)
		if _, err := Create(runs, m, nil, nil, fc); err == nil {
			t.Errorf("%s: Create succeeded", name)
		}
		if _, err := os.Stat(filepath.Join(runs, other)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: refused Create left %s behind", name, other)
		}
	}
	if _, err := Create(runs, testManifest(other), nil, nil, nil); err == nil {
		t.Error("Create without a flush clock succeeded")
	}
}

func TestEventsRoundTrip(t *testing.T) {
	r, _ := create(t, testRunID)
	nan, inf := math.NaN(), math.Inf(1)
	in := []Event{
		{T: 0, Kind: KindRunStart, Msg: "baseline <v2> & more"},
		{T: 1.5, Kind: KindStepStart, Step: "1", Msg: "hold"},
		withT(1.75, NewEvent(KindSetpoint, "1", "", SetpointData{Param: "aop", Value: SetpointValue{Num: 80}})),
		withT(86399.999999999, NewEvent(KindDUTRx, "", "", DUTFrameData{Error: "bad <crc> & more", Retry: 2})),
		withT(2, NewEvent(KindCriterion, "", "", CriterionData{Result: &CriterionResult{Value: &nan, Lo: ptr(55), Hi: &inf}})),
		withT(2.5, NewEvent(KindUntilMet, "", "", UntilMetData{Value: Reading(math.Inf(-1))})),
		{T: 2.75, Kind: "custom.kind", Data: []byte(`{"frame":"a5 01 02","rpm":[1,2]}`)},
		{T: 3, Kind: "custom.kind"},
	}
	for _, e := range in {
		if err := r.Event(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Event(Event{T: math.NaN(), Kind: KindFault}); err == nil {
		t.Error("event at t = NaN accepted")
	}
	if err := r.Close(Result{Outcome: OutcomePass}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(r.Dir(), eventsFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"baseline <v2> & more"`) {
		t.Errorf("<, > or & escaped in events.jsonl:\n%s", raw)
	}
	run, err := Open(r.Dir())
	if err != nil {
		t.Fatal(err)
	}
	got, err := run.ReadEvents()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"error":"bad <crc> & more"`) {
		t.Errorf("<, > or & escaped in event data:\n%s", raw)
	}
	want := in
	// read back as a map would be: keys sorted at every depth
	want[4].Data = []byte(`{"result":{"hi":null,"id":null,"limits":"","lo":55,"measure":"","name":null,"on_fail":"","over":null,"pass":false,"reason":null,"reference":null,"reference_step":null,"step":"","step_name":null,"unit":"","value":null,"verdict":""},"verdict":""}`)
	want[5].Data = []byte(`{"after_s":0,"value":null}`)
	if len(got) != len(want) {
		t.Fatalf("read %d events, want %d", len(got), len(want))
	}
	for i := range want {
		if !eventEqual(got[i], want[i]) {
			t.Errorf("event %d:\n got %#v\nwant %#v", i, got[i], want[i])
		}
	}

	// An unfinished last line is left out silently, a malformed complete
	// line is reported, and the good events still come back.
	f, err := os.OpenFile(filepath.Join(r.Dir(), eventsFile), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("not json\n" + `{"t":9,"kind":"operator"}` + "\n" + `{"t":10,"ki`)
	f.Close()
	got, err = run.ReadEvents()
	if err == nil || !strings.Contains(err.Error(), "line 9") {
		t.Errorf("malformed line 9: error %v", err)
	}
	if len(got) != len(want)+1 || got[len(got)-1].Kind != KindOperator {
		t.Errorf("read %d events around bad lines, want %d ending with the operator event", len(got), len(want)+1)
	}
}

// withT sets the time of an event made by NewEvent.
func withT(t float64, e Event) Event {
	e.T = t
	return e
}

// eventEqual compares events as they come back from JSON.
func eventEqual(a, b Event) bool {
	ja, err1 := marshalLine(a)
	jb, err2 := marshalLine(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

func TestList(t *testing.T) {
	runs := t.TempDir()
	fc := clock.NewVirtual(testEpoch)
	ids := []string{"20261120T231502Z-00000b", "20261120T231502Z-00000a", "20261119T080000Z-ffffff"}
	starts := []time.Time{testEpoch.Add(time.Hour), testEpoch.Add(time.Hour), testEpoch}
	for i, id := range ids {
		m := testManifest(id)
		m.Started = starts[i]
		r, err := Create(runs, m, nil, nil, fc)
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			if err := r.Close(Result{Outcome: OutcomeAborted, AbortReason: "e-stop"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	os.Mkdir(filepath.Join(runs, "not-a-run"), 0o755)
	os.Mkdir(filepath.Join(runs, "20261121T000000Z-123456"), 0o755) // being created: no manifest
	os.WriteFile(filepath.Join(runs, "README"), nil, 0o644)

	got, err := List(runs)
	if err != nil {
		t.Fatal(err)
	}
	wantOrder := []string{ids[2], ids[1], ids[0]}
	if len(got) != 3 {
		t.Fatalf("%d summaries, want 3: %+v", len(got), got)
	}
	for i, s := range got {
		if s.RunID != wantOrder[i] {
			t.Errorf("summary %d is %s, want %s", i, s.RunID, wantOrder[i])
		}
		if s.Protocol != "hemodynamic baseline" || s.Rig != "sim" || s.Dir != filepath.Join(runs, s.RunID) {
			t.Errorf("summary %+v", s)
		}
	}
	if got[1].State != StateClosed || got[1].Outcome != OutcomeAborted || got[0].State != StateRunning || got[0].Outcome != "" {
		t.Errorf("states: %+v", got)
	}

	// A damaged manifest is reported; the other runs are still listed.
	os.WriteFile(filepath.Join(runs, ids[0], manifestFile), []byte("{"), 0o644)
	got, err = List(runs)
	if err == nil || len(got) != 2 {
		t.Errorf("with a damaged manifest: %d summaries, error %v", len(got), err)
	}

	if got, err := List(filepath.Join(runs, "none")); err != nil || len(got) != 0 {
		t.Errorf("missing runs dir: %v, %v", got, err)
	}
}

// A process killed at any moment (its user-space buffers lost, what it
// wrote kept) leaves no frame on disk without the events before it: the run
// start, the step start and the setpoints that frame was sampled under.
// Before, events were buffered while frames reached the file as their
// buffer filled: a SIGKILL left 1.6 MB of frames and an empty events.jsonl.
func TestKillLeavesNoFrameWithoutItsEvents(t *testing.T) {
	r, _ := create(t, testRunID)
	for _, e := range []Event{{Kind: KindRunStart}, {Kind: KindStepStart, Step: "1"}, {Kind: KindSetpoint, Step: "1", Msg: "hr 80 bpm"}} {
		if err := r.Event(e); err != nil {
			t.Fatal(err)
		}
	}
	b := daq.NewBlock(len(testLayout), 10)
	for k := range 400 { // 4000 frames, about 150 kB: past the frame buffer
		if err := r.AppendBlock(fillBlock(b, 10*k, 10)); err != nil {
			t.Fatal(err)
		}
	}
	r.abandon() // SIGKILL: nothing buffered is written
	r.closed = true
	got, _ := readFrames(t, r.Dir())
	if len(got) == 0 {
		t.Fatal("no frame reached the file: the test does not test the order")
	}
	if evs := readEvents(t, r.Dir()); len(evs) != 3 {
		t.Fatalf("%d frames on disk but %d of the 3 events before them", len(got), len(evs))
	}
}
