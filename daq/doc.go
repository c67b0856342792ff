// Package daq is acquisition: frames of calibrated channel values, the
// blocks they travel in, the sources that produce them, and the statistics
// computed over them.
//
// A frame is one sample instant: a timestamp from the run's clock and one
// value per channel in engineering units. Frames travel in preallocated
// Blocks so the steady-state pipeline allocates nothing per frame. ADC
// drivers live in sub-packages and implement Source.
package daq

import "time"

// Source produces one frame of channel values for the sample instant now.
// Implementations read their hardware (or emulated hardware) and convert to
// engineering units; they must not allocate in steady state.
type Source interface {
	Read(now time.Duration, dst []float64) error
}
