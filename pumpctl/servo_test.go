package pumpctl

import (
	"math"
	"testing"
)

func TestFlowDriveIsBipolarAndStopsAtMidScale(t *testing.T) {
	out := &fakeOut{}
	d := &FlowDrive{Out: out, FullScale: 300, Vref: 5}
	for _, c := range []struct{ q, volts float64 }{{0, 2.5}, {300, 5}, {-300, 0}, {150, 3.75}, {-30, 2.25}} {
		if err := d.Set(c.q); err != nil || math.Abs(out.volts-c.volts) > 1e-12 {
			t.Errorf("%g ml/s → %g V (%v), want %g V", c.q, out.volts, err, c.volts)
		}
	}
	for _, q := range []float64{300.1, -301, math.NaN()} {
		if err := d.Set(q); err == nil {
			t.Errorf("%g ml/s accepted", q)
		}
	}
	d.Set(200)
	if err := d.Safe(); err != nil || out.volts != 2.5 || out.safe != 0 {
		t.Errorf("safe: %g V (%v), the DAC's own safe (0 V: full reverse) called %d times", out.volts, err, out.safe)
	}
}

// chamber is a compliance C filled by a drive whose flow follows its
// command with a first-order lag, while a device takes through out of it.
type chamber struct {
	c, lag, p, q float64
}

func (ch *chamber) step(cmd, through, dt float64) {
	ch.q += (cmd - ch.q) * -math.Expm1(-dt/ch.lag)
	ch.p += (ch.q - through) * dt / ch.c
}

// TestChamberServoTracksAPressureWave: a chamber 10 % stiffer than the
// servo believes, behind a drive 20 % slower, follows an LV-like pressure
// wave (10–120 mmHg at 80 bpm) while a device draws a pulsatile 50 ml/s
// out of it: the servo's feed-forward and PI keep the RMS error under 1 %
// of the wave's range once it has pulled in, and with its feed-forward
// alone (no feedback) the drift of the mismatched chamber is what the
// feedback removes.
func TestChamberServoTracksAPressureWave(t *testing.T) {
	const dt = 0.001
	ref := func(s float64) float64 {
		ph := math.Mod(s*80/60, 1)
		if ph < 0.35 {
			return 10 + 110*math.Pow(math.Sin(math.Pi*ph/0.35), 2)
		}
		return 10
	}
	through := func(s float64) float64 { return 50 + 20*math.Sin(2*math.Pi*s*80/60) }
	run := func(kp float64) float64 {
		out := &fakeOut{}
		s := &ChamberServo{Drive: &FlowDrive{Out: out, FullScale: 400, Vref: 5}, Compliance: 0.05, Lag: 0.005}
		if kp < 0 {
			s.Kp, s.Ki = 1e-12, 0 // feed-forward alone
		}
		ch := &chamber{c: 0.045, lag: 0.006, p: 10}
		var sq float64
		var n int
		for k := 0; k < 10000; k++ {
			now := float64(k) * dt
			if _, err := s.Update(ref(now), ref(now+dt), ch.p, through(now), dt); err != nil {
				t.Fatal(err)
			}
			cmd := (out.volts*2/5 - 1) * 400
			ch.step(cmd, through(now), dt)
			if now >= 5 {
				e := ch.p - ref(now+dt)
				sq += e * e
				n++
			}
		}
		return 100 * math.Sqrt(sq/float64(n)) / 110
	}
	pi, ffOnly := run(0), run(-1)
	t.Logf("NRMSE: feed-forward and PI %.3f %%, feed-forward alone %.2f %%", pi, ffOnly)
	if pi > 1 {
		t.Errorf("tracking NRMSE %.3f %%, want ≤ 1 %%", pi)
	}
	if ffOnly < 5*pi {
		t.Errorf("feed-forward alone %.3f %% against %.3f %%: the feedback should matter", ffOnly, pi)
	}
}

// TestChamberServoDoesNotWindUp: held against its full scale by a
// reference it cannot reach, the servo's integral stops, so the command
// leaves the limit as soon as the reference comes back within reach.
func TestChamberServoDoesNotWindUp(t *testing.T) {
	out := &fakeOut{}
	s := &ChamberServo{Drive: &FlowDrive{Out: out, FullScale: 100, Vref: 5}, Compliance: 0.05, Lag: 0.005}
	for range 2000 {
		if q, _ := s.Update(200, 200, 0, 0, 0.001); q != 100 {
			t.Fatalf("command %g, want the full scale 100", q)
		}
	}
	kp, _ := s.Gains(0.001)
	q, _ := s.Update(0, 0, 0, 0, 0.001)
	if math.Abs(q) > 1e-9 || s.integ > kp*200 {
		t.Errorf("at the reference: command %g ml/s, integral %g (wound up)", q, s.integ)
	}
}
