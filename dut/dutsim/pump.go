package dutsim

import "time"

// Pump is the seam to the physics of the pump the firmware drives: the
// motor, the hydraulics, the purge system. The firmware commands a speed and
// reads back what its sensors would measure.
//
// Update is called with non-decreasing now, the firmware's time, whenever the
// firmware runs (a frame arrives, Advance is called, or a TLM frame falls
// due); rpm is the speed the motor is commanded to at that instant (the ramp's
// current value, not the target). Between two calls the command is held, like
// a DAC output. A physics model coupled to the loop (package sim) implements
// it; DefaultPump stands in when there is none.
type Pump interface {
	Update(now time.Duration, rpm float64) PumpState
}

// PumpState is what the controller measures.
type PumpState struct {
	RPM       float64 // actual rotor speed; a stalled or overloaded rotor lags the command
	FlowLmin  float64 // pump flow, L/min (not on the wire; for the rig's physics and tests)
	CurrentmA float64 // motor current
	PowermW   float64 // motor power
	PurgemmHg float64 // purge pressure
	Suction   bool    // inflow obstructed (ventricle sucked down)
}

// DefaultPump is a stand-in with no hydraulics: the rotor follows the command
// exactly, motor current grows with the square of speed (600 mA at P9,
// 51,000 rpm), power is that current at a 12 V supply, purge pressure is a
// constant 600 mmHg, and the flow is a rough Impella 2.5 curve (2.3 L/min at
// P9). It never raises an alarm by itself.
type DefaultPump struct{}

var _ Pump = DefaultPump{}

// Update implements Pump.
func (DefaultPump) Update(_ time.Duration, rpm float64) PumpState {
	x := rpm / 51000
	cur := 600 * x * x
	return PumpState{
		RPM:       rpm,
		FlowLmin:  2.3 * x * x,
		CurrentmA: cur,
		PowermW:   cur * 12,
		PurgemmHg: 600,
	}
}
