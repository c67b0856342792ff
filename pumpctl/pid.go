package pumpctl

import "math"

// PID is a discrete PID controller for the loop's closed-loop targets (mean
// arterial pressure on the resistance valve, cardiac output on the LV
// drive). The output is clamped to [Min, Max] and its change to Rate per
// second; the integral stops accumulating while the output is held at a
// limit by an error that would push it further (conditional integration),
// so the controller does not wind up while a valve is fully open. The
// derivative acts on the measurement, not the error, so a setpoint step
// does not kick the actuator.
type PID struct {
	Kp, Ki, Kd float64 // output per unit error, per unit error·s, per unit error/s
	Min, Max   float64 // output limits
	Rate       float64 // largest output change per second (0: none)

	integ    float64
	prevMeas float64
	out      float64
	started  bool
}

// Start begins control from the actuator's present output (bumpless).
func (c *PID) Start(out float64) {
	c.out = math.Max(c.Min, math.Min(c.Max, out))
	c.integ = c.out
	c.started = false
}

// Output is the last output.
func (c *PID) Output() float64 { return c.out }

// Update takes a measurement dt seconds after the previous one and returns
// the new output.
func (c *PID) Update(setpoint, measured, dt float64) float64 {
	if dt <= 0 || math.IsNaN(measured) || math.IsNaN(setpoint) {
		return c.out
	}
	e := setpoint - measured
	d := 0.0
	if c.started && c.Kd != 0 {
		d = -c.Kd * (measured - c.prevMeas) / dt
	}
	c.prevMeas, c.started = measured, true
	integ := c.integ + c.Ki*e*dt
	out := c.Kp*e + integ + d
	// Conditional integration: keep the new integral only if the output is
	// not saturated in the direction the error pushes it.
	saturated := (out > c.Max && e > 0) || (out < c.Min && e < 0)
	if !saturated {
		c.integ = integ
	}
	out = math.Max(c.Min, math.Min(c.Max, out))
	if c.Rate > 0 {
		step := c.Rate * dt
		out = math.Max(c.out-step, math.Min(c.out+step, out))
	}
	c.out = out
	return out
}
