// Package pumpctl owns the loop's actuators and their control: the pumps and
// valves of the bench, the DAC and PWM drivers that move them, PID loops with
// anti-windup, closed-loop hemodynamic targets and the cardiac waveform
// generator.
//
// The cardiac waveform is the time-varying elastance of the left ventricle in
// the model of Simaan et al., "A Dynamical State Space Representation and
// Performance Analysis of a Feedback-Controlled Rotary Left Ventricular Assist
// Device", IEEE Trans. Control Syst. Technol. 17(1):15–28, 2009. On the bench it
// is the drive signal of the LV piston pump; in simulation the same waveform
// drives the simulated ventricle (package sim), so the control code cannot
// tell the two apart.
//
// Everything here that runs in the 1 kHz control loop allocates nothing and
// reports bad setpoints as errors instead of panicking: a protocol may ask for
// anything, and a refused setpoint must leave the rig as it was.
//
// # Imports
//
// daq (the beats its closed-loop targets act on) and units. The DAC drivers
// in its sub-packages implement its interfaces; it must not import them,
// sim or rig.
package pumpctl
