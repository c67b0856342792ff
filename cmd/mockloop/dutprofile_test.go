package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mockloop/mockloop/runlog"
)

// levelP8 is a short protocol that drives the DUT at P8.
const levelP8 = "protocol: 1\nname: p8\nsteps:\n  - set: {dut.level: P8}\n    hold: 3 s\n"

// TestDUTFlagRefusesProfileThatDoesNotFit: the Impella RP pumps RA → PA;
// on the left-sided rig, validate and run --dut impella-rp exit 3 and say
// why, before anything runs.
func TestDUTFlagRefusesProfileThatDoesNotFit(t *testing.T) {
	chdirRoot(t)
	proto := filepath.Join(t.TempDir(), "p8.yaml")
	if err := os.WriteFile(proto, []byte(levelP8), 0o644); err != nil {
		t.Fatal(err)
	}
	runs := t.TempDir()
	for _, args := range [][]string{
		{"validate", "--dut", "impella-rp", proto},
		{"run", "--quiet", "--runs", runs, "--dut", "impella-rp", proto},
	} {
		code, _, errOut := cli(t, args...)
		if code != exitInvalid || !strings.Contains(errOut, "--dut impella-rp: DUT profile impella-rp pumps ra → pa; this rig's pump sits lv → aorta") {
			t.Errorf("%s: exit %d, %q", args[0], code, errOut)
		}
	}
	if list, _ := runlog.List(runs); len(list) != 0 {
		t.Errorf("a refused run left %d records", len(list))
	}
	if code, _, errOut := cli(t, "validate", "--dut", "impella-9", proto); code != exitInvalid || !strings.Contains(errOut, `no shipped DUT profile "impella-9"`) {
		t.Errorf("unknown profile: exit %d, %q", code, errOut)
	}
}

// TestDUTFlagChoosesProfile: run --dut impella-cp runs the simulated CP
// (HELLO's model in the manifest) and records its profile.
func TestDUTFlagChoosesProfile(t *testing.T) {
	chdirRoot(t)
	proto := filepath.Join(t.TempDir(), "p8.yaml")
	if err := os.WriteFile(proto, []byte(levelP8), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := cli(t, "validate", "--dut", "impella-cp", proto); code != exitPass {
		t.Fatalf("validate: exit %d %q %q", code, out, errOut)
	}
	runs := t.TempDir()
	if code, _, errOut := cli(t, "run", "--quiet", "--runs", runs, "--dut", "impella-cp", proto); code != exitPass {
		t.Fatalf("run: exit %d %q", code, errOut)
	}
	list, _ := runlog.List(runs)
	if len(list) != 1 {
		t.Fatalf("%d records", len(list))
	}
	r, err := runlog.Open(list[0].Dir)
	if err != nil {
		t.Fatal(err)
	}
	m := r.Manifest
	if m.DUT == nil || m.DUT.Model != "dutsim-impella-cp" || m.DUTProfile == nil || m.DUTProfile.Name != "impella-cp" || len(m.DUTProfile.SHA256) != 64 {
		t.Errorf("manifest DUT %+v, profile %+v", m.DUT, m.DUTProfile)
	}
}
