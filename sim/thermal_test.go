package sim_test

import (
	"math"
	"testing"
	"time"

	"github.com/mockloop/mockloop/sim"
)

func newThermal(t *testing.T, temp, vol float64) *sim.Thermal {
	t.Helper()
	th, err := sim.NewThermal(sim.DefaultThermal(), temp, vol)
	if err != nil {
		t.Fatal(err)
	}
	return th
}

func TestThermalHeaterHeatsToSteadyState(t *testing.T) {
	th := newThermal(t, 22, 1500)
	p := th.Parameters()
	eq := p.Equilibrium(true)
	if math.Abs(eq-(22+300*1200/11.5e3)) > 1e-9 || eq < 45 {
		t.Fatalf("heater-on equilibrium %g °C", eq)
	}
	th.SetHeater(0, true)
	prev := th.Temperature()
	for m := 1; m <= 120; m++ {
		th.AdvanceTo(time.Duration(m) * time.Minute)
		if th.Temperature() <= prev || th.Temperature() > eq {
			t.Fatalf("minute %d: %g °C after %g, want a monotonic rise below %g", m, th.Temperature(), prev, eq)
		}
		prev = th.Temperature()
		if m == 20 { // one time constant: 63.2 % of the way
			if want := eq - (eq-22)*math.Exp(-1); math.Abs(th.Temperature()-want) > 1e-9 {
				t.Errorf("after τ: %g °C, want %g", th.Temperature(), want)
			}
		}
	}
	if d := eq - th.Temperature(); d > 0.1 {
		t.Errorf("after 6τ: %g °C, %g below the steady state", th.Temperature(), d)
	}
}

func TestThermalCoolsToAmbient(t *testing.T) {
	th := newThermal(t, 37, 1500)
	prev := th.Temperature()
	for m := 1; m <= 200; m++ {
		th.AdvanceTo(time.Duration(m) * time.Minute)
		if th.Temperature() >= prev || th.Temperature() < 22 {
			t.Fatalf("minute %d: %g °C after %g, want a monotonic fall above 22", m, th.Temperature(), prev)
		}
		prev = th.Temperature()
	}
	if d := th.Temperature() - 22; d > 1e-3 {
		t.Errorf("after 10τ: %g °C, %g above ambient", th.Temperature(), d)
	}
}

// A bang-bang thermostat on the heater, as the rig runs it, holds the
// usual 37 °C.
func TestThermalThermostatHolds37(t *testing.T) {
	th := newThermal(t, 22, 1500)
	var reached time.Duration
	lo, hi := math.Inf(1), math.Inf(-1)
	for now := time.Duration(0); now < 3*time.Hour; now += 100 * time.Millisecond {
		th.AdvanceTo(now)
		T := th.Temperature()
		th.SetHeater(now, T < 37)
		if reached == 0 && T >= 37 {
			reached = now
		}
		if reached > 0 && now > reached+time.Minute {
			lo, hi = min(lo, T), max(hi, T)
		}
	}
	if reached == 0 || reached > 30*time.Minute {
		t.Errorf("37 °C reached after %v, want within 30 min", reached)
	}
	if lo < 36.99 || hi > 37.01 {
		t.Errorf("held between %.3f and %.3f °C, want 37 ± 0.01", lo, hi)
	}
}

func TestThermalStepSizeDoesNotMatter(t *testing.T) {
	a, b := newThermal(t, 25, 1500), newThermal(t, 25, 1500)
	a.SetHeater(0, true)
	b.SetHeater(0, true)
	for now := time.Millisecond; now <= 10*time.Minute; now += time.Millisecond {
		a.AdvanceTo(now)
	}
	b.AdvanceTo(10 * time.Minute)
	if d := math.Abs(a.Temperature() - b.Temperature()); d > 1e-9 {
		t.Errorf("1 ms steps %.12g °C, one step %.12g °C", a.Temperature(), b.Temperature())
	}
	before := a.Temperature()
	a.AdvanceTo(time.Minute) // in the past: ignored
	if a.Now() != 10*time.Minute || a.Temperature() != before {
		t.Errorf("advancing backwards changed the model: %v, %g", a.Now(), a.Temperature())
	}
}

func TestThermalDrain(t *testing.T) {
	th := newThermal(t, 37, 1500)
	th.SetDrain(10*time.Second, true)
	th.AdvanceTo(40 * time.Second) // 30 s at 10 ml/s
	if v := th.Volume(); math.Abs(v-1200) > 1e-9 {
		t.Errorf("after 30 s of draining: %g ml, want 1200", v)
	}
	if l := th.Level(); math.Abs(l-80) > 1e-9 { // 1200 ml / 150 cm² = 8 cm
		t.Errorf("level %g mm, want 80", l)
	}
	th.SetDrain(40*time.Second, false)
	th.AdvanceTo(time.Hour)
	if v := th.Volume(); math.Abs(v-1200) > 1e-9 {
		t.Errorf("closed drain: %g ml, want 1200 kept", v)
	}
	th.SetDrain(time.Hour, true)
	th.AdvanceTo(2 * time.Hour)
	if v := th.Volume(); v != 0 {
		t.Errorf("drained for an hour: %g ml, want 0 (empty, not negative)", v)
	}
}

func TestThermalValidates(t *testing.T) {
	for _, mod := range []func(*sim.ThermalParams){
		func(p *sim.ThermalParams) { p.HeatCapacity = 0 },
		func(p *sim.ThermalParams) { p.LossTime = 0 },
		func(p *sim.ThermalParams) { p.HeaterPower = -1 },
		func(p *sim.ThermalParams) { p.DrainFlow = math.NaN() },
		func(p *sim.ThermalParams) { p.ReservoirArea = math.Inf(1) },
		func(p *sim.ThermalParams) { p.Ambient = math.NaN() },
	} {
		p := sim.DefaultThermal()
		mod(&p)
		if _, err := sim.NewThermal(p, 22, 1000); err == nil {
			t.Errorf("NewThermal accepted %+v", p)
		}
	}
	if _, err := sim.NewThermal(sim.DefaultThermal(), math.NaN(), 1000); err == nil {
		t.Error("NaN temperature accepted")
	}
	if _, err := sim.NewThermal(sim.DefaultThermal(), 22, -1); err == nil {
		t.Error("negative volume accepted")
	}
}

func TestThermalAllocatesNothing(t *testing.T) {
	th := newThermal(t, 22, 1500)
	now := time.Duration(0)
	if n := testing.AllocsPerRun(1000, func() {
		now += time.Millisecond
		th.SetHeater(now, th.Temperature() < 37)
		th.SetDrain(now, false)
		th.AdvanceTo(now + time.Millisecond/2)
	}); n != 0 {
		t.Errorf("%g allocations per step", n)
	}
}
