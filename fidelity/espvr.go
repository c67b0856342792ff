package fidelity

import (
	"fmt"
	"time"

	"github.com/mockloop/mockloop/pumpctl"
	"github.com/mockloop/mockloop/sim"
)

// espvr measures the slope of the end-systolic pressure–volume relation
// of Simaan's normal heart the way a PV-loop study does: the end-systolic
// point (aortic valve closure) of loops at three afterloads, and the
// least-squares line through them. It runs Simaan's loop in package sim
// directly: the rig has no LV volume channel.
func espvr() (Measures, error) {
	var vs, ps []float64
	for _, rs := range []float64{0.7, 1.0, 1.4} {
		v, p, err := endSystole(rs)
		if err != nil {
			return nil, err
		}
		vs, ps = append(vs, v), append(ps, p)
	}
	var mv, mp float64
	for i := range vs {
		mv, mp = mv+vs[i]/3, mp+ps[i]/3
	}
	var sxy, sxx float64
	for i := range vs {
		sxy += (vs[i] - mv) * (ps[i] - mp)
		sxx += (vs[i] - mv) * (vs[i] - mv)
	}
	if sxx == 0 {
		return nil, fmt.Errorf("espvr: the end-systolic volumes do not differ")
	}
	return Measures{"slope": sxy / sxx}, nil
}

// endSystole settles Simaan's normal heart at 75 bpm with systemic
// resistance rs (mmHg·s/ml) for 20 s and returns the mean LV volume (ml)
// and pressure (mmHg) at aortic valve closure over the next 5 beats.
func endSystole(rs float64) (v, p float64, err error) {
	prm := sim.SimaanNormal()
	prm.Rs = rs
	l, err := sim.NewLoop(prm, sim.SimaanInitial())
	if err != nil {
		return 0, 0, err
	}
	w, err := pumpctl.NewCardiacWaveform(75, 2.0, prm.Emin)
	if err != nil {
		return 0, 0, err
	}
	const dt = time.Millisecond
	var t time.Duration
	ejecting := false
	n := 0
	for n < 5 {
		if err := l.SetActiveElastance(w.Active()); err != nil {
			return 0, 0, err
		}
		t += dt
		l.AdvanceTo(t)
		w.Advance(dt)
		s := l.State()
		open := s.AorticValveFlow > 0
		if ejecting && !open && t > 20*time.Second {
			v, p, n = v+s.LVVolume, p+s.LVP, n+1
		}
		ejecting = open
		if t > 60*time.Second {
			return 0, 0, fmt.Errorf("espvr: no aortic valve closure at Rs %g", rs)
		}
	}
	return v / 5, p / 5, nil
}
