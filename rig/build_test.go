package rig

import (
	"errors"
	"testing"

	"github.com/mockloop/mockloop/runlog"
)

// A development build drives the simulated rig freely, a hardware rig only
// with --allow-dev-build REASON, and then the run records a deviation
// entry with the reason and the person; a release drives any rig.
func TestDevelopmentBuildOnHardwareNeedsAReason(t *testing.T) {
	dev := &runlog.Build{Version: "dev"}
	rel := &runlog.Build{Version: "v1.4.0", Release: true}
	for _, tc := range []struct {
		name      string
		backend   string
		build     *runlog.Build
		reason    string
		refused   bool
		deviation bool
	}{
		{"dev build, sim", "sim", dev, "", false, false},
		{"dev build, hardware", "hardware", dev, "", true, false},
		{"dev build, hardware, allowed", "hardware", dev, "bench fix 412 under test", false, true},
		{"release, hardware", "hardware", rel, "", false, false},
		{"release, hardware, reason given anyway", "hardware", rel, "x", false, false},
		{"build not recorded (library caller)", "hardware", nil, "", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &Config{Name: "bench-1", Backend: tc.backend}
			d, err := devBuildDeviation(cfg, Options{Build: tc.build, AllowDevBuild: tc.reason, Operator: "A. Operator"})
			if refused := errors.Is(err, ErrDevBuild); refused != tc.refused {
				t.Fatalf("refused %v (%v), want %v", refused, err, tc.refused)
			}
			if (d != nil) != tc.deviation {
				t.Fatalf("deviation %+v, want %v", d, tc.deviation)
			}
			if d != nil && (d.Action != runlog.ActionAllowDevBuild || !d.Deviation || d.Reason != tc.reason ||
				d.By != "A. Operator" || d.Via != "cli" || d.At.IsZero() || d.New != "dev") {
				t.Errorf("deviation entry %+v", *d)
			}
		})
	}
}

// A run whose caller gives no Build to check (the bench view's) still
// records the running build, named by its version, so its reports say
// whether it is a release.
func TestRunRecordsBuildWithoutOne(t *testing.T) {
	if b := buildOf(Options{Version: "dev"}); b == nil || b.Version != "dev" || b.Release {
		t.Errorf("build of a dev version: %+v", b)
	}
	given := &runlog.Build{Version: "v1.4.0", Release: true}
	if b := buildOf(Options{Version: "x", Build: given}); b != given {
		t.Errorf("build given: %+v", b)
	}
}
