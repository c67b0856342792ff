package verdict_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mockloop/mockloop/verdict"
)

// FuzzRecomputeEditedRecord edits what a user can edit in a record and
// Recompute reads as text: events.jsonl (the step windows, setpoints,
// resumes) and rig.yaml (beat channels, presets). Recompute must return a
// result or an error, never panic or hang, whatever they hold. go test
// ./verdict -run - -fuzz FuzzRecomputeEditedRecord
func FuzzRecomputeEditedRecord(f *testing.F) {
	src := []byte(`protocol: 1
name: fuzz
always:
  - {id: A-1, channel: aop, max: 200 mmHg}
steps:
  - name: one
    set: {loop.preset: healthy}
    hold: 2 s
    criteria:
      - {id: C1, measure: mean(aop), over: last 1 s, min: 10 mmHg}
      - {id: C2, measure: map(aop), min: 10 mmHg}
  - repeat: {count: 2}
    steps:
      - hold: 1 s
        criteria:
          - {id: C3, measure: mean(aop), relative_to: one, between: [-50 %, 50 %]}
`)
	// Each fuzz worker, a process of its own, makes its record on a bench
	// lock of its own.
	f.Setenv("MOCKLOOP_LOCK_DIR", f.TempDir())
	_, orig := runOn(f, "sim-loop-only.yaml", "", src)
	evs, err := os.ReadFile(filepath.Join(orig, "events.jsonl"))
	if err != nil {
		f.Fatal(err)
	}
	rigYAML, err := os.ReadFile(filepath.Join(orig, "rig.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(evs, rigYAML)
	f.Add(evs[:len(evs)/2], rigYAML[:len(rigYAML)/3])
	f.Add([]byte(`{"t":1,"kind":"step.start","step":"9[1].7","msg":"x"}`+"\n"+`{"t":0,"kind":"step.end","step":"9[1].7","msg":"pass"}`+"\n"), []byte("beats: [nope]\npresets: {a: {}}\n"))
	f.Add([]byte(`{"t":1,"kind":"run.resumed","data":{"completed_steps":-3}}`+"\n"+`{"t":2,"kind":"until.timeout","step":"1"}`+"\n"), []byte("beats: {x: 1}\n"))
	f.Fuzz(func(t *testing.T, events, rigCopy []byte) {
		dir := filepath.Join(t.TempDir(), filepath.Base(orig))
		if err := os.CopyFS(dir, os.DirFS(orig)); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "events.jsonl"), events, 0o644)
		os.WriteFile(filepath.Join(dir, "rig.yaml"), rigCopy, 0o644)
		rc, err := verdict.Recompute(dir)
		if err == nil {
			if len(rc.Tol) != len(rc.Criteria) {
				t.Errorf("%d tolerances for %d criteria", len(rc.Tol), len(rc.Criteria))
			}
		}
	})
}
