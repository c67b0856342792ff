package daq

import (
	"errors"
	"fmt"
	"math"
)

// ErrBadFrame marks a frame that could not be acquired (CRC error, missed
// data-ready). The frame is not recorded — no value is invented for it — and
// the run goes on; the engine trips only when bad frames persist.
var ErrBadFrame = errors.New("daq: bad frame")

// Input maps one converter input to a frame column through its calibration.
type Input struct {
	Index  int // input of the converter
	Column int // column of the frame
	Cal    Calibration
}

// Acquisition reads one frame: a conversion of the fast ADC, plus the latest
// readings of the slow ADC, each calibrated into its frame column. It
// implements Source without allocating.
type Acquisition struct {
	fast   ADC
	fastIn []Input
	fastV  []float64
	slow   SlowADC
	slowIn []Input
	slowV  []float64
	// The slow ADC is polled every slowEvery frames: its channels
	// (temperature, level) change over seconds, and each poll is an I²C
	// transaction the fast loop need not pay for at 1 kHz.
	slowEvery, sinceSlow int
}

// SlowPollEvery sets how many frames pass between polls of the slow ADC (1:
// every frame, the default).
func (a *Acquisition) SlowPollEvery(n int) { a.slowEvery = max(1, n) }

// NewAcquisition checks the input maps against the converters. slow may be
// nil for a rig without slow channels.
func NewAcquisition(fast ADC, fastIn []Input, slow SlowADC, slowIn []Input) (*Acquisition, error) {
	a := &Acquisition{fast: fast, fastIn: fastIn, slow: slow, slowIn: slowIn, slowEvery: 1}
	check := func(kind string, n int, ins []Input) error {
		for _, in := range ins {
			if in.Index < 0 || in.Index >= n {
				return fmt.Errorf("daq: %s input %d does not exist (the converter has %d)", kind, in.Index, n)
			}
			if !in.Cal.Valid() {
				return fmt.Errorf("daq: %s input %d has no valid calibration", kind, in.Index)
			}
		}
		return nil
	}
	if fast == nil {
		return nil, errors.New("daq: acquisition needs an ADC")
	}
	if err := check("ADC", fast.Channels(), fastIn); err != nil {
		return nil, err
	}
	a.fastV = make([]float64, fast.Channels())
	if slow != nil {
		if err := check("slow ADC", slow.Channels(), slowIn); err != nil {
			return nil, err
		}
		a.slowV = make([]float64, slow.Channels())
		for i := range a.slowV {
			a.slowV[i] = math.NaN() // no value until the first conversion
		}
	} else if len(slowIn) > 0 {
		return nil, errors.New("daq: slow inputs without a slow ADC")
	}
	return a, nil
}

// Read implements Source. A failed conversion returns an error wrapping
// ErrBadFrame and leaves dst untouched; the conversion index returned is
// then the one the failed read used up, or the last one if it used none.
func (a *Acquisition) Read(dst []float64) (int64, error) {
	if err := a.fast.Read(a.fastV); err != nil && !FrameValid(err) {
		return a.fast.Conversion(), fmt.Errorf("%w: %v", ErrBadFrame, err)
	}
	conv := a.fast.Conversion()
	if a.slow != nil {
		if a.sinceSlow++; a.sinceSlow >= a.slowEvery {
			a.sinceSlow = 0
			if err := a.slow.Poll(a.slowV); err != nil && !FrameValid(err) {
				return conv, fmt.Errorf("%w: slow ADC: %v", ErrBadFrame, err)
			}
		}
		for _, in := range a.slowIn {
			dst[in.Column] = in.Cal.Apply(a.slowV[in.Index])
		}
	}
	for _, in := range a.fastIn {
		dst[in.Column] = in.Cal.Apply(a.fastV[in.Index])
	}
	return conv, nil
}

// Quantizer is a converter whose voltages are integer codes times a step:
// both drivers implement it.
type Quantizer interface {
	// LSB is input's volts per code.
	LSB(input int) float64
}

// Quantum says how a frame column's values come from a converter's codes:
// value = Cal.Apply(code × LSB), exactly.
type Quantum struct {
	Column int
	LSB    float64
	Cal    Calibration
}

// Quanta returns the quantum of every column the converters fill whose
// converter is a Quantizer, so that a run record can store codes instead
// of values without losing a bit.
func (a *Acquisition) Quanta() []Quantum {
	var qs []Quantum
	add := func(adc any, ins []Input) {
		if q, ok := adc.(Quantizer); ok {
			for _, in := range ins {
				qs = append(qs, Quantum{Column: in.Column, LSB: q.LSB(in.Index), Cal: in.Cal})
			}
		}
	}
	add(a.fast, a.fastIn)
	if a.slow != nil {
		add(a.slow, a.slowIn)
	}
	return qs
}

// Volts returns the raw voltages of the last conversion of the fast ADC
// (input order), for zeroing and calibration.
func (a *Acquisition) Volts() []float64 { return a.fastV }

// SlowVolts returns the raw voltages last read from the slow ADC.
func (a *Acquisition) SlowVolts() []float64 { return a.slowV }

// Health returns the health counters of the fast and slow converter.
func (a *Acquisition) Health() (fast, slow ADCHealth) {
	fast = a.fast.Health()
	if a.slow != nil {
		slow = a.slow.Health()
	}
	return fast, slow
}
