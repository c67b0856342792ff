package reports

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mockloop/mockloop/runlog"
)

// TestInterruptedRun checks what a report knows of a run whose process
// died: steps from the events (the last one unfinished), statistics
// computed from the frames, the outcome and reason Recover wrote.
func TestInterruptedRun(t *testing.T) {
	r, err := Load(fixtureRun(t, "interrupted"))
	if err != nil {
		t.Fatal(err)
	}
	if r.outcome() != "interrupted" || !strings.Contains(r.run.Result.AbortReason, "cut 10 bytes") {
		t.Errorf("outcome %s, reason %q", r.outcome(), r.run.Result.AbortReason)
	}
	if len(r.steps) != 2 {
		t.Fatalf("%d steps, want 2 from the events", len(r.steps))
	}
	s1, s2 := r.steps[0], r.steps[1]
	if s1.Path != "1" || s1.Outcome != "pass" || s1.EndS != 3 || !s1.computed {
		t.Errorf("step 1: %+v", s1)
	}
	if s2.Path != "2" || s2.Outcome != "unfinished" || math.Abs(s2.EndS-5.995) > 1e-9 {
		t.Errorf("step 2: %+v", s2)
	}
	for _, s := range r.steps {
		aop := s.Stats["aop"]
		if aop.N < 500 || aop.Mean < 60 || aop.Mean > 130 || aop.Unit != "mmHg" {
			t.Errorf("step %s: aop statistics %+v", s.Path, aop)
		}
	}
	if r.frames.Frames != 1200 || !r.frames.Intact() {
		t.Errorf("frames: %+v", r.frames)
	}
	if len(r.notes) == 0 || !strings.Contains(r.notes[0], "criterion") {
		t.Errorf("no note of the criteria only in events: %q", r.notes)
	}
}

