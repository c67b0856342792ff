package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/dut"
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

// TestDUTSimCommandIsTheProfilesDevice: `mockloop dut-sim --profile
// impella-rp` is the RP on its pty: HELLO reports its model, P8 is its
// level, and a speed above its top is refused; an unknown profile exits 3.
func TestDUTSimCommandIsTheProfilesDevice(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() { done <- cmdDUTSim(ctx, []string{"--profile", "impella-rp"}, &out, &errOut) }()
	var path string
	for range 500 { // a hang guard, not a deadline
		if path = strings.TrimSpace(out.String()); path != "" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.HasPrefix(path, "/dev/pts/") {
		t.Fatalf("dut-sim printed %q, %q", path, errOut.String())
	}
	d, err := dut.Dial(ctx, dut.Config{Path: path, Clock: clock.NewReal()})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if id := d.Identity(); id.Model != "dutsim-impella-rp" {
		t.Errorf("HELLO model %q, want dutsim-impella-rp", id.Model)
	}
	if err := d.SetMode(ctx, dut.ModeLevel); err != nil {
		t.Fatal(err)
	}
	if rpm, err := d.SetLevel(ctx, 8); err != nil || rpm != 32500 {
		t.Errorf("P8: %d rpm, %v; want the RP's 32500", rpm, err)
	}
	if err := d.SetMode(ctx, dut.ModeSpeed); err != nil {
		t.Fatal(err)
	}
	var de *dut.Error
	if err := d.SetSpeed(ctx, 34000); !errors.As(err, &de) || de.Code != dut.CodeBadArgument {
		t.Errorf("SPEED 34000 above the RP's 33000: %v", err)
	}
	d.Close()
	cancel()
	if code := <-done; code != exitPass {
		t.Errorf("exit %d", code)
	}
	var o, e bytes.Buffer
	if code := cmdDUTSim(context.Background(), []string{"--profile", "impella-9"}, &o, &e); code != exitInvalid || !strings.Contains(e.String(), `no shipped DUT profile "impella-9"`) {
		t.Errorf("unknown profile: exit %d %q", code, e.String())
	}
}
