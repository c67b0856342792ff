package fidelity

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/rig"
)

// TestEvaluateRangeAndTolerance: a range passes only inside (its error is
// how far outside), a figure only within its tolerance on each side, and
// a value that could not be measured fails.
func TestEvaluateRangeAndTolerance(t *testing.T) {
	fig := Case{Published: Figure(9.6), Tol: Factor(9.6, 0.5, 2, "½×–2×")}
	pct := Case{Published: Figure(117), Tol: Pct(117, 3, "3 %")}
	for _, c := range []struct {
		name     string
		c        Case
		sim      float64
		wantErr  float64
		wantPass bool
	}{
		{"in range", Case{Published: Range(2.1, 2.4)}, 2.2, 0, true},
		{"range's lower bound", Case{Published: Range(2.1, 2.4)}, 2.1, 0, true},
		{"below range", Case{Published: Range(2.1, 2.4)}, 2.0, -0.1, false},
		{"above range", Case{Published: Range(2.1, 2.4)}, 2.5, 0.1, false},
		{"above an open-ended lower bound", Case{Published: Above(15)}, 40, 0, true},
		{"below a lower bound", Case{Published: Above(15)}, 14, -1, false},
		{"above an upper bound", Case{Published: Below(90)}, 91, 1, false},
		{"within ±3 %", pct, 120, 3, true},
		{"beyond +3 %", pct, 121, 4, false},
		{"beyond −3 %", pct, 113, -4, false},
		{"half the published change", fig, 4.8, -4.8, true},
		{"less than half", fig, 4.7, -4.9, false},
		{"twice the published change", fig, 19.2, 9.6, true},
		{"more than twice", fig, 19.3, 9.7, false},
		{"not measured", Case{Published: Range(0, 1)}, math.NaN(), math.NaN(), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			errv, pass := c.c.Evaluate(c.sim)
			if pass != c.wantPass || !(math.Abs(errv-c.wantErr) < 1e-9 || math.IsNaN(errv) && math.IsNaN(c.wantErr)) {
				t.Errorf("Evaluate(%g) = %g, %v; want %g, %v", c.sim, errv, pass, c.wantErr, c.wantPass)
			}
		})
	}
}

// TestCasesAreComplete: every case has a unique id, a source, a rig, a
// method and an experiment that exists; a published figure has a
// tolerance with its reason, a range none; and every generated protocol
// is valid on its rig with its device (checked without running it).
func TestCasesAreComplete(t *testing.T) {
	es := experiments()
	seen := map[string]bool{}
	for _, c := range Cases() {
		if seen[c.ID] {
			t.Errorf("case id %s twice", c.ID)
		}
		seen[c.ID] = true
		e, ok := es[c.Experiment]
		if c.Source == "" || c.Rig == "" || c.Method == "" || c.What == "" || c.Value == nil || !ok {
			t.Errorf("case %s incomplete: %+v", c.ID, c)
		}
		if !strings.HasPrefix(c.Rig, e.rig) {
			t.Errorf("case %s says rig %s, its experiment runs on %s", c.ID, c.Rig, e.rig)
		}
		if !c.Published.IsRange() && (c.Tol.Why == "" || c.Tol.Below <= 0 || c.Tol.Above <= 0) {
			t.Errorf("case %s: a figure without a tolerance and its reason", c.ID)
		}
		if c.Published.IsRange() && (c.Tol != Tolerance{}) {
			t.Errorf("case %s: a range with a tolerance", c.ID)
		}
		if !strings.Contains(strings.Join(Groups(), "\n"), c.Group) || c.Group == "" {
			t.Errorf("case %s: group %q is not the report's", c.ID, c.Group)
		}
	}
	for id, e := range es {
		if e.direct != nil {
			continue
		}
		cfg, err := rig.LoadConfig("../configs/rigs/" + e.rig)
		if err != nil {
			t.Fatal(err)
		}
		if e.dut != "" {
			if err := cfg.SetDUTProfile(e.dut); err != nil {
				t.Fatalf("%s: %v", id, err)
			}
		}
		if _, err := protocols.Parse(id+".yaml", []byte("protocol: 1\nname: t\nsteps:\n"+e.steps), cfg.Info()); err != nil {
			t.Errorf("experiment %s: %v", id, err)
		}
	}
}

// TestESPVRSlopeIsEmax: the end-systolic points of Simaan's heart at three
// afterloads lie on a line whose slope is the model's Emax (2.0 mmHg/ml)
// within the case's tolerance.
func TestESPVRSlopeIsEmax(t *testing.T) {
	ms, err := espvr()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ESPVR slope %.3f mmHg/ml", ms["slope"])
	for _, c := range Cases() {
		if c.ID == "simaan.espvr" {
			if _, pass := c.Evaluate(c.Value(ms)); !pass {
				t.Errorf("ESPVR slope %.3f mmHg/ml, outside %s", ms["slope"], Result{Case: c}.PublishedText())
			}
		}
	}
}

// TestStoppedRunIsNoVerdict: runs stopped by their context (SIGINT to
// `mockloop fidelity`) end in an error, not in cases failed by the
// model: their aborted outcomes say nothing of its fidelity.
func TestStoppedRunIsNoVerdict(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var cs []Case
	for _, c := range Cases() {
		if c.Experiment == "simaan" {
			cs = append(cs, c)
		}
	}
	res, err := Run(ctx, Options{RigDir: "../configs/rigs", Cases: cs})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run with a cancelled context: %v, %d results; want context.Canceled", err, len(res))
	}
}
