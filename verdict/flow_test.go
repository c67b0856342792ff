package verdict_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mockloop/mockloop/reports"
	"github.com/mockloop/mockloop/rig"
	"github.com/mockloop/mockloop/runlog"
)

// reported generates the HTML and JUnit reports of the run in dir, fails
// the test on an integrity failure (the record's verdicts recomputed
// differ from result.json), and returns the two files' text.
func reported(t *testing.T, dir string) (html, junit string) {
	t.Helper()
	out := t.TempDir()
	if _, err := reports.Generate(dir, reports.Options{Formats: []string{reports.FormatHTML, reports.FormatJUnit}, OutDir: out}); err != nil {
		t.Fatalf("reports: %v", err)
	}
	h, _ := os.ReadFile(filepath.Join(out, reports.HTMLFile))
	j, _ := os.ReadFile(filepath.Join(out, reports.JUnitFile))
	if strings.Contains(string(h), "INTEGRITY FAILED") {
		t.Error("the report says INTEGRITY FAILED")
	}
	return string(h), string(j)
}

// A criterion's marginal band (language 1.1): a passing value outside it
// is judged marginal, still a pass, by the engine and again from the
// record; one inside it passes plainly, and a failing value fails.
func TestMarginalBand(t *testing.T) {
	src := []byte(`protocol: 1
name: marginal
steps:
  - name: baseline
    set: {loop.preset: healthy}
    hold: 6 s
    criteria:
      - {id: MG-1, measure: mean(aop), between: [10 mmHg, 300 mmHg], marginal: {between: [20 mmHg, 30 mmHg]}}
      - {id: MG-2, measure: mean(aop), between: [10 mmHg, 300 mmHg], marginal: {min: 20 mmHg}}
      - {id: MG-3, measure: mean(aop), max: 30 mmHg, marginal: {max: 20 mmHg}}
  - name: again
    hold: 6 s
    criteria:
      - {id: MG-4, measure: mean(aop), relative_to: baseline, between: [-50 %, 50 %], marginal: {max: 49 %}}
`)
	res, dir := runOn(t, "sim-loop-only.yaml", "", src)
	want := map[string]runlog.Verdict{"MG-1": runlog.VerdictMarginal, "MG-2": runlog.VerdictPass, "MG-3": runlog.VerdictFail, "MG-4": runlog.VerdictPass}
	for _, c := range res.Criteria {
		if c.Verdict != want[c.ID] {
			t.Errorf("%s: verdict %s (value %v), want %s", c.ID, c.Verdict, c.Value, want[c.ID])
		}
		if c.Verdict == runlog.VerdictMarginal && (!c.Pass || c.Reason == "") {
			t.Errorf("%s: marginal with pass %v, reason %q: want a pass that says why", c.ID, c.Pass, c.Reason)
		}
	}
	if res.Outcome != runlog.OutcomeFail {
		t.Errorf("outcome %s, want fail (MG-3)", res.Outcome)
	}
	agrees(t, dir, res)
	html, junit := reported(t, dir)
	if !strings.Contains(html, `class="warn">MARGINAL`) {
		t.Error("the HTML report does not show MARGINAL in amber")
	}
	if !strings.Contains(junit, `<property name="marginal" value="true">`) {
		t.Error("the JUnit report has no marginal property")
	}
}

// A step with retry runs again while its criteria fail, up to count more
// times: every attempt is a step execution, the earlier attempts'
// criteria superseded, the last attempt's verdicts count; Recompute and
// the reports agree.
func TestRetry(t *testing.T) {
	src := []byte(`protocol: 1
name: retry
steps:
  - name: never
    set: {loop.preset: healthy}
    hold: 3 s
    retry: {count: 2}
    criteria:
      - {id: RT-1, measure: mean(aop), max: 1 mmHg}
  - name: once
    hold: 3 s
    retry: {count: 3}
    criteria:
      - {id: RT-2, measure: mean(aop), min: 1 mmHg}
  - name: outer
    retry: {count: 1}
    steps:
      - name: inner
        hold: 2 s
        criteria:
          - {id: RT-3, measure: mean(aop), min: 1 mmHg}
    criteria:
      - {id: RT-4, measure: mean(aop), max: 1 mmHg, on_fail: warn}
      - {id: RT-5, measure: mean(aop), max: 1 mmHg}
`)
	res, dir := runOn(t, "sim-loop-only.yaml", "", src)
	var got []string
	for _, c := range res.Criteria {
		if c.Step != "always" {
			got = append(got, c.ID+" "+string(c.Verdict))
		}
	}
	want := "RT-1 superseded, RT-1 superseded, RT-1 fail, RT-2 pass, RT-3 superseded, RT-4 superseded, RT-5 superseded, RT-3 pass, RT-4 warn, RT-5 fail"
	if strings.Join(got, ", ") != want {
		t.Errorf("criteria\n %s\nwant\n %s", strings.Join(got, ", "), want)
	}
	var steps []string
	for _, s := range res.Steps {
		steps = append(steps, fmt.Sprintf("%s#%d %s", s.Path, s.Attempt, s.Outcome))
	}
	wantSteps := "1#1 retried, 1#2 retried, 1#3 fail, 2#1 pass, 3.1#0 pass, 3#1 retried, 3.1#0 pass, 3#2 fail"
	if strings.Join(steps, ", ") != wantSteps {
		t.Errorf("steps\n %s\nwant\n %s", strings.Join(steps, ", "), wantSteps)
	}
	if res.Outcome != runlog.OutcomeFail {
		t.Errorf("outcome %s, want fail", res.Outcome)
	}
	agrees(t, dir, res)
	_, junit := reported(t, dir)
	if n := strings.Count(junit, "<failure"); n != 2 {
		t.Errorf("JUnit has %d failures, want 2 (the last attempts of steps 1 and 3)", n)
	}
	if !strings.Contains(junit, "SUPERSEDED") {
		t.Error("JUnit does not list the superseded attempts")
	}
}

