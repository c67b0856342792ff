package pumpctl

import (
	"math"
	"testing"
)

// firstOrder is a plant y' = (K·u − y)/tau.
type firstOrder struct{ y, k, tau float64 }

func (p *firstOrder) step(u, dt float64) float64 {
	p.y += (p.k*u - p.y) / p.tau * dt
	return p.y
}

func TestPIDSettlesWithoutOvershoot(t *testing.T) {
	plant := &firstOrder{k: 40, tau: 2}
	c := &PID{Kp: 0.01, Ki: 0.006, Min: 0, Max: 3}
	c.Start(0)
	y, peak := 0.0, 0.0
	for i := 0; i < 60_000; i++ {
		u := c.Update(65, y, 0.001)
		y = plant.step(u, 0.001)
		peak = max(peak, y)
	}
	if math.Abs(y-65) > 0.01 || peak > 65*1.05 {
		t.Errorf("settled at %.3f with peak %.2f", y, peak)
	}
}

func TestPIDAntiWindup(t *testing.T) {
	// The target is out of reach for 30 s (output pinned at Max); once it is
	// reachable again the output must leave the limit at once, not after
	// unwinding 30 s of integral.
	plant := &firstOrder{k: 40, tau: 2}
	c := &PID{Kp: 0.01, Ki: 0.006, Min: 0, Max: 1}
	c.Start(0)
	y := 0.0
	for i := 0; i < 30_000; i++ {
		y = plant.step(c.Update(100, y, 0.001), 0.001) // needs u = 2.5 > Max
	}
	if c.Output() != 1 {
		t.Fatalf("output %g, want pinned at 1", c.Output())
	}
	for i := 0; i < 2000; i++ {
		y = plant.step(c.Update(20, y, 0.001), 0.001)
	}
	if c.Output() >= 0.9 {
		t.Errorf("2 s after the target came in reach the output is still %g: the integral wound up", c.Output())
	}
}

func TestPIDRateLimitAndBumpless(t *testing.T) {
	c := &PID{Kp: 10, Min: 0, Max: 3, Rate: 0.5}
	c.Start(1.2)
	if c.Output() != 1.2 {
		t.Fatalf("start output %g", c.Output())
	}
	out := c.Update(100, 0, 0.1) // a huge error
	if math.Abs(out-1.25) > 1e-12 {
		t.Errorf("first output %g: change not limited to 0.5/s", out)
	}
	if got := c.Update(100, math.NaN(), 0.1); got != out {
		t.Errorf("a NaN measurement moved the output to %g", got)
	}
}
