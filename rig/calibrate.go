package rig

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mockloop/mockloop/bench"
	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/units"
)

// CalSession is a rig opened for calibration: its plant in the safe state
// (pump stopped, valves in their safe positions), sampling raw input volts.
// On the sim backend the simulated bench presents the references itself;
// on hardware the operator does, when Present asks.
type CalSession struct {
	cfg   *Config
	clk   clock.Clock
	plant *busPlant
	cals  map[string]daq.Calibration
	now   time.Duration
	lock  *bench.Lock
}

// ErrManual says the operator must apply a reference (hardware backend).
var ErrManual = errors.New("rig: the operator applies this reference")

// ErrOverdue is the error of a run refused for a calibration past its due date.
var ErrOverdue = errors.New("calibration overdue")

// OpenCalibration opens the rig for zeroing and calibration. Calibrations
// in force are loaded (overdue ones too: recalibrating is the cure).
func OpenCalibration(cfg *Config, realtime bool) (s *CalSession, err error) {
	// The bench is the session's: no run moves it, and no run reads the
	// calibration file while it is rewritten.
	lock, err := holdBenchFor(cfg, "calibration")
	if err != nil {
		return nil, err
	}
	defer func() {
		if s == nil {
			lock.Release()
		}
	}()
	var clk clock.Clock = clock.NewVirtual(time.Now())
	if realtime || cfg.WallClockOnly() != "" {
		clk = clock.NewReal()
	}
	p, cals, err := safePlant(cfg, clk)
	if err != nil {
		return nil, err
	}
	return &CalSession{cfg: cfg, clk: clk, plant: p, cals: cals, now: clk.Now(), lock: lock}, nil
}

// Close puts the rig in its safe state and releases it. The session holds
// the bench until then; a caller saving the calibration does so before.
func (s *CalSession) Close() error {
	defer s.lock.Release()
	return errors.Join(s.plant.Safe(), s.plant.Close())
}

// Present applies a reference value to a channel's sensor: on the sim
// backend the bench connects the simulated sensor to it; on hardware it
// returns ErrManual and the operator does it.
func (s *CalSession) Present(channel string, value float64) error {
	if s.plant.bench == nil {
		return ErrManual
	}
	return s.plant.bench.Present(benchSignal(channel), value)
}

// Reconnect puts a sensor back on the loop (sim backend).
func (s *CalSession) Reconnect(channel string) {
	if s.plant.bench != nil {
		s.plant.bench.Reconnect(benchSignal(channel))
	}
}

// MeanVolts samples the rig for d and returns the mean raw input voltage of
// each channel, with the standard deviation, so a reading taken while the
// reference was still settling shows as noisy.
func (s *CalSession) MeanVolts(ctx context.Context, channels []string, d time.Duration) (mean, std map[string]float64, err error) {
	for _, ch := range channels {
		if in, ok := s.cfg.Inputs[ch]; !ok || (in.Kind != "adc" && in.Kind != "slow_adc") {
			return nil, nil, fmt.Errorf("rig: %s is not a measured channel of rig %s", ch, s.cfg.Name)
		}
	}
	period := time.Duration(float64(time.Second) / s.cfg.SampleRate)
	stats := make([]daq.Stats, len(channels))
	frame := make([]float64, len(s.plant.layout))
	for end := s.clk.Now() + d; s.clk.Now() < end; {
		s.now += period
		if err := s.clk.SleepUntil(ctx, s.now); err != nil {
			return nil, nil, err
		}
		if _, err := s.plant.Read(frame); err != nil {
			if errors.Is(err, daq.ErrBadFrame) {
				continue
			}
			return nil, nil, err
		}
		fast, slow := s.plant.acq.Volts(), s.plant.acq.SlowVolts()
		for i, ch := range channels {
			in := s.cfg.Inputs[ch]
			v := fast
			if in.Kind == "slow_adc" {
				v = slow
			}
			stats[i].Add(s.now, v[in.Index])
		}
	}
	mean, std = map[string]float64{}, map[string]float64{}
	for i, ch := range channels {
		if stats[i].N == 0 {
			return nil, nil, fmt.Errorf("rig: no good frame of %s in %s", ch, units.FormatDuration(d))
		}
		mean[ch], std[ch] = stats[i].Mean(), stats[i].Std()
	}
	return mean, std, nil
}

