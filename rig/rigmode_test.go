package rig

import (
	"testing"

	"github.com/mockloop/mockloop/runlog"
)

// A run's manifest says the rig's mode (rig_mode, schema 1.2.0), so that
// the record of a hybrid run, whose lvp, aop, … are the controller's
// model's, is known as one without its rig config; a numerical rig's
// says numerical.
func TestManifestRigMode(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"sim-hybrid.yaml", runlog.RigModeHybrid},
		{"sim.yaml", runlog.RigModeNumerical},
	} {
		cfg := hybridConfig(t, tc.file)
		o := runDUT(t, cfg, header+"  - hold: 1 s\n")
		if m := o.run.Manifest; m.RigMode != tc.want || m.Mode() != tc.want {
			t.Errorf("%s: rig_mode %q (Mode %q), want %q", tc.file, m.RigMode, m.Mode(), tc.want)
		}
	}
}