// TestTraceability checks the flags of the matrix: a requirement no
// criterion covers, a criterion id outside the catalogue, a criterion
// without id.
func TestTraceability(t *testing.T) {
	r, err := load(fixtureRun(t, "fail"), false)
	if err != nil {
		t.Fatal(err)
	}
	tv := r.trace
	status := map[string]string{}
	for _, q := range tv.Reqs {
		status[q.ID] = q.Status
	}
	want := map[string]string{"FAIL-1": "fail", "FAIL-2": "no data", "FAIL-3": "fail", "FAIL-4": "not tested"}
	for id, s := range want {
		if status[id] != s {
			t.Errorf("%s: status %q, want %q", id, status[id], s)
		}
	}
	if len(tv.Unknown) != 1 || tv.Unknown[0].ID != "SRS-999" || tv.Unknown[0].Flag == "" {
		t.Errorf("unknown ids: %+v", tv.Unknown)
	}
	if len(tv.Untraced) != 1 || len(tv.Untraced[0].Criteria) != 1 {
		t.Errorf("untraced: %+v", tv.Untraced)
	}
	if tv.Flags != 3 {
		t.Errorf("%d flagged rows, want 3", tv.Flags)
	}

	// Repeated evaluations of one criterion are one row with counts.
	p, err := load(fixtureRun(t, "pass"), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range p.trace.Reqs {
		if q.ID == "PASS-2" && (len(q.Criteria) != 1 || q.Criteria[0].Counts != "3 pass" || q.Criteria[0].Rows != "2, 3, 4") {
			t.Errorf("PASS-2: %+v", q.Criteria)
		}
		if q.ID == "PASS-3" && q.Status != "pass with warnings" {
			t.Errorf("PASS-3: %s", q.Status)
		}
	}
}

// TestValueText checks that a value is never shown equal to a limit it
// is not equal to.
func TestValueText(t *testing.T) {
	for _, tc := range []struct {
		v      float64
		lo, hi *float64
		want   string
	}{
		{101.36973644256618, f64(89.1), f64(108.9), "101.37"},
		{2.0999996, f64(2.1), nil, "2.0999996"},
		{2.1, f64(2.1), nil, "2.1"},
		{199.99999999, nil, f64(200), "199.99999999"},
		{-0.7705692448139198, nil, f64(0), "-0.770569"},
		{35000, nil, nil, "35000"},
	} {
		if got := valueText(tc.v, tc.lo, tc.hi); got != tc.want {
			t.Errorf("valueText(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

// TestEvents checks what the reports take from events.jsonl: DUT traffic
// only counted, notable events listed, the timeline without DUT frames.
func TestEvents(t *testing.T) {
	r, err := load(fixtureRun(t, "aborted"), false)
	if err != nil {
		t.Fatal(err)
	}
	ev := r.events
	var kinds []string
	for _, e := range ev.Notable {
		kinds = append(kinds, e.Kind)
	}
	for _, k := range []string{runlog.KindAcquisition, runlog.KindFault, runlog.KindSafetyTrip, runlog.KindOperator} {
		if !slices.Contains(kinds, k) {
			t.Errorf("notable events lack %s: %v", k, kinds)
		}
	}
	for _, e := range ev.Timeline {
		if strings.HasPrefix(e.Kind, "dut.") {
			t.Errorf("DUT frame in the timeline: %+v", e)
		}
	}
	if r.eventCount(runlog.KindDUTTx) != 23 || r.eventCount(runlog.KindDUTRx) != 23 {
		t.Errorf("DUT traffic counted %d tx, %d rx, want 23 each", r.eventCount(runlog.KindDUTTx), r.eventCount(runlog.KindDUTRx))
	}
	for line, want := range map[string]string{
		`{"t":0.000005,"kind":"dut.tx","msg":"1 HELLO *7DF0"}`: "dut.tx",
		`{"t":1e-05,"kind":"dut.rx","msg":"x"}`:                "dut.rx",
		`{"kind":"dut.tx","t":1}`:                              "",
		`{"t":1,"kind":"a\"b"}`:                                "",
	} {
		if got := string(quickKind([]byte(line))); got != want {
			t.Errorf("quickKind(%s) = %q, want %q", line, got, want)
		}
	}
}

// TestEventsDamaged checks that malformed and unfinished lines are left
// out and counted, not fatal.
func TestEventsDamaged(t *testing.T) {
	dir := copyRun(t, "pass")
	f, err := os.OpenFile(filepath.Join(dir, "events.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("not json\n{\"t\":1}\n{\"t\":12,\"kind\":\"fault\",\"msg\":\"torn")
	f.Close()
	r, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.events.Malformed != 2 {
		t.Errorf("%d malformed lines, want 2", r.events.Malformed)
	}
	for _, e := range r.events.Notable {
		if strings.Contains(e.Msg, "torn") {
			t.Error("an unfinished last line was read")
		}
	}
}

// TestBeats checks the beat statistics: per channel, per step and whole
// run, and no section without a beats file.
func TestBeats(t *testing.T) {
	r, err := load(fixtureRun(t, "pass"), false)
	if err != nil {
		t.Fatal(err)
	}
	b := r.beats
	if b == nil || b.Beats == 0 || b.Malformed != 0 {
		t.Fatalf("beats: %+v", b)
	}
	var steps []string
	for _, row := range b.Rows {
		if row.Channel == "aop" {
			steps = append(steps, row.Step)
		}
	}
	if want := []string{"1 baseline", "2.1 hold", "3 stop", "whole run"}; !slices.Equal(steps, want) {
		t.Errorf("aop beat rows %q, want %q", steps, want)
	}
	if h := b.Headers[0]; h != "Systolic [mmHg]" {
		t.Errorf("header %q", h)
	}
	f, err := load(fixtureRun(t, "fail"), false)
	if err != nil {
		t.Fatal(err)
	}
	if f.beats != nil {
		t.Error("beat statistics without a beats file")
	}
}

// TestCritSteps checks that criteria of a repeated step are matched to its
// executions in turn.
func TestCritSteps(t *testing.T) {
	r, err := load(fixtureRun(t, "pass"), false)
	if err != nil {
		t.Fatal(err)
	}
	got := critSteps(r.crit, r.steps)
	if want := []int{0, 1, 2, 3, 5, -1}; !slices.Equal(got, want) {
		t.Errorf("criteria in steps %v, want %v", got, want)
	}
}

// TestPickWaveSteps checks the choice of waveforms in a long run: first
// and last execution of each step, never a parent step.
func TestPickWaveSteps(t *testing.T) {
	steps := []stepExec{{Path: "1", StartS: 0, EndS: 10}}
	for i := range 100 {
		steps = append(steps, stepExec{Path: "2.1", StartS: 10 + float64(i), EndS: 11 + float64(i)})
	}
	steps = append(steps, stepExec{Path: "2", StartS: 10, EndS: 110}, stepExec{Path: "3", StartS: 110, EndS: 120})
	idx, note := pickWaveSteps(steps)
	if want := []int{0, 1, 100, 102}; !slices.Equal(idx, want) {
		t.Errorf("waveforms of steps %v, want %v", idx, want)
	}
	if !strings.Contains(note, "4 of 102") {
		t.Errorf("note %q", note)
	}
}

// TestStepStatsPooled checks that many executions of a step are pooled
// exactly: the pooled mean and standard deviation are those of all values.
func TestStepStatsPooled(t *testing.T) {
	var steps []stepExec
	var all moments
	for i := range maxStepExecs + 5 {
		var m moments
		for k := range 10 {
			v := float64(i*10 + k*k)
			m.add(v)
			all.add(v)
		}
		steps = append(steps, stepExec{Path: "1", Name: "hold", Stats: map[string]runlog.ChannelStats{"aop": m.channelStats("mmHg")}})
	}
	sv := stepStats(steps, synthLayout)
	if !sv.Pooled || len(sv.Rows) != 1 {
		t.Fatalf("not pooled: %+v", sv)
	}
	row := sv.Rows[0]
	if row.Mean != statNum(all.mean) || row.Std != statNum(all.std()) || row.Span != "35 executions" {
		t.Errorf("pooled %+v, want mean %s std %s", row, statNum(all.mean), statNum(all.std()))
	}
}

// TestGenerate writes the default reports into a run directory and the
// CSV into another, and checks that no temporary file is left behind.
func TestGenerate(t *testing.T) {
	dir := copyRun(t, "fail")
	if err := WriteAll(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{HTMLFile, PDFFile, JUnitFile} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	out := filepath.Join(t.TempDir(), "out")
	files, err := Generate(dir, Options{Formats: []string{"csv"}, OutDir: out})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	if want := []string{CriteriaCSVFile, FramesCSVFile}; !slices.Equal(names, want) { // no beats in this run
		t.Errorf("wrote %v, want %v", names, want)
	}
	for _, d := range []string{dir, out} {
		ents, _ := os.ReadDir(d)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".") {
				t.Errorf("temporary file left: %s", filepath.Join(d, e.Name()))
			}
		}
	}
	if _, err := ParseFormats("html,docx"); err == nil {
		t.Error("unknown format accepted")
	}
	if f, err := ParseFormats(" PDF, html,pdf "); err != nil || !slices.Equal(f, []string{"pdf", "html"}) {
		t.Errorf("ParseFormats: %v %v", f, err)
	}
}
