package rig

import (
	"math"
	"testing"
	"time"

	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/sim"
)

// TestFrameTimeIsConversionTime: on the wall clock, with 10 % of the
// conversions lost at random (the emulated ADC withholds their data-ready,
// as a host that misses interrupts sees it), every step lasts what the
// protocol says to within one sample period, every frame lies inside the
// step that accounted it, and every conversion of the run is either a
// frame or part of a gap the record declares. What it asserts holds on a
// loaded machine as on an idle one: losses the load adds are accounted the
// same way.
func TestFrameTimeIsConversionTime(t *testing.T) {
	withBench(t, 0, func(b *sim.Bench) { b.ADC().DropConversions(0.1, 7) })
	src := header +
		"  - name: hold\n    hold: 1 s\n" +
		"  - name: faster\n    set: {loop.heart_rate: 90 bpm}\n    hold: 500 ms\n" +
		"  - name: ramp\n    ramp: {loop.heart_rate: {to: 70 bpm, over: 500 ms}}\n" +
		"  - name: until\n    until: {condition: mean(aop) > 400 mmHg, timeout: 300 ms, on_timeout: continue}\n"
	o := runDUTWith(t, forWallClock(simConfig(t)), src, Options{Realtime: true})
	if o.res.Outcome != runlog.OutcomePass {
		t.Fatalf("outcome %s %q", o.res.Outcome, o.res.AbortReason)
	}
	period := time.Millisecond
	want := map[string]time.Duration{"hold": time.Second, "faster": 500 * time.Millisecond, "ramp": 500 * time.Millisecond, "until": 300 * time.Millisecond}
	if len(o.res.Steps) != len(want) {
		t.Fatalf("%d steps, want %d", len(o.res.Steps), len(want))
	}
	type span struct{ lo, hi time.Duration }
	var spans []span
	for _, st := range o.res.Steps {
		lo, hi := secs(st.StartS), secs(st.EndS)
		if d := hi - lo; d < want[st.Name]-period || d > want[st.Name]+period {
			t.Errorf("step %q lasted %v in the record, want %v ± %v", st.Name, d, want[st.Name], period)
		}
		spans = append(spans, span{lo, hi})
	}
	var frames, outside int64
	var first, last time.Duration
	step := 0
	_, err := o.run.Frames(func(ft time.Duration, _ []float64) error {
		if frames == 0 {
			first = ft
		}
		frames, last = frames+1, ft
		for step < len(spans) && ft > spans[step].hi {
			step++
		}
		if step == len(spans) || ft <= spans[step].lo {
			outside++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if outside > 0 {
		t.Errorf("%d of %d frames lie outside every step", outside, frames)
	}
	var lost int64
	for _, e := range o.eventsOf(runlog.KindGap) {
		var g runlog.GapData
		if err := e.Decode(&g); err != nil {
			t.Fatal(err)
		}
		lost += g.Conversions
	}
	// From the first frame to the end of the last step: conversions lost
	// after the last frame are declared at the run's end.
	end := spans[len(spans)-1].hi
	conversions := int64((end-first)/period) + 1
	if frames+lost != conversions || last > end {
		t.Errorf("%d frames (the last at %v) and %d conversions declared lost, but the run spans %d conversions to %v", frames, last, lost, conversions, end)
	}
	// The drop fault alone takes 10 % (a binomial count: ±1 % is over 3σ
	// for 2300 conversions); load can only add to it.
	if f := float64(lost) / float64(conversions); f < 0.09 {
		t.Errorf("%.1f %% of conversions lost, the fault drops 10 %%", 100*f)
	}
	t.Logf("%d frames, %d conversions lost (%.1f %%)", frames, lost, 100*float64(lost)/float64(conversions))
}

func secs(s float64) time.Duration { return time.Duration(math.Round(s * 1e9)) }