// Zero makes a zero record for each channel from its mean reading with the
// sensor at its zero reference (a pressure transducer open to atmosphere, a
// flow meter at no flow): the calibration in force, offset so that reading
// is zero. Its due date stays that of the calibration it corrects. removed
// is what each channel read at its zero reference before: the offset the
// zeroing takes away, in the channel's unit.
func (s *CalSession) Zero(ctx context.Context, channels []string, d time.Duration, operator string) (recs []CalRecord, removed []float64, err error) {
	file, err := s.cfg.LoadCalibrations()
	if err != nil {
		return nil, nil, err
	}
	inForce := file.InForce()
	mean, _, err := s.MeanVolts(ctx, channels, d)
	if err != nil {
		return nil, nil, err
	}
	for _, ch := range channels {
		removed = append(removed, s.cals[ch].Apply(mean[ch]))
		z := s.cals[ch].Zeroed(mean[ch])
		r := CalRecord{Channel: ch, Method: "zero", Date: s.clk.Epoch().Add(s.clk.Now()).UTC(), Reference: "atmosphere (zero)",
			Operator: operator, Points: []daq.Point{{Volts: mean[ch], Value: 0}}, Coeffs: z.Coeffs}
		if prev, ok := inForce[ch]; ok {
			r.Due = prev.Due
		}
		recs = append(recs, r)
	}
	return recs, removed, nil
}

// CalibratePoint is one reference value applied during a calibration, and
// the mean input voltage measured at it.
type CalibratePoint struct {
	Value, Volts, Std float64
}

// Calibrate measures a channel at each reference value in turn and fits a
// polynomial through the points (linear for two). apply is called before
// each point to have the reference applied: on the sim backend it may just
// call Present; on hardware it asks the operator.
func (s *CalSession) Calibrate(ctx context.Context, channel string, refs []float64, settle, d time.Duration,
	apply func(value float64) error) ([]CalibratePoint, daq.Calibration, error) {
	if len(refs) < 2 {
		return nil, daq.Calibration{}, errors.New("rig: a calibration needs at least two reference values")
	}
	var pts []CalibratePoint
	var fit []daq.Point
	for _, ref := range refs {
		if err := apply(ref); err != nil {
			return nil, daq.Calibration{}, err
		}
		if _, _, err := s.MeanVolts(ctx, []string{channel}, settle); err != nil { // let it settle
			return nil, daq.Calibration{}, err
		}
		mean, std, err := s.MeanVolts(ctx, []string{channel}, d)
		if err != nil {
			return nil, daq.Calibration{}, err
		}
		pts = append(pts, CalibratePoint{Value: ref, Volts: mean[channel], Std: std[channel]})
		fit = append(fit, daq.Point{Volts: mean[channel], Value: ref})
	}
	cal, err := daq.Fit(fit, min(len(fit)-1, 3))
	if err != nil {
		return pts, cal, err
	}
	// A clipped or flat calibration is refused here, before the operator
	// is shown it as a result, and again when saved.
	if _, err := s.cfg.checkCalRecord(CalRecord{Channel: channel, Input: s.cfg.inputID(channel), Points: fit, Coeffs: cal.Coeffs}); err != nil {
		return pts, cal, fmt.Errorf("rig: the calibration of %s %v", channel, err)
	}
	return pts, cal, nil
}

// Now is the session's time as a wall-clock instant.
func (s *CalSession) Now() time.Time { return s.clk.Epoch().Add(s.clk.Now()).UTC() }
