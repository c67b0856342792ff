package pumpctl

import (
	"fmt"
	"math"
)

// FlowDrive drives a servo gear pump through a DAC in both directions: a
// hybrid bench's chamber drive, which fills its chamber from the reservoir
// or empties it into the reservoir. The pump's servo amplifier maps its
// input 0..Vref to −FullScale..+FullScale ml/s, so the pump stands still
// at Vref/2: a unipolar DAC (the MCP4725) gives a bipolar flow, and the
// safe state is mid-scale, not 0 V, which would be full reverse.
type FlowDrive struct {
	Out       AnalogOut
	FullScale float64 // ml/s at Vref, and its reverse at 0 V
	Vref      float64 // V
}

// Name implements Actuator: the DAC's.
func (d *FlowDrive) Name() string { return d.Out.Name() }

// Set commands a flow into the chamber, ml/s (negative: out of it).
// Values beyond the drive's range are an error; ChamberServo clips its
// commands to it.
func (d *FlowDrive) Set(q float64) error {
	if math.IsNaN(q) || math.Abs(q) > d.FullScale {
		return fmt.Errorf("pumpctl: %s %g ml/s is outside the drive's ±%g ml/s", d.Name(), q, d.FullScale)
	}
	return d.Out.SetVolts((1 + q/d.FullScale) * d.Vref / 2)
}

// Safe implements Actuator: the pump stops (mid-scale), and the chamber
// holds what it has.
func (d *FlowDrive) Safe() error { return d.Out.SetVolts(d.Vref / 2) }

// ChamberServo makes the pressure of a hybrid bench's chamber follow a
// reference, the numerical patient's pressure at the node the chamber
// stands for, through the chamber's FlowDrive. It is the outer loop of a
// cascade whose inner loop is the drive's own speed servo (a first-order
// lag of time constant Lag, as the drive's datasheet or a step response
// at commissioning gives it).
//
// The command is a feed-forward and a PI correction:
//
//   - feed-forward: the flow that moves the chamber (compliance C) from
//     the reference now to the reference one frame later while the
//     device takes Through out of it, q = Through + C·Δref/Δt, advanced
//     by the drive's lag (q + Lag·dq/dt), so the drive's flow arrives
//     when it is needed. The model knows its next pressure exactly, so
//     the feedback is left only the model's errors of the bench (C, the
//     lag, leaks) and the sensors' noise;
//   - PI on the pressure error with gains from the loop's bandwidth:
//     Kp = C·ωc, Ki = Kp·ωc/10 with ωc = 0.45/(Lag + Δt), which keeps
//     about 60° of phase margin against the lag and the frame's delay
//     (the integrator of the chamber is −90°, the lag and the delay take
//     the other 30° at ωc). The integral is conditional: it stops while
//     the command is clipped at the drive's full scale (no wind-up).
type ChamberServo struct {
	Drive      *FlowDrive
	Compliance float64 // ml/mmHg
	Lag        float64 // s
	// Kp (ml/s per mmHg) and Ki (ml/s² per mmHg); zero: from the bandwidth.
	Kp, Ki float64

	integ    float64
	prevNeed float64
	started  bool
	cmd      float64
}

// Gains returns Kp and Ki: the servo's own, or the bandwidth's for
// a frame of dt seconds.
func (s *ChamberServo) Gains(dt float64) (kp, ki float64) {
	if s.Kp > 0 {
		return s.Kp, s.Ki
	}
	wc := 0.45 / (s.Lag + dt)
	kp = s.Compliance * wc
	return kp, kp * wc / 10
}

// Update takes the reference now and one frame (dt seconds) later, the
// chamber's measured pressure now (mmHg) and the flow the device takes
// out of the chamber (ml/s; negative for an outlet chamber, which the
// device fills), and commands the drive for the next frame. It returns
// the command, ml/s.
func (s *ChamberServo) Update(ref, next, measured, through, dt float64) (float64, error) {
	if dt <= 0 || math.IsNaN(ref) || math.IsNaN(next) || math.IsNaN(measured) || math.IsNaN(through) {
		return s.cmd, nil // hold: a lost frame is no reason to move
	}
	need := through + s.Compliance*(next-ref)/dt
	ff := need
	if s.started {
		ff += s.Lag * (need - s.prevNeed) / dt
	}
	s.prevNeed, s.started = need, true
	kp, ki := s.Gains(dt)
	e := ref - measured
	integ := s.integ + ki*e*dt
	cmd := ff + kp*e + integ
	fs := s.Drive.FullScale
	if saturated := (cmd > fs && e > 0) || (cmd < -fs && e < 0); !saturated {
		s.integ = integ
	}
	s.cmd = max(-fs, min(fs, cmd))
	return s.cmd, s.Drive.Set(s.cmd)
}

// Reset forgets the integral and the feed-forward's history: the servo
// starts again from the next Update, as after the safe state.
func (s *ChamberServo) Reset() { s.integ, s.prevNeed, s.started, s.cmd = 0, 0, false, 0 }
