// Package frametest makes the frames the tests of the run record and of
// the InfluxDB sink write and read back: deterministic values varied in
// sign and magnitude (so that float32 rounding is exercised) at 1 kHz
// with a little jitter (so that offsets are not all multiples of a
// millisecond). One definition serves both, so that their fixtures cannot
// drift apart. Tests only.
//
// # Imports
//
// daq, for its blocks of frames.
package frametest
