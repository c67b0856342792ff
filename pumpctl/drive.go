package pumpctl

import (
	"fmt"
	"math"

	"github.com/mockloop/mockloop/units"
)

// PumpDrive drives a piston pump through a DAC: the pump's driver maps
// 0..Vref on its input to 0..FullScale of what it takes, so a setpoint x
// becomes x / FullScale × Vref volts. The LV pump takes the active
// elastance the cardiac waveform gives at each instant (mmHg/ml, written
// every frame); the RV pump of a right-heart bench takes its share of that
// waveform (percent, written when loop.rv_contractility changes): its
// driver multiplies the LV drive's signal by its own input (rig's
// PumpDrive says why one waveform serves both).
type PumpDrive struct {
	Out       AnalogOut
	FullScale float64         // at Vref, in Dim's unit
	Vref      float64         // V
	Dim       units.Dimension // of the setpoint: units.Elastance, units.Percent
}

// Name implements Actuator: the DAC's.
func (d *PumpDrive) Name() string { return d.Out.Name() }

// Set commands the pump; values beyond the drive's range are an error
// (the rig config's parameter ranges must fit the drive).
func (d *PumpDrive) Set(x float64) error {
	if x < 0 || x > d.FullScale || math.IsNaN(x) {
		return fmt.Errorf("pumpctl: %s %s is outside the drive's 0..%s", d.Name(), units.Format(x, d.Dim), units.Format(d.FullScale, d.Dim))
	}
	return d.Out.SetVolts(x / d.FullScale * d.Vref)
}

// Safe implements Actuator: the pump stops (0 V).
func (d *PumpDrive) Safe() error { return d.Out.Safe() }

// ResistanceValve is a proportional pinch valve on a line of the loop: the
// systemic (loop.resistance) or the pulmonary (loop.pulmonary_resistance). Its
// hydraulic resistance follows the orifice law R = ROpen / (1 − d)² of the
// closing duty d, so a setpoint in mmHg·s/ml becomes d = 1 − √(ROpen / R).
// MaxDuty keeps the valve from closing the line completely.
type ResistanceValve struct {
	Out     PWMOut
	ROpen   float64 // resistance fully open, mmHg·s/ml
	MaxDuty float64 // in (0, 1)
}

// Name implements Actuator.
func (v *ResistanceValve) Name() string { return v.Out.Name() }

// Duty returns the duty for a resistance, or an error if the valve cannot
// reach it.
func (v *ResistanceValve) Duty(r float64) (float64, error) {
	if !(r >= v.ROpen) {
		return 0, fmt.Errorf("pumpctl: resistance %.4g mmHg·s/ml is below the valve's fully open %.4g", r, v.ROpen)
	}
	d := 1 - math.Sqrt(v.ROpen/r)
	if d > v.MaxDuty {
		return 0, fmt.Errorf("pumpctl: resistance %.4g mmHg·s/ml needs the valve closed beyond %.0f %%", r, v.MaxDuty*100)
	}
	return d, nil
}

// Resistance is the valve law: the resistance at duty d.
func (v *ResistanceValve) Resistance(d float64) float64 { return v.ROpen / ((1 - d) * (1 - d)) }

// SetResistance sets the valve for a resistance.
func (v *ResistanceValve) SetResistance(r float64) error {
	d, err := v.Duty(r)
	if err != nil {
		return err
	}
	return v.Out.SetDuty(d)
}

// Safe implements Actuator: the valve goes to its own declared safe duty.
func (v *ResistanceValve) Safe() error { return v.Out.Safe() }

// PreloadValve sets the bench's preload: the head of its venous reservoir,
// which feeds the left atrium through the reservoir's line, so the
// atrium's mean pressure settles at the head (no mean flow through the
// line when they are equal). The valve is a proportional valve on a PWM
// channel: a duty d gives a head of d·Head, and 0 % — full off, the
// de-energised valve, its safe state unless the rig declares another —
// pinches the line shut, so the loop keeps its volume, neither drained
// into the reservoir nor filled from it. More opening means more venous
// return and a higher atrial pressure.
type PreloadValve struct {
	Out  PWMOut
	Head float64 // mmHg, at 100 % duty
}

// Name implements Actuator.
func (v *PreloadValve) Name() string { return v.Out.Name() }

// Duty returns the duty for a head, or an error if the valve cannot give
// it. A head of 0 closes the line.
func (v *PreloadValve) Duty(head float64) (float64, error) {
	if !(head >= 0 && head <= v.Head) {
		return 0, fmt.Errorf("pumpctl: preload head %.4g mmHg is outside the valve's 0..%g mmHg", head, v.Head)
	}
	return head / v.Head, nil
}

// SetHead sets the reservoir's head in mmHg.
func (v *PreloadValve) SetHead(head float64) error {
	d, err := v.Duty(head)
	if err != nil {
		return err
	}
	return v.Out.SetDuty(d)
}

// Safe implements Actuator: the valve goes to its own declared safe duty.
func (v *PreloadValve) Safe() error { return v.Out.Safe() }
