package sim

import (
	"fmt"
	"math"
	"time"
)

// ThermalParams are the constants of the bench's slow physics: the fluid's
// temperature and the reservoir's content.
type ThermalParams struct {
	// Ambient is the room temperature the fluid loses heat to, °C.
	Ambient float64
	// HeatCapacity is the fluid's mass times its specific heat, J/K. 3 l of
	// glycerol–water blood analogue (≈1.1 kg/l, ≈3.5 kJ/(kg·K)) hold about
	// 11.5 kJ/K. It does not follow the reservoir volume: drained fluid is
	// a small part of the loop's.
	HeatCapacity float64
	// LossTime is the time constant of the loss to ambient, C/G, where G is
	// the fluid-to-room conductance in W/K: an unheated loop closes 63 % of
	// its gap to room temperature in LossTime. About 20 min for an
	// uninsulated bench.
	LossTime time.Duration
	// HeaterPower is the heat delivered to the fluid while the heater relay
	// is on, W.
	HeaterPower float64
	// DrainFlow is the outflow through the open drain solenoid, ml/s, taken
	// as constant (the head of a shallow reservoir varies little).
	DrainFlow float64
	// ReservoirArea is the reservoir's horizontal cross-section, cm², which
	// turns volume into level.
	ReservoirArea float64
}

// DefaultThermal returns the parameters of the reference bench: room at
// 22 °C, 3 l of blood analogue, a 300 W heater (which alone would settle at
// ≈53 °C, so the rig's thermostat holds 37 °C by switching it), losses with
// a 20 min time constant, a 10 ml/s drain and a 150 cm² reservoir.
func DefaultThermal() ThermalParams {
	return ThermalParams{
		Ambient:       22,
		HeatCapacity:  11.5e3,
		LossTime:      20 * time.Minute,
		HeaterPower:   300,
		DrainFlow:     10,
		ReservoirArea: 150,
	}
}

// Validate reports the first parameter out of range: all finite, heat
// capacity, loss time and area > 0, heater power and drain flow ≥ 0.
func (p ThermalParams) Validate() error {
	for _, f := range []struct {
		name, unit string
		v          float64
		zeroOK     bool
	}{
		{"HeatCapacity", "J/K", p.HeatCapacity, false},
		{"LossTime", "s", p.LossTime.Seconds(), false},
		{"HeaterPower", "W", p.HeaterPower, true},
		{"DrainFlow", "ml/s", p.DrainFlow, true},
		{"ReservoirArea", "cm²", p.ReservoirArea, false},
	} {
		if !positive(f.v, f.zeroOK) {
			return fmt.Errorf("sim: thermal %s = %g %s: must be finite and > 0 (≥ 0 for power and flow)", f.name, f.v, f.unit)
		}
	}
	if math.IsNaN(p.Ambient) || math.IsInf(p.Ambient, 0) {
		return fmt.Errorf("sim: thermal Ambient = %g °C: must be finite", p.Ambient)
	}
	return nil
}

// Equilibrium is the temperature the fluid settles at with the heater
// permanently on or off: Ambient + P·LossTime/HeatCapacity, or Ambient.
func (p ThermalParams) Equilibrium(heaterOn bool) float64 {
	if !heaterOn {
		return p.Ambient
	}
	return p.Ambient + p.HeaterPower*p.LossTime.Seconds()/p.HeatCapacity
}

// Thermal is the fluid temperature and reservoir model of the bench:
//
//	C·dT/dt = P·heater − (C/τ)·(T − Ambient)
//	dV/dt   = −DrainFlow·drain   (V ≥ 0)
//
// with the heater relay and drain solenoid as switched inputs. Like Loop it
// has no clock of its own: it is advanced lazily to the times it is asked
// about (AdvanceTo, and the setters, which first advance to their time),
// solved exactly between switch events, so the step size does not matter.
// A time earlier than the model's is ignored. It allocates nothing and is
// not safe for concurrent use: it belongs to the simulation loop.
type Thermal struct {
	p      ThermalParams
	t      time.Duration
	temp   float64 // °C
	vol    float64 // ml
	heater bool
	drain  bool
}

// NewThermal returns the model at t = 0 with the fluid at temperature °C
// and volume ml in the reservoir, heater and drain off.
func NewThermal(p ThermalParams, temperature, volume float64) (*Thermal, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if math.IsNaN(temperature) || math.IsInf(temperature, 0) {
		return nil, fmt.Errorf("sim: thermal initial temperature %g °C: must be finite", temperature)
	}
	if !positive(volume, true) {
		return nil, fmt.Errorf("sim: thermal initial volume %g ml: must be finite and ≥ 0", volume)
	}
	return &Thermal{p: p, temp: temperature, vol: volume}, nil
}

// Parameters returns the model's constants.
func (th *Thermal) Parameters() ThermalParams { return th.p }

// Now returns the time the model has been advanced to.
func (th *Thermal) Now() time.Duration { return th.t }

// AdvanceTo moves the model to time t.
func (th *Thermal) AdvanceTo(t time.Duration) {
	if t <= th.t {
		return
	}
	dt := (t - th.t).Seconds()
	th.t = t
	eq := th.p.Equilibrium(th.heater)
	th.temp = eq + (th.temp-eq)*math.Exp(-dt/th.p.LossTime.Seconds())
	if th.drain {
		th.vol = max(th.vol-th.p.DrainFlow*dt, 0)
	}
}

// SetHeater switches the heater relay at time now.
func (th *Thermal) SetHeater(now time.Duration, on bool) {
	th.AdvanceTo(now)
	th.heater = on
}

// SetDrain opens or closes the drain solenoid at time now.
func (th *Thermal) SetDrain(now time.Duration, open bool) {
	th.AdvanceTo(now)
	th.drain = open
}

// Heater reports whether the heater is on.
func (th *Thermal) Heater() bool { return th.heater }

// Drain reports whether the drain is open.
func (th *Thermal) Drain() bool { return th.drain }

// Temperature returns the fluid temperature, °C.
func (th *Thermal) Temperature() float64 { return th.temp }

// Volume returns the fluid in the reservoir, ml.
func (th *Thermal) Volume() float64 { return th.vol }

// Level returns the reservoir level, mm.
func (th *Thermal) Level() float64 { return th.vol / th.p.ReservoirArea * 10 }
