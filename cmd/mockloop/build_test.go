package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `mockloop run` on a hardware rig refuses the test binary, a development
// build, before it touches the bench, and says how to go on; the
// simulated rig runs it (TestDemo and the rest).
func TestRunRefusesDevelopmentBuildOnHardware(t *testing.T) {
	chdirRoot(t)
	runs := t.TempDir()
	code, _, stderr := cli(t, "run", "--quiet", "--runs", runs, "--rig", "configs/rigs/pi-mcl.yaml", "configs/protocols/loop-characterisation.yaml")
	if code != exitInvalid || !strings.Contains(stderr, "development build") || !strings.Contains(stderr, "--allow-dev-build REASON") {
		t.Errorf("run on pi-mcl with a development build: exit %d, %q; want %d and how to go on", code, stderr, exitInvalid)
	}
	if ents, _ := os.ReadDir(runs); len(ents) > 0 {
		t.Errorf("a refused run left %s in the runs folder", filepath.Join(runs, ents[0].Name()))
	}
	// the bench view refuses at start-up what each of its runs would
	code, _, stderr = cli(t, "serve", "--rig", "configs/rigs/pi-mcl.yaml", "--runs", runs)
	if code != exitInvalid || !strings.Contains(stderr, "development build") || !strings.Contains(stderr, "--allow-dev-build REASON") {
		t.Errorf("serve on pi-mcl with a development build: exit %d, %q; want %d and how to go on", code, stderr, exitInvalid)
	}
	if code, out, _ := cli(t, "version"); !strings.Contains(out, "(development build: not a tagged release)") {
		t.Errorf("version: %d %q, want it to say development build", code, out)
	}
}
