package sim

import (
	"fmt"
	"math"
	"time"
)

// PumpParams are the constants of a rotary blood pump between the LV and
// the aorta, an Impella's place: its hydraulics,
//
//	L·dQ/dt = Plv − Pao + Beta·ω² − R·Q − K·|Q|·Q − Rsuc(Plv)·Q,
//
// with Q the flow from the LV into the aorta (ml/s) and ω the rotor speed
// (rpm), its motor and its purge. Beta·ω² is the pressure head of the
// rotor; R and L are the viscous resistance and the inertance of the
// cannula and rotor passage; K·|Q|·Q is the inlet and outlet (Borda)
// losses of a small cannula, the dominant loss at the flows of an Impella
// (an Impella 2.5's 4 mm passage at 2.3 L/min carries blood at 3 m/s, a
// dynamic pressure of ≈ 35 mmHg); Rsuc = SuctionGain·(SuctionThreshold −
// Plv), above zero only while Plv is below the threshold, is Simaan's
// suction resistance, the ventricle collapsing onto the inlet. A stopped
// rotor (ω = 0) leaves R, K and L: the aorta leaks back into the LV
// through it.
//
// The motor current is I = CurrentIdle + CurrentSpeed·k² + CurrentFlow·k·Qf
// with k the speed in thousands of rpm and Qf the flow in L/min (not
// below CurrentIdle): the k² term is the rotor's disc friction, the k·Qf
// term Euler's pump torque, the angular momentum given to the flow. The
// motor's electrical power is U·I with U = BackEMF·k + Winding·I.
type PumpParams struct {
	Beta             float64       // head coefficient, mmHg/rpm²
	R                float64       // viscous resistance, mmHg·s/ml
	K                float64       // quadratic loss, mmHg·s²/ml²
	L                float64       // inertance, mmHg·s²/ml
	SuctionThreshold float64       // LV pressure below which the suction resistance engages, mmHg
	SuctionGain      float64       // suction resistance per mmHg below the threshold, s/ml
	SuctionLatch     time.Duration // how long PumpReadout.Suction stays set after suction ends
	MaxRPM           float64       // highest speed the motor takes, rpm

	CurrentIdle  float64 // motor current at rest: electronics and bearings, mA
	CurrentSpeed float64 // mA per (1000 rpm)²
	CurrentFlow  float64 // mA per (1000 rpm · L/min)
	BackEMF      float64 // V per 1000 rpm
	Winding      float64 // winding resistance, Ω
	Purge        float64 // purge pressure, mmHg
}

// Impella25 returns a pump fitted to the Impella 2.5 instructions for use
// (REFERENCE.md): driven by the heart-failure preset (HeartFailure,
// HeartFailureInitial, HFHeartRate, HFContractility), its mean flow at
// every P-level lies in the table's range (TestImpellaLevels). The motor
// draws ≈ 600 mA at P8, below the 1 A a console calls overcurrent, and
// the purge runs at 600 mmHg, between the low (300) and high (1100 mmHg)
// purge alarms.
func Impella25() PumpParams {
	return PumpParams{
		Beta: 8e-8, R: 1.5, K: 0.07, L: 0.06,
		SuctionThreshold: 1, SuctionGain: 30, SuctionLatch: time.Second,
		MaxRPM:      60000,
		CurrentIdle: 100, CurrentSpeed: 0.12, CurrentFlow: 1.74,
		BackEMF: 0.1, Winding: 1.5,
		Purge: 600,
	}
}

// Validate reports the first constant out of range: the hydraulic ones
// (but K, which may be 0) and MaxRPM must be finite and > 0, the others
// finite and ≥ 0.
func (pp *PumpParams) Validate() error {
	for _, f := range []struct {
		name, unit string
		v          float64
		zeroOK     bool
	}{
		{"Beta", "mmHg/rpm²", pp.Beta, false},
		{"R", "mmHg·s/ml", pp.R, false},
		{"K", "mmHg·s²/ml²", pp.K, true},
		{"L", "mmHg·s²/ml", pp.L, false},
		{"SuctionThreshold", "mmHg", pp.SuctionThreshold, true},
		{"SuctionGain", "s/ml", pp.SuctionGain, true},
		{"SuctionLatch", "s", pp.SuctionLatch.Seconds(), true},
		{"MaxRPM", "rpm", pp.MaxRPM, false},
		{"CurrentIdle", "mA", pp.CurrentIdle, true},
		{"CurrentSpeed", "mA/krpm²", pp.CurrentSpeed, true},
		{"CurrentFlow", "mA/(krpm·L/min)", pp.CurrentFlow, true},
		{"BackEMF", "V/krpm", pp.BackEMF, true},
		{"Winding", "Ω", pp.Winding, true},
		{"Purge", "mmHg", pp.Purge, true},
	} {
		if !positive(f.v, f.zeroOK) {
			bound := "> 0"
			if f.zeroOK {
				bound = "≥ 0"
			}
			return fmt.Errorf("sim: pump parameter %s = %g %s: must be finite and %s", f.name, f.v, f.unit, bound)
		}
	}
	return nil
}

