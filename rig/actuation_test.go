package rig

import (
	"testing"

	"github.com/mockloop/mockloop/protocols"
)

// TestEveryParamActuated: every parameter of the language has its
// actuation kind in the rig, and a closed-loop kind its default gains, so
// a parameter added to protocols.ParamTable without its actuation is
// caught here rather than refused at a bench's config.
func TestEveryParamActuated(t *testing.T) {
	for _, p := range protocols.ParamTable {
		a, ok := actuations[p.Actuation]
		switch {
		case !ok:
			t.Errorf("%s: the rig has no actuation %q", p.Name, p.Actuation)
		case a.target != nil && a.gains.Kp == 0 && a.gains.Ki == 0:
			t.Errorf("%s: closed-loop target without default gains", p.Name)
		case a.apply == nil && a.target == nil && p.Actuation != protocols.ActPreset:
			t.Errorf("%s: actuation %q neither applies nor controls", p.Name, p.Actuation)
		case p.Off && a.target == nil:
			t.Errorf("%s accepts off but is not a closed-loop target", p.Name)
		}
	}
}