// runWith is runOn on the loop-only simulated rig with run options opts.
func runWith(t *testing.T, src []byte, opts rig.Options) (*runlog.Result, string, []runlog.Event) {
	t.Helper()
	cfg, p := load(t, "sim-loop-only.yaml", "", src)
	opts.RunsDir, opts.ProtocolFile, opts.ProtocolSource = t.TempDir(), "p.yaml", src
	res, dir, err := rig.Run(context.Background(), cfg, p, opts)
	if err != nil {
		t.Fatal(err)
	}
	run, err := runlog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := run.ReadEvents()
	if err != nil {
		t.Fatal(err)
	}
	return res, dir, evs
}

const promptSrc = `protocol: 1
name: prompts
steps:
  - name: leak check
    set: {loop.preset: healthy}
    prompt: {id: leak-check, message: "Is the loop dry?", choices: [yes, no], expect: yes}
    hold: 2 s
  - name: pressure
    prompt: {id: cuff, message: "Cuff pressure?", input: number, unit: mmHg, timeout: 3 s, default: 80}
    hold: 1 s
  - name: note
    prompt: {id: note, message: "Anything to note?", input: text, timeout: 1 s, on_fail: warn}
  - name: after
    hold: 1 s
`

// Prompts answered on the command line, by default after the timeout
// with Prompts waiting (the rig holding and recording meanwhile), and not
// at all (no terminal, no default: the step fails at once, warning here):
// every answer an event saying who and how, the wrong one failing its
// step, the verdicts recomputed equal.
func TestPrompts(t *testing.T) {
	res, dir, evs := runWith(t, []byte(promptSrc), rig.Options{Answers: map[string]string{"leak-check": "no"}, Operator: "ana", Prompts: &rig.Prompts{}})
	var answers []string
	for _, ev := range evs {
		var d runlog.OperatorData
		if ev.Kind == runlog.KindOperator && ev.Decode(&d) == nil && d.Action == runlog.ActionPromptAnswer {
			answers = append(answers, fmt.Sprintf("%s %s %s by %q via %s", ev.Step, ev.Msg, d.New, d.By, d.Via))
		}
	}
	want := `1 prompt: leak-check no by "ana" via cli, 2 prompt: cuff 80 mmHg by "" via default`
	if strings.Join(answers, ", ") != want {
		t.Errorf("answers\n %s\nwant\n %s", strings.Join(answers, ", "), want)
	}
	var got []string
	for _, c := range res.Criteria {
		got = append(got, c.Step+" "+c.Measure+" "+string(c.Verdict)+" ("+c.Reason+")")
	}
	if want := "1 prompt leak-check fail (answered no), 3 prompt note warn (not answered)"; strings.Join(got, ", ") != want {
		t.Errorf("criteria\n %s\nwant\n %s", strings.Join(got, ", "), want)
	}
	if s := res.Steps[1]; s.EndS-s.StartS < 3.9 || s.Frames < 3*100 {
		t.Errorf("step 2 lasted %.2f s, %d frames: want the 3 s wait for an answer recorded, then the 1 s hold", s.EndS-s.StartS, s.Frames)
	}
	if s := res.Steps[0]; s.Outcome != runlog.OutcomeFail || res.Outcome != runlog.OutcomeFail {
		t.Errorf("step 1 %s, run %s: want the unexpected answer to fail both", s.Outcome, res.Outcome)
	}
	agrees(t, dir, res)
	reported(t, dir)
}