// SteadyFlow returns the pump's flow in L/min at speed rpm against a
// constant pressure difference dp = Pao − Plv in mmHg, above the suction
// threshold: its HQ curve, the root of Beta·ω² − dp = R·Q + K·|Q|·Q.
// Negative dp or a stopped rotor give backflow.
func (pp *PumpParams) SteadyFlow(rpm, dp float64) float64 {
	h := pp.Beta*rpm*rpm - dp
	a := math.Abs(h)
	// The root of K·q² + R·q = a in the form that has no cancellation
	// and holds for K = 0.
	q := 2 * a / (pp.R + math.Sqrt(pp.R*pp.R+4*pp.K*a))
	return math.Copysign(q, h) * MlPerSToLPerMin
}

// motor returns the motor current (mA) and electrical power (mW) at speed
// rpm and flow lpm (L/min).
func (pp *PumpParams) motor(rpm, lpm float64) (mA, mW float64) {
	k := rpm / 1000
	mA = pp.CurrentIdle + max(pp.CurrentSpeed*k*k+pp.CurrentFlow*k*lpm, 0)
	volts := pp.BackEMF*k + pp.Winding*mA/1000
	return mA, volts * mA
}

// readout is what the pump's console measures at speed rpm and flow lpm.
func (pp *PumpParams) readout(t time.Duration, rpm, lpm float64, suction bool) PumpReadout {
	mA, mW := pp.motor(rpm, lpm)
	return PumpReadout{Time: t, RPM: rpm, FlowLmin: lpm, CurrentmA: mA, PowermW: mW, PurgemmHg: pp.Purge, Suction: suction}
}

// PumpReadout is what a pump's console measures, at one instant: the
// values are instantaneous, so the flow and the motor current pulse with
// the heart, as an Impella's motor-current trace does when it sits
// across the aortic valve.
type PumpReadout struct {
	Time      time.Duration // model time
	RPM       float64       // rotor speed in force
	FlowLmin  float64       // pump flow LV → aorta, L/min; negative: back into the LV
	CurrentmA float64       // motor current
	PowermW   float64       // motor electrical power
	PurgemmHg float64       // purge pressure
	// Suction is set while the suction resistance is engaged (LV pressure
	// below the threshold at the end of a step) and for SuctionLatch
	// after, so that a console polling every second sees a suction that
	// lasted part of a diastole.
	Suction bool
}

// SetPumpSpeed sets the pump's rotor speed in rpm, held from the current
// model time until the next call, as a motor controller holds its
// command. It must be finite, ≥ 0 and ≤ the pump's MaxRPM; the loop must
// have a pump.
func (l *Loop) SetPumpSpeed(rpm float64) error {
	if !l.c.pump {
		return fmt.Errorf("sim: the loop has no pump")
	}
	if !positive(rpm, true) || rpm > l.c.pp.MaxRPM {
		return fmt.Errorf("sim: pump speed %g rpm: must be finite and in [0, %g]", rpm, l.c.pp.MaxRPM)
	}
	l.c.rpm = rpm
	l.c.head = l.c.pp.Beta * rpm * rpm
	if l.net != nil {
		return l.net.SetPumpSpeed(l.roles.pump, rpm)
	}
	return nil
}

// PumpSpeed returns the pump speed in force, rpm (0 without a pump).
func (l *Loop) PumpSpeed() float64 { return l.c.rpm }

// Pump returns the pump's console readout at the current model time, and
// false if the loop has no pump.
func (l *Loop) Pump() (PumpReadout, bool) {
	if !l.c.pump {
		return PumpReadout{Time: l.t}, false
	}
	pp := &l.c.pp
	suction := l.sucked && l.t-l.suckedAt <= pp.SuctionLatch
	return pp.readout(l.t, l.c.rpm, l.pumpFlow(), suction), true
}

// Heart-failure preset: with HeartFailure and HeartFailureInitial, a
// cardiac waveform at HFHeartRate and HFContractility gives the
// hemodynamics of a failing left ventricle (TestHeartFailurePreset).
const (
	HFHeartRate     = 85  // bpm
	HFContractility = 0.4 // Emax, mmHg/ml
)

// HeartFailure returns SimaanNormal with the raised systemic resistance of
// the heart-failure preset (the ventricle's weakness is its contractility,
// HFContractility, an input of the waveform).
func HeartFailure() Parameters {
	p := SimaanNormal()
	p.Rs = 1.2
	return p
}

// HeartFailureInitial is the start of the heart-failure preset: the
// volume-expanded filling of a failing heart.
func HeartFailureInitial() Initial {
	return Initial{LVVolume: 260, LAP: 17, AoP: 80, Ps: 80}
}
