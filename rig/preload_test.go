package rig

import (
	"context"
	"math"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mockloop/mockloop/protocols"
)

// beatLAP is the mean left-atrial pressure of every aortic beat of a run
// from its record: the frames' lap averaged over each beat of beats.jsonl.
type lapBeat struct{ start, end, lap float64 }

func beatLAP(t *testing.T, o runOut) []lapBeat {
	t.Helper()
	beats, err := o.run.ReadBeats()
	if err != nil {
		t.Fatal(err)
	}
	col := -1
	for j, ch := range o.run.Manifest.Layout {
		if ch.Name == "lap" {
			col = j
		}
	}
	var ts, vs []float64
	if _, err := o.run.Frames(func(at time.Duration, frame []float64) error {
		ts, vs = append(ts, at.Seconds()), append(vs, frame[col])
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var out []lapBeat
	i := 0
	for _, b := range beats {
		if b.Channel != "aop" {
			continue
		}
		for i < len(ts) && ts[i] < b.Start {
			i++
		}
		sum, n := 0.0, 0
		for j := i; j < len(ts) && ts[j] < b.T; j++ {
			sum += vs[j]
			n++
		}
		if n > 0 {
			out = append(out, lapBeat{b.Start, b.T, sum / float64(n)})
		}
	}
	return out
}

// TestPreloadTargetSettles: loop.preload 12 mmHg holds the mean left-atrial
// pressure of every beat, from the healthy loop (about 10 mmHg: the valve
// fills the loop from the venous reservoir) and from heart failure (about
// 17 mmHg: it drains the volume-loaded loop), read from the run record.
//
// The band is ±0.5 mmHg: 4 % of the target, a quarter of the ±2 mmHg to
// which atrial and wedge pressures are read clinically, and far above what
// the transducer's noise leaves in a beat's mean (0.1 mmHg RMS over some
// 800 frames, 0.004 mmHg). Settling must take under 30 s of simulated time
// (the reservoir's line and the loop's compliance make a time constant of
// about 6 s), and afterwards no beat may leave the band or cross the target
// by more than 0.25 mmHg: no oscillation, no overshoot worth the name.
func TestPreloadTargetSettles(t *testing.T) {
	for _, c := range []struct {
		preset string
		from   [2]float64 // where LAP stands before, mmHg
	}{
		{"healthy", [2]float64{8, 11}},
		{"heart_failure", [2]float64{15, 22}},
	} {
		t.Run(c.preset, func(t *testing.T) {
			o := runSrc(t, context.Background(), header+`
  - set: {loop.preset: `+c.preset+`}
    hold: 40 s
  - name: hold LAP
    set: {loop.preload: 12 mmHg}
    hold: 90 s
    criteria:
      - {name: lap, measure: mean(lap), over: last 30 s, within: 12 mmHg ± 0.5 mmHg}
`)
			if o.res.Outcome != "pass" {
				t.Fatalf("outcome %s %q", o.res.Outcome, o.res.AbortReason)
			}
			start := o.res.Steps[1].StartS
			settled, before := math.NaN(), math.NaN()
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, b := range beatLAP(t, o) {
				if b.end <= start {
					before = b.lap
					continue
				}
				if math.IsNaN(settled) && math.Abs(b.lap-12) <= 0.5 {
					settled = b.end - start
				}
				if !math.IsNaN(settled) {
					lo, hi = min(lo, b.lap), max(hi, b.lap)
				}
			}
			t.Logf("%s: LAP %.2f mmHg before; within 12 ± 0.5 mmHg %.1f s after the target; afterwards %.2f–%.2f mmHg", c.preset, before, settled, lo, hi)
			if before < c.from[0] || before > c.from[1] {
				t.Errorf("LAP before the target %.2f mmHg, want %g–%g: the preset is not where this test starts", before, c.from[0], c.from[1])
			}
			if math.IsNaN(settled) || settled >= 30 {
				t.Fatalf("LAP not within 12 ± 0.5 mmHg within 30 s (settled after %.1f s)", settled)
			}
			if lo < 11.5 || hi > 12.5 {
				t.Errorf("after settling the beat LAP ranged %.2f–%.2f mmHg: it left the band", lo, hi)
			}
			if lo < 11.75 && hi > 12.25 {
				t.Errorf("LAP swings %.2f–%.2f mmHg across the target", lo, hi)
			}
			if c := o.criterion(t, "lap"); c.Verdict != "pass" {
				t.Errorf("mean LAP of the last 30 s %v mmHg", *c.Value)
			}
		})
	}
}

// TestPreloadOutOfRangeRefused: a preload outside the rig's range is
// refused when the protocol is validated, at its position, before anything
// moves; one the valve's head cannot give is refused in the rig config.
func TestPreloadOutOfRangeRefused(t *testing.T) {
	cfg := simConfig(t)
	for _, v := range []string{"30 mmHg", "1 mmHg"} {
		src := header + "  - set: {loop.preload: " + v + "}\n    hold: 1 s\n"
		_, err := protocols.Parse("p.yaml", []byte(src), cfg.Info())
		if err == nil || !strings.Contains(err.Error(), "p.yaml:4:25: ") || !strings.Contains(err.Error(), "loop.preload") {
			t.Errorf("loop.preload %s: %v, want an error at p.yaml:4:25", v, err)
		}
	}
	data, err := os.ReadFile("../configs/rigs/sim-loop-only.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ from, to, want string }{
		{"loop.preload: {min: 2 mmHg, max: 16 mmHg}", "loop.preload: {min: 2 mmHg, max: 35 mmHg}", "needs a max no higher than the preload valve's head, 30 mmHg"},
		{"loop.preload: {min: 2 mmHg, max: 16 mmHg}", "loop.preload: {min: -2 mmHg, max: 16 mmHg}", "below the reservoir's lowest head"},
		{"  preload_valve: {channel: 1,", "  preload_valve: {channel: 0,", "preload_valve is on PWM channel 0, already resistance_valve's"},
	} {
		bad := strings.Replace(string(data), c.from, c.to, 1)
		if bad == string(data) {
			t.Fatalf("%q not in the config", c.from)
		}
		_, err := ParseConfig("rig.yaml", []byte(bad))
		if err == nil || !strings.Contains(err.Error(), c.want) || !regexp.MustCompile(`rig\.yaml:\d+:\d+: `).MatchString(err.Error()) {
			t.Errorf("%s: %v, want %q at its position", c.to, err, c.want)
		}
	}
}
