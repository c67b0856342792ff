package verdict_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mockloop/mockloop/rig"
	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/verdict"
)

// thinnedProtocol has criteria over frames (mean, max, an invariant) and
// over beats.jsonl (map).
const thinnedProtocol = `protocol: 1
name: thin
always:
  - {id: A-1, channel: aop, max: 300 mmHg}
steps:
  - name: rest
    set: {loop.preset: healthy}
    hold: 4 s
    criteria:
      - {id: T-1, measure: mean(aop), over: last 2 s, min: 50 mmHg}
      - {id: T-2, measure: max(lvp), max: 250 mmHg}
      - {id: T-3, measure: map(aop), min: 50 mmHg}
`

// TestRecomputeThinnedRecord: of a record that keeps 1 frame in 10, the
// values over beats are recomputed and those over frames are not (they
// are not comparable: the engine's were over every frame), which
// NotRecomputed says; result.json as written agrees. What an edit of it
// can still be caught at: a beat value, the limits, or a verdict the
// stated value does not get; an edited frame value with its verdict
// consistent is what the seal, not the data, guards.
func TestRecomputeThinnedRecord(t *testing.T) {
	src := []byte(thinnedProtocol)
	cfg, p := load(t, "sim-loop-only.yaml", "", src)
	res, dir, err := rig.Run(context.Background(), cfg, p, rig.Options{RunsDir: t.TempDir(), ProtocolFile: "p.yaml", ProtocolSource: src,
		Epoch: time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC), FramesEvery: 10})
	if err != nil || res.Outcome != runlog.OutcomePass {
		t.Fatalf("run: %v %+v", err, res)
	}
	rc, err := verdict.Recompute(dir)
	if err != nil {
		t.Fatal(err)
	}
	if rc.KeptEvery != 10 || len(rc.Criteria) != 4 {
		t.Fatalf("kept every %d, %d criteria", rc.KeptEvery, len(rc.Criteria))
	}
	for i, c := range rc.Criteria {
		why, beat := rc.NotRecomputed[i], c.Measure == "map(aop)"
		if beat != (why == "") || !beat && !strings.Contains(why, "the record keeps 1 frame in 10 (dry run)") {
			t.Errorf("%s %s: not recomputed %q", c.Step, c.Measure, why)
		}
	}
	if d := rc.Compare(res); len(d) > 0 {
		t.Fatalf("result.json as written differs: %v", d)
	}
	for _, tc := range []struct {
		name string
		edit func(r *runlog.Result)
		want string
	}{
		{"beat value", func(r *runlog.Result) { *r.Criteria[2].Value += 5 }, "criterion T-3 (map(aop)) in step 1: result.json states"},
		{"frame limits", func(r *runlog.Result) { r.Criteria[0].Limits = "≥ 40 mmHg" }, `result.json states limits "≥ 40 mmHg"`},
		{"frame verdict", func(r *runlog.Result) {
			r.Criteria[1].Verdict, r.Criteria[1].Pass, r.Outcome = runlog.VerdictFail, false, runlog.OutcomeFail
		}, "criterion T-2 (max(lvp)) in step 1: result.json states verdict fail for"},
		{"invariant value", func(r *runlog.Result) { *r.Criteria[3].Value = 350 }, "criterion A-1 (aop) in step always: result.json states verdict pass for 350 mmHg pass, the limits make it fail"},
	} {
		edited := *res
		edited.Criteria = make([]runlog.CriterionResult, len(res.Criteria))
		for i, c := range res.Criteria {
			if c.Value != nil {
				v := *c.Value
				c.Value = &v
			}
			edited.Criteria[i] = c
		}
		tc.edit(&edited)
		rc, err := verdict.Recompute(dir)
		if err != nil {
			t.Fatal(err)
		}
		if d := strings.Join(rc.Compare(&edited), "\n"); !strings.Contains(d, tc.want) {
			t.Errorf("%s: differences\n%s\nlack %q", tc.name, d, tc.want)
		}
	}
}
