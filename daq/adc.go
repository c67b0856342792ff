package daq

import "errors"

// Errors an ADC returns together with a valid frame: something to count
// happened, but the values are real and are recorded.
var (
	// ErrGap: conversions were lost before this frame.
	ErrGap = errors.New("daq: conversions lost before this frame")
	// ErrStuck: a channel has shown the same code for too long.
	ErrStuck = errors.New("daq: channel code unchanged for too long")
)

// FrameValid reports whether an error from ADC.Read still came with a valid frame.
func FrameValid(err error) bool { return errors.Is(err, ErrGap) || errors.Is(err, ErrStuck) }

// ADC is a converter whose channels are all sampled at one instant per
// frame, such as the ADS131M08 (8 channels, simultaneous). Drivers in
// sub-packages implement it on periph buses; calibration to engineering
// units happens above it (see Calibration).
type ADC interface {
	// Channels is the number of inputs one conversion delivers.
	Channels() int
	// Read waits for the next conversion (the chip's data-ready signal) and
	// writes each input's voltage, in volts, into dst[:Channels()]. A bad
	// frame (CRC error, missed data-ready) returns an error and is counted
	// in Health. Conditions that leave the frame valid (lost conversions
	// before it, a stuck channel) return ErrGap or ErrStuck, with dst
	// written. Read must not allocate.
	Read(dst []float64) error
	// Health returns the counters of bad frames so far.
	Health() ADCHealth
	// Conversion is the index of the conversion the last Read delivered
	// or used up, counted from the first one Read saw, lost conversions
	// included. Frame time is conversion time (DESIGN.md decision 7): a
	// frame's time is its index × the sample period, so a host that woke
	// late loses conversions, never the run's time base.
	Conversion() int64
}

// SlowADC is a multiplexed converter for slow channels (temperature,
// reservoir level) such as the ADS1115, whose conversions take longer than a
// frame. Poll never blocks: it advances the converter's own schedule
// (collect a finished conversion, start the next input) and writes the
// latest voltage of every input into dst, held between conversions.
type SlowADC interface {
	Channels() int
	Poll(dst []float64) error
	Health() ADCHealth
}

// ADCHealth counts what went wrong in acquisition. The run engine turns
// changes of these counters into events in the run record.
type ADCHealth struct {
	Frames      uint64 // good frames delivered
	CRCErrors   uint64 // frames whose CRC did not match
	MissedReady uint64 // data-ready did not come in time
	Gaps        uint64 // conversions lost between two reads (sample counter or timing)
	Stuck       uint64 // frames in which some channel had been identical for too long
}

// Bad is the number of bad frames of all kinds.
func (h ADCHealth) Bad() uint64 { return h.CRCErrors + h.MissedReady + h.Gaps + h.Stuck }
