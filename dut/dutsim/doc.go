// Package dutsim is a simulated VADLINK device: the firmware of an
// Impella-class pump controller, served on a pseudo-terminal so that the
// host's driver goes through the same serial library and tty layer as with a
// USB-serial adapter.
//
// Firmware is the device's logic: every VADLINK verb, the speed ramp (at
// most 10,000 rpm/s), the alarms and the 2 s host-link watchdog. It takes
// the time as an argument and catches up to it before it acts, so it runs the
// same on a real and on a virtual clock. What differs from one model of the
// device family to another — HELLO's model, the level table, the top speed,
// the alarm thresholds and which alarms it has — is in Config, which rig
// fills from the DUT's profile (dut/profile); the default levels and
// thresholds are the Impella 2.5's. The pump's physics is behind the Pump
// interface; DefaultPump is a stand-in until package sim provides the real
// one.
//
// Server puts a Firmware on a pty (github.com/creack/pty, in raw mode), or
// with Config.InProcess behind an in-memory dut.SyncPort (Server.Open) for a
// host on virtual time: the same framing and codec, request and response
// on the host's goroutine, no pty, goroutine or timer (inprocess.go); and
// injects link faults: dropped, delayed and corrupted replies, garbage,
// silence, and unplugging; and device faults, for a host that must check
// the device's word: a flood of ALARM frames, an alarm that comes and goes
// between two polls, a MODE STOP answered OK that stops nothing. PowerOff
// is the bench's power relay. Faults are switched at runtime by method, or
// parsed from a command-line string by ParseFaults ("drop=0.2,delay=150ms",
// "alarm=0x3F", "pulse=0x01@2s/20ms", "nostop").
//
// # Imports
//
// Of the project, clock and dut only (dut for the codec, the line framing,
// and VADLINK's modes, alarms and error codes). It must not import sim or
// rig: the pump's physics comes in through the Pump interface, which rig
// fills with sim's pump.
package dutsim
