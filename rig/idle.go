package rig

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mockloop/mockloop/bench"
	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/units"
)

// idleState is the bench status of a holder that only samples the rig
// idle: lockBench asks it to release the bench.
const idleState = "idle sampling"

// Idle is the rig sampled at its safe state with no run (the bench view's
// live signals while idle, for priming and zeroing): nothing is recorded,
// nothing moves. It holds the bench, and lets it go when a run, a zero or
// a calibration asks through the control socket (bench.ActionRelease), or
// when Stop is called.
type Idle struct {
	// Layout is the channels of each frame; RateHz the sample rate.
	Layout []runlog.Channel
	RateHz float64

	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// SampleIdle takes the bench of cfg (bench.ErrBusy when another process
// holds it), puts the rig in its safe state and calls frame, on its own
// goroutine, for every frame, on the wall clock, until Stop or a release.
// frame must not block; its values are reused.
func SampleIdle(cfg *Config, frame func(t time.Duration, values []float64)) (*Idle, error) {
	dir, err := bench.Dir()
	if err != nil {
		return nil, err
	}
	lock, err := bench.Acquire(dir, cfg.BenchResources(), bench.Status{State: idleState})
	if err != nil {
		return nil, err
	}
	plant, err := idlePlant(cfg)
	if err != nil {
		lock.Release()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	err = lock.Serve(func(req bench.Request) (bench.Status, error) {
		switch req.Action {
		case bench.ActionRelease, bench.ActionStop, bench.ActionEStop:
			cancel() // the bench is safe already: a stop just lets it go
		case bench.ActionStatus:
		default:
			return bench.Status{}, fmt.Errorf("rig: the bench view samples the bench idle: no run to %s", req.Action)
		}
		return lock.Holder(), nil
	})
	if err != nil {
		cancel()
		lock.Release()
		return nil, errors.Join(err, plant.Safe(), plant.Close())
	}
	id := &Idle{Layout: runlog.Channels(plant.Layout(), units.Dimension.Unit), RateHz: cfg.SampleRate, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(id.done)
		defer lock.Release()
		err := id.sample(ctx, cfg, plant, frame)
		id.err = errors.Join(err, plant.Safe(), plant.Close())
	}()
	return id, nil
}

// idlePlant opens the rig's plant in its safe state, on the wall clock.
func idlePlant(cfg *Config) (*busPlant, error) {
	p, _, err := safePlant(cfg, clock.NewReal())
	return p, err
}

// safePlant opens the rig's plant on clk in its safe state, with the
// calibrations in force (overdue ones too: nothing it reads is recorded
// as a run's), which it returns.
func safePlant(cfg *Config, clk clock.Clock) (*busPlant, map[string]daq.Calibration, error) {
	file, err := cfg.LoadCalibrations()
	if err != nil {
		return nil, nil, err
	}
	cals, _, err := cfg.channelCalibrations(file, clk.Epoch(), true)
	if err != nil {
		return nil, nil, err
	}
	p, err := newPlant(cfg, clk, cals)
	if err != nil {
		return nil, nil, err
	}
	bp := p.(*busPlant)
	if err := bp.Safe(); err != nil {
		return nil, nil, errors.Join(err, bp.Close())
	}
	return bp, cals, nil
}

// sample reads a frame every sample period of the wall clock until ctx
// ends; a lost frame is skipped.
func (id *Idle) sample(ctx context.Context, cfg *Config, p *busPlant, frame func(time.Duration, []float64)) error {
	clk := clock.NewReal()
	period := time.Duration(float64(time.Second) / cfg.SampleRate)
	values := make([]float64, len(p.Layout()))
	start := clk.Now()
	for next := start; ; {
		next += period
		if err := clk.SleepUntil(ctx, next); err != nil {
			return nil // stopped or released
		}
		if _, err := p.Read(values); err != nil {
			if errors.Is(err, daq.ErrBadFrame) {
				continue
			}
			return err
		}
		frame(next-start, values)
	}
}

// Stop ends the sampling and waits until the rig is safe and the bench
// released; the error is the sampling's, if it failed.
func (id *Idle) Stop() error {
	id.cancel()
	<-id.done
	return id.err
}

// Done is closed when the sampling has ended (Stop, a release, a failure)
// and the bench is released.
func (id *Idle) Done() <-chan struct{} { return id.done }
