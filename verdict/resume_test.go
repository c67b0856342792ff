package verdict_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mockloop/mockloop/rig"
	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/verdict"
)

// resumeSrc has a reference step, beats, an invariant and a repeated last
// step, which the interruption cuts into, with a phase measure (its beats
// found again on the frames, by a detector started afresh at the resume).
const resumeSrc = `protocol: 1
name: resume
always:
  - {id: A-1, channel: aop, max: 200 mmHg}
steps:
  - name: one
    set: {loop.preset: healthy}
    hold: 4 s
    criteria:
      - {id: C1, measure: mean(aop), over: last 2 s, between: [80 mmHg, 120 mmHg]}
  - name: two
    set: {loop.resistance: 1.5 mmHg·s/ml}
    hold: 4 s
    criteria:
      - {id: C2, measure: map(aop), min: 60 mmHg}
  - name: three
    repeat: {count: 3}
    steps:
      - hold: 2 s
        criteria:
          - {id: C3, measure: mean(aop), relative_to: one, between: [-5 %, 40 %]}
          - {id: C4, measure: max(aop), min: 500 mmHg}
          - {id: C5, measure: end_diastolic(lvp), max: 100 mmHg}
`

// interrupt makes the closed run in dir one whose process died 1 s into
// step cut: its events after then are gone, its result and seal too, and
// Recover closes it as interrupted (the frames after then stay: a process
// syncs its frames and events apart).
func interrupt(t *testing.T, dir, cut string) {
	t.Helper()
	evs, err := os.ReadFile(filepath.Join(dir, "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var kept bytes.Buffer
	end := -1.0
	for line := range bytes.Lines(evs) {
		var ev runlog.Event
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatal(err)
		}
		if end < 0 && ev.Kind == runlog.KindStepStart && ev.Step == cut {
			end = ev.T + 1
		}
		if end >= 0 && ev.T > end {
			break
		}
		kept.Write(line)
	}
	os.WriteFile(filepath.Join(dir, "events.jsonl"), kept.Bytes(), 0o644)
	os.Remove(filepath.Join(dir, "result.json"))
	os.Remove(filepath.Join(dir, runlog.SealFile))
	m, _ := os.ReadFile(filepath.Join(dir, "manifest.json"))
	os.WriteFile(filepath.Join(dir, "manifest.json"), bytes.Replace(m, []byte(`"state": "closed"`), []byte(`"state": "running"`), 1), 0o644)
	if ids, err := runlog.Recover(filepath.Dir(dir)); err != nil || len(ids) != 1 {
		t.Fatalf("recover: %v %v", ids, err)
	}
}

// An interrupted run recomputes to what Recover made of it (no criteria:
// the engine never closed it), and the run resumed from it to what the
// resumed engine judged: the first steps' criteria kept, the cut step's
// judged anew against the reference kept from before the interruption,
// invariants over both parts.
func TestRecomputeInterruptedAndResumedRuns(t *testing.T) {
	cfg, p := load(t, "sim-loop-only.yaml", "", []byte(resumeSrc))
	_, dir := runOn(t, "sim-loop-only.yaml", "", []byte(resumeSrc))
	interrupt(t, dir, "3[2].1")
	run, err := runlog.Open(dir)
	if err != nil || run.Result == nil || run.Result.Outcome != runlog.OutcomeInterrupted {
		t.Fatalf("interrupted record: %+v %v", run, err)
	}
	rc, err := verdict.Recompute(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diffs := rc.Compare(run.Result); len(diffs) > 0 || len(rc.Criteria) != 0 || rc.Outcome != runlog.OutcomeInterrupted {
		t.Errorf("interrupted: %d criteria, %s, differences %q; want none, interrupted", len(rc.Criteria), rc.Outcome, diffs)
	}

	res, _, err := rig.Run(context.Background(), cfg, p, rig.Options{RunsDir: filepath.Dir(dir), ProtocolFile: "p.yaml", ProtocolSource: []byte(resumeSrc),
		Resume: dir, Reason: "the verdict test resumes it", Epoch: time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int{}
	for _, c := range res.Criteria {
		ids[c.ID]++
	}
	if ids["C1"] != 1 || ids["C2"] != 1 || ids["C3"] != 3 || ids["C4"] != 3 || ids["C5"] != 3 || ids["A-1"] != 1 || res.Outcome != runlog.OutcomeFail {
		t.Fatalf("resumed run: %v %s; want C1, C2 kept, step 3's judged anew, A-1, fail", ids, res.Outcome)
	}
	agrees(t, dir, res)
}