// Prompts.Answer refuses what the prompt would not take, and a prompt
// that is not waiting; the run takes a valid answer given while it waits.
func TestPromptAnsweredWhileWaiting(t *testing.T) {
	pr := &rig.Prompts{}
	var refused []error
	pr.OnAsk = func(d runlog.PromptData) {
		refused = append(refused, pr.Answer("other", "yes", runlog.OperatorData{}), pr.Answer(d.ID, "maybe", runlog.OperatorData{}))
		go func() {
			if err := pr.Answer(d.ID, "yes", runlog.OperatorData{By: "bo", Via: "bench-view"}); err != nil {
				t.Error(err)
			}
		}()
	}
	src := strings.Replace(promptSrc, "timeout: 3 s, ", "", 1)
	res, dir, _ := runWith(t, []byte(src), rig.Options{Prompts: pr, Answers: map[string]string{"cuff": "81 mmHg", "note": "none"}})
	if len(refused) != 2 || !errors.Is(refused[0], rig.ErrNoPrompt) || !errors.Is(refused[1], rig.ErrAnswer) {
		t.Errorf("refusals %v: want no such prompt, then not a valid answer", refused)
	}
	if c := res.Criteria[0]; c.Verdict != runlog.VerdictPass || c.Reason != "answered yes" {
		t.Errorf("leak check %s (%s), want pass, answered yes", c.Verdict, c.Reason)
	}
	if pr.Waiting() != nil {
		t.Error("a prompt still waits after the run")
	}
	agrees(t, dir, res)
}

// Without a terminal or bench view (no Prompts) a prompt takes --answer,
// then its default, at once; else the step fails at once: never a wait.
func TestPromptsWithoutTerminal(t *testing.T) {
	src := strings.Replace(promptSrc, "timeout: 1 s, ", "", 1)
	res, dir, _ := runWith(t, []byte(src), rig.Options{Answers: map[string]string{"leak-check": "yes"}})
	var got []string
	for _, s := range res.Steps {
		got = append(got, fmt.Sprintf("%s %.2f s %s", s.Path, s.EndS-s.StartS, s.Outcome))
	}
	if want := "1 2.00 s pass, 2 1.00 s pass, 3 0.00 s pass, 4 1.00 s pass"; strings.Join(got, ", ") != want {
		t.Errorf("steps\n %s\nwant\n %s", strings.Join(got, ", "), want)
	}
	if len(res.Criteria) != 2 || res.Criteria[1].Verdict != runlog.VerdictWarn || res.Criteria[1].Reason != "not answered" {
		t.Errorf("criteria %+v: want leak-check's pass and note's warning, not answered", res.Criteria)
	}
	agrees(t, dir, res)
}

// pauser requests a pause at frame time at and clears it after for.
type pauser struct {
	p        *rig.Pause
	at, for_ time.Duration
}

func (o *pauser) RunStarted(rig.RunInfo) {}
func (o *pauser) Beat(runlog.Beat)       {}
func (o *pauser) Event(runlog.Event)     {}
func (o *pauser) Frame(t time.Duration, _ []float64) {
	switch {
	case t >= o.at && t < o.at+o.for_ && !o.p.Requested():
		o.p.Set(true)
	case t >= o.at+o.for_ && o.p.Requested():
		o.p.Set(false)
	}
}

// A pause requested in the middle of a hold takes effect at once: the
// hold's remaining time waits, the step lasts hold + the pause, and its
// statistics and criteria leave the paused frames out, in the engine and
// in Recompute.
func TestPauseInsideHold(t *testing.T) {
	src := []byte(`protocol: 1
name: pause
steps:
  - name: hold
    set: {loop.preset: healthy}
    hold: 5 s
    criteria:
      - {id: P-1, measure: mean(aop), between: [10 mmHg, 300 mmHg]}
      - {id: P-2, measure: map(aop), over: last 2 s, between: [10 mmHg, 300 mmHg]}
      - {id: P-4, measure: end_diastolic(lvp), between: [-20 mmHg, 60 mmHg]}
  - name: nested
    repeat: {count: 2}
    steps:
      - hold: 2 s
        criteria:
          - {id: P-3, measure: mean(aop), between: [10 mmHg, 300 mmHg]}
`)
	p := &rig.Pause{}
	res, dir, evs := runWith(t, src, rig.Options{Pause: p, Observer: &pauser{p: p, at: 2 * time.Second, for_: 3 * time.Second}})
	st := res.Steps[0]
	rate := 0.0
	if r, err := runlog.Open(dir); err == nil {
		rate = r.Manifest.SampleRateHz
	}
	span := st.EndS - st.StartS
	if span < 7.99 || span > 8.1 {
		t.Errorf("the hold lasted %.3f s, want 5 s + the 3 s pause", span)
	}
	want := int64(5 * rate)
	if d := st.Frames - want; d < -2 || d > 2 {
		t.Errorf("the hold's statistics have %d frames, want %d (the %d paused ones left out)", st.Frames, want, int64(3*rate))
	}
	var where []string
	for _, ev := range evs {
		if ev.Kind == runlog.KindOperator && (ev.Msg == "paused" || ev.Msg == "resumed") {
			where = append(where, fmt.Sprintf("%s in %q at %.0f s", ev.Msg, ev.Step, ev.T))
		}
	}
	if len(where) != 2 || where[0] != `paused in "1" at 2 s` || where[1] != `resumed in "1" at 5 s` {
		t.Errorf("pause events %q", where)
	}
	agrees(t, dir, res)
	reported(t, dir)
}
