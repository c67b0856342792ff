package sim_test

import (
	"math"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/devices/v3/pca9685"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/pumpctl"
	"github.com/mockloop/mockloop/sim"
)

// TestPreloadValve: the preload valve acts on the physics through its
// emulated PCA9685 channel, driven by periph's driver: with the valve at a
// head, the beating loop's mean atrial pressure settles at that head, up
// (filling from the reservoir) or down (draining into it); more opening is
// a higher atrial pressure; and shut (duty 0) it leaves the loop's volume
// as it is.
func TestPreloadValve(t *testing.T) {
	const head, line = 30.0, 0.2
	clk := clock.NewVirtual(time.Unix(0, 0))
	b, err := sim.NewBench(sim.BenchConfig{
		Clock: clk, Loop: sim.SimaanNormal(), Initial: sim.SimaanInitial(),
		Thermal: sim.DefaultThermal(), Temperature: 37, Volume: 2000,
		SPIPort: "SPI0.0", DRDYPin: "GPIO25", I2CBus: "I2C1",
		DACAddr: 0x60, DACVref: 5, DriveFullScale: 5,
		PWMAddr: pca9685.I2CAddr, ValveChannel: 0, ValveROpen: 0.3,
		Preload:     &sim.PreloadConfig{Channel: 1, Head: head, Line: line},
		SlowADCAddr: 0x48,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	pwm, err := pca9685.NewI2C(b.I2C(), pca9685.I2CAddr)
	if err != nil {
		t.Fatal(err)
	}
	// The resistance valve at Simaan's Rs = 1 mmHg·s/ml: 1 − √0.3 closed.
	if err := pwm.SetPwm(0, 0, gpio.Duty(math.Round((1-math.Sqrt(0.3))*4096))); err != nil {
		t.Fatal(err)
	}
	w, err := pumpctl.NewCardiacWaveform(75, 2, 0.06)
	if err != nil {
		t.Fatal(err)
	}
	dac := b.Loop() // the heart is driven on the loop directly: the DAC has its own tests
	// run beats the heart for d and returns the mean atrial pressure over
	// its last 4.8 s (six beats) and the circulating volume at its end.
	run := func(d time.Duration) (lap, vol float64) {
		t.Helper()
		var sum float64
		n := 0
		for end := clk.Now() + d; clk.Now() < end; {
			a, _ := w.Advance(time.Millisecond)
			if err := dac.SetActiveElastance(a); err != nil {
				t.Fatal(err)
			}
			clk.Advance(time.Millisecond)
			b.Pump(clk.Now()) // advances the physics to now

			if end-clk.Now() < 4800*time.Millisecond {
				sum += b.State().LAP
				n++
			}
		}
		return sum / float64(n), b.Fill()
	}
	setHead := func(h float64) {
		t.Helper()
		count := gpio.Duty(math.Round(h / head * 4096))
		if err := pwm.SetPwm(1, 0, count); err != nil {
			t.Fatal(err)
		}
		if duty, got := b.Preload(); math.Abs(got-h) > head/4096 || duty == 0 {
			t.Fatalf("head %g mmHg reached the bench as duty %g, head %g", h, duty, got)
		}
	}
	lap0, vol0 := run(20 * time.Second)
	if duty, _ := b.Preload(); duty != 0 {
		t.Fatalf("preload valve at duty %g before it was driven; want shut", duty)
	}
	t.Logf("shut: mean LAP %.2f mmHg, volume %.1f ml", lap0, vol0)
	prev := -math.MaxFloat64
	for _, h := range []float64{4, 8, 12, 16} {
		setHead(h)
		lap, vol := run(40 * time.Second)
		t.Logf("head %2.0f mmHg: mean LAP %.2f mmHg, volume %.1f ml", h, lap, vol)
		if math.Abs(lap-h) > 0.2 {
			t.Errorf("head %g mmHg: mean LAP settled at %.2f mmHg", h, lap)
		}
		if lap <= prev {
			t.Errorf("head %g mmHg: LAP %.2f not above the lower head's %.2f", h, lap, prev)
		}
		prev = lap
	}
	if err := pwm.SetFullOff(1); err != nil {
		t.Fatal(err)
	}
	_, vol1 := run(2 * time.Second)
	_, vol2 := run(10 * time.Second)
	if duty, _ := b.Preload(); duty != 0 || math.Abs(vol2-vol1) > 1e-9 {
		t.Errorf("valve shut (duty %g): the volume moved from %.6f to %.6f ml", duty, vol1, vol2)
	}
}
