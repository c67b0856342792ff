// Package daq is acquisition: frames of calibrated channel values, the
// blocks they travel in, the sources that produce them, and the statistics
// computed over them.
//
// A frame is one sample instant: the time of its conversion and one value
// per channel in engineering units. Frame time is conversion time: the
// index of the fast ADC's conversion (lost ones counted) × the sample
// period, so a late read loses conversions, never time. Frames travel in
// preallocated Blocks so the steady-state pipeline allocates nothing per
// frame. ADC drivers live in sub-packages.
//
// # Imports
//
// Of the project, units only. daq is the interface the drivers implement
// and the engine reads: it must not import its driver sub-packages, sim or
// rig.
package daq

// Source produces frames of channel values. Implementations read their
// hardware (or emulated hardware) and convert to engineering units; they
// must not allocate in steady state.
type Source interface {
	// Read waits for the next frame, writes it into dst, and returns the
	// index of its conversion (see ADC.Conversion).
	Read(dst []float64) (conv int64, err error)
}
