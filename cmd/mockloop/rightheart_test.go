package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateOnTheRightHeartBench: validate accepts on pi-mcl-rp.yaml a
// protocol that sets the RV's contractility, the pulmonary resistance and
// the Impella RP's level; pi-mcl.yaml, without a right heart, refuses it at
// the parameter; and --dut with a left-sided profile does not fit the
// bench's RA → PA placement.
func TestValidateOnTheRightHeartBench(t *testing.T) {
	chdirRoot(t)
	proto := filepath.Join(t.TempDir(), "rp.yaml")
	src := "protocol: 1\nname: rp\nrequires: [rap, pap, flow_pa]\nsteps:\n" +
		"  - set: {loop.preset: rv_failure, loop.rv_contractility: 10 %, loop.pulmonary_resistance: 0.2 mmHg·s/ml, dut.level: P8}\n" +
		"    hold: 30 s\n"
	if err := os.WriteFile(proto, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := cli(t, "validate", "--rig", "configs/rigs/pi-mcl-rp.yaml", proto); code != exitPass || !strings.Contains(out, "protocol rp is valid for rig pi-mcl-rp (1 step)") {
		t.Errorf("pi-mcl-rp.yaml: exit %d %q %q", code, out, errOut)
	}
	if code, _, errOut := cli(t, "validate", "--rig", "configs/rigs/pi-mcl.yaml", proto); code != exitInvalid || !strings.Contains(errOut, proto+":5:36: rig pi-mcl does not support parameter loop.rv_contractility") {
		t.Errorf("pi-mcl.yaml: exit %d %q", code, errOut)
	}
	if code, _, errOut := cli(t, "validate", "--rig", "configs/rigs/pi-mcl-rp.yaml", "--dut", "impella-cp", proto); code != exitInvalid || !strings.Contains(errOut, "pumps lv → aorta; this rig's pump sits ra → pa") {
		t.Errorf("--dut impella-cp: exit %d %q", code, errOut)
	}
}
