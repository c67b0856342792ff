package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mockloop/mockloop/runlog"
)

// --frames is refused before anything moves (exit 3, no record) with bad
// syntax, on the wall clock and with --resume, saying why.
func TestRunFramesRefused(t *testing.T) {
	chdirRoot(t)
	noCI(t)
	dir := t.TempDir()
	proto := judgedProtocol(t, dir, "thin", "{measure: mean(aop), min: 10 mmHg}")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no every", []string{"--frames", "10"}, `frames "10": want every:N, one frame in N kept`},
		{"zero", []string{"--frames", "every:0"}, `frames "every:0": N must be a whole number from 1`},
		{"not a number", []string{"--frames", "every:ten"}, "N must be a whole number from 1"},
		{"fraction", []string{"--frames", "every:2.5"}, "N must be a whole number from 1"},
		{"realtime", []string{"--frames", "every:10", "--realtime"}, "frames every:10 keeps 1 frame in 10 for dry runs on virtual time only, and the run is on the wall clock (--realtime)"},
		{"hardware", []string{"--frames", "every:10", "--rig", "configs/rigs/pi-mcl.yaml", "--allow-dev-build", "test"}, "is hardware: a run on the wall clock keeps every frame"},
	} {
		runs := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
		code, out, errOut := cli(t, append(append([]string{"run", "--quiet", "--runs", runs}, tc.args...), proto)...)
		if code != exitInvalid || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, want 3 saying %q\n%s%s", tc.name, code, tc.want, out, errOut)
		}
		if m, _ := filepath.Glob(filepath.Join(runs, "*", "manifest.json")); len(m) > 0 {
			t.Errorf("%s: a run was recorded: %v", tc.name, m)
		}
	}
}

// TestRunFramesEveryTen: a dry run with --frames every:10 records a tenth
// of the frames of the same run with every frame (±1), judges the same
// criteria, and says so in its manifest (valid against the schema), its
// summary, its reports, its JUnit and `verify`, which finds it intact.
func TestRunFramesEveryTen(t *testing.T) {
	chdirRoot(t)
	noCI(t)
	dir := t.TempDir()
	proto := judgedProtocol(t, dir, "thin", "{id: T-1, measure: mean(aop), min: 10 mmHg}")
	runOnce := func(frames string) (*runlog.Run, string) {
		runs := filepath.Join(dir, strings.ReplaceAll(frames, ":", "-"))
		code, out, errOut := cli(t, "run", "--quiet", "--runs", runs, "--frames", frames, proto)
		if code != exitPass {
			t.Fatalf("--frames %s: exit %d\n%s%s", frames, code, out, errOut)
		}
		return openOnlyRun(t, runs), out
	}
	all, allOut := runOnce("every:1")
	thin, out := runOnce("every:10")
	if all.Manifest.FramesKeptEvery != 1 || thin.Manifest.FramesKeptEvery != 10 {
		t.Errorf("manifests say frames_kept_every %d and %d, want 1 and 10", all.Manifest.FramesKeptEvery, thin.Manifest.FramesKeptEvery)
	}
	if n, want := thin.Result.Frames, all.Result.Frames/10; n < want-1 || n > want+1 || all.Result.Frames < 1900 {
		t.Errorf("every:10 recorded %d frames, every:1 %d: want %d ± 1", n, all.Result.Frames, want)
	}
	if len(thin.Result.Criteria) != 1 || *thin.Result.Criteria[0].Value != *all.Result.Criteria[0].Value {
		t.Errorf("criteria differ:\n%+v\n%+v", thin.Result.Criteria, all.Result.Criteria)
	}
	if thin.Result.Steps[0].Frames != all.Result.Steps[0].Frames {
		t.Errorf("step frames acquired %d, every:1 %d", thin.Result.Steps[0].Frames, all.Result.Steps[0].Frames)
	}
	validRecord(t, thin.Dir)
	if !strings.Contains(out, "frames: 1 in 10 kept in the record (dry run, --frames every:10)") || strings.Contains(allOut, "kept") {
		t.Errorf("summaries:\n%s\n%s", out, allOut)
	}
	for file, wants := range map[string][]string{
		"junit.xml":   {`<property name="frames_kept_every" value="10">`},
		"report.html": {"Dry run: 1 frame in 10 kept in the record and InfluxDB (--frames every:10)", "1 frame in 10 kept (dry run)", "frames (1 frame in 10 kept)", "1 value over frames as stated: the record keeps 1 frame in 10 (dry run)"},
	} {
		b, err := os.ReadFile(filepath.Join(thin.Dir, file))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range wants {
			if !strings.Contains(string(b), want) {
				t.Errorf("%s lacks %q", file, want)
			}
		}
		if strings.Contains(string(b), "INTEGRITY FAILED") {
			t.Errorf("%s says INTEGRITY FAILED", file)
		}
		if b, _ := os.ReadFile(filepath.Join(all.Dir, file)); strings.Contains(string(b), "frames_kept_every") || strings.Contains(string(b), "frame in") {
			t.Errorf("every:1's %s says frames were left out", file)
		}
	}
	code, vout, verr := cli(t, "verify", thin.Dir)
	if code != exitPass || !strings.Contains(vout, "frames: 1 in 10 kept (dry run, --frames every:10)") {
		t.Errorf("verify: exit %d\n%s%s", code, vout, verr)
	}
	// a thinned run is not resumed, and --frames with --resume is refused
	code, _, errOut := cli(t, "run", "--quiet", "--resume", all.Dir, "--reason", "test", "--frames", "every:10")
	if code != exitInvalid || !strings.Contains(errOut, "a resumed run goes on keeping what its record kept") {
		t.Errorf("--resume with --frames: exit %d\n%s", code, errOut)
	}
}
