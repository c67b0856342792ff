package pumpctl

// Actuator is anything the rig moves. Every actuator has a declared safe
// state, reached by Safe from any state, repeatedly, and without relying on
// any other actuator: it is the last thing every run does.
type Actuator interface {
	Name() string
	Safe() error
}

// AnalogOut is a voltage output such as the MCP4725 DAC driving the LV pump.
type AnalogOut interface {
	Actuator
	// SetVolts sets the output; values outside the output's range are an
	// error, never clipped silently.
	SetVolts(v float64) error
}

// PWMOut is a duty-cycle output such as a PCA9685 channel driving a
// proportional pinch valve.
type PWMOut interface {
	Actuator
	// SetDuty sets the duty cycle in [0, 1].
	SetDuty(d float64) error
}

// Switch is an on/off output: a GPIO solenoid valve or relay.
type Switch interface {
	Actuator
	Set(on bool) error
}

// Input is an on/off input such as the emergency-stop button.
type Input interface {
	Name() string
	// Active reports whether the input is asserted (e-stop pressed). It
	// never blocks.
	Active() bool
}
