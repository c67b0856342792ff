package dut_test

import (
	"errors"
	"testing"
	"time"

	"github.com/mockloop/mockloop/dut"
	"github.com/mockloop/mockloop/dut/dutsim"
)

// TestSendBlindReachesASilentDevice: after the link is lost to a device
// that hears but no longer answers, a blind STOP still reaches it.
func TestSendBlindReachesASilentDevice(t *testing.T) {
	checkLeaks(t)
	srv, d := setup(t, dutsim.Config{Clock: virtual()}, dut.Config{})
	ctx := ctxT(t)
	must(t, d.SetMode(ctx, dut.ModeLevel))
	if _, err := d.SetLevel(ctx, 6); err != nil {
		t.Fatal(err)
	}
	if err := d.SendBlind("MODE", "STOP"); err == nil {
		t.Error("SendBlind on a live link was accepted")
	}
	srv.UpdateFaults(func(f *dutsim.Faults) { f.Silent = true })
	if _, err := d.Status(ctx); !errors.Is(err, dut.ErrLinkLost) {
		t.Fatalf("silent device: %v, want link lost", err)
	}
	if m := srv.Firmware().State().Mode; m != dut.ModeLevel {
		t.Fatalf("mode %v before the blind STOP", m)
	}
	must(t, d.SendBlind("MODE", "STOP"))
	// the firmware executes what arrives on the pty; give its reader a moment
	for range 200 {
		if srv.Firmware().State().Mode == dut.ModeStop {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Errorf("the silent device did not stop: mode %v", srv.Firmware().State().Mode)
}
