package rig

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/mockloop/mockloop/daq"
)

// A dry run of a whole support duration (14 days at 1 kHz) acquires more
// frames than a record should hold; `--frames every:N` keeps one in N in
// the record and InfluxDB. Only there: the supervisor, the beat
// detectors, the step statistics, the criteria and the observer see every
// frame, so the verdicts are those of the full run. The manifest says so
// (frames_kept_every), and so do the reports and the JUnit. A bench run
// is evidence and keeps every frame: the option is for virtual time only.

// ErrFrames is wrapped by the refusals of a frame selection: bad syntax,
// or one that would leave out frames of a run on the wall clock.
var ErrFrames = errors.New("frames")

// ParseFrames reads a frame selection as `--frames` and the bench view's
// start request give it: "every:N" keeps one frame in N (N a whole number
// from 1; every:1 keeps them all). Its errors begin `frames "…":`, for
// the CLI to put "--" before.
func ParseFrames(s string) (int, error) {
	n, ok := strings.CutPrefix(strings.TrimSpace(s), "every:")
	if !ok {
		return 0, fmt.Errorf("%w %q: want every:N, one frame in N kept (every:1 keeps them all)", ErrFrames, s)
	}
	v, err := strconv.Atoi(n)
	if err != nil || v < 1 {
		return 0, fmt.Errorf("%w %q: N must be a whole number from 1 (every:1 keeps every frame)", ErrFrames, s)
	}
	return v, nil
}

// CheckFrames refuses to keep fewer than every frame of a run that is not
// a dry run on virtual time (--realtime, a hardware rig, a real DUT), and
// of a resumed run, which keeps what its record kept. Run checks it before
// anything moves; serve checks it before it queues a run.
func CheckFrames(cfg *Config, opts Options) error {
	if opts.FramesEvery <= 1 {
		return nil
	}
	why := cfg.WallClockOnly()
	switch {
	case why != "":
	case opts.Realtime:
		why = "the run is on the wall clock (--realtime)"
	case opts.Resume != "":
		return fmt.Errorf("rig: %w every:%d with --resume: a resumed run goes on keeping what its record kept", ErrFrames, opts.FramesEvery)
	default:
		return nil
	}
	return fmt.Errorf("rig: %w every:%d keeps 1 frame in %d for dry runs on virtual time only, and %s: a run on the wall clock keeps every frame", ErrFrames, opts.FramesEvery, opts.FramesEvery, why)
}

// decimator keeps one frame in every of those handed to it, counted from
// the run's first frame (which it keeps). The kept frames fill blocks as
// full as the engine's, so that a record's framing costs per frame what
// it costs in a run that keeps every frame; its outlets drain what it
// holds before each event (outlets.event), so that nothing on disk is
// ahead of the frames that preceded it, as in any record. Nothing is
// allocated per frame.
type decimator struct {
	every int
	seen  int64 // frames handed to it so far
	kept  *daq.Block
}

// newDecimator keeps one frame in every (≥ 2), in blocks of capacity
// frames of width channels.
func newDecimator(every, width, capacity int) *decimator {
	return &decimator{every: every, kept: daq.NewBlock(width, capacity)}
}

// keep takes the frames of b to keep, handing each block it fills to
// write, which must not keep it.
func (d *decimator) keep(b *daq.Block, write func(*daq.Block) error) error {
	for i := range b.Len() {
		if d.seen%int64(d.every) == 0 {
			copy(d.kept.Append(b.Times[i]), b.Frame(i))
			if d.kept.Full() {
				if err := d.drain(write); err != nil {
					return err
				}
			}
		}
		d.seen++
	}
	return nil
}

// drain hands the frames kept and not yet written to write.
func (d *decimator) drain(write func(*daq.Block) error) error {
	if d.kept.Len() == 0 {
		return nil
	}
	err := write(d.kept)
	d.kept.Reset()
	return err
}
