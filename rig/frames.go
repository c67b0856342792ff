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
// from 1; every:1 keeps them all).
func ParseFrames(s string) (int, error) {
	n, ok := strings.CutPrefix(strings.TrimSpace(s), "every:")
	if !ok {
		return 0, fmt.Errorf("rig: %w %q: want every:N, one frame in N kept (every:1 keeps them all)", ErrFrames, s)
	}
	v, err := strconv.Atoi(n)
	if err != nil || v < 1 {
		return 0, fmt.Errorf("rig: %w %q: N must be a whole number from 1 (every:1 keeps every frame)", ErrFrames, s)
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
// the run's first frame (which it keeps), into a block of its own reused
// for each block: nothing is allocated per frame.
type decimator struct {
	every int
	seen  int64 // frames handed to it so far
	kept  *daq.Block
}

// newDecimator keeps one frame in every (≥ 2) of blocks of up to capacity
// frames of width channels.
func newDecimator(every, width, capacity int) *decimator {
	return &decimator{every: every, kept: daq.NewBlock(width, capacity)}
}

// keep returns the frames of b to keep, in a block valid until the next
// call; it may be empty.
func (d *decimator) keep(b *daq.Block) *daq.Block {
	d.kept.Reset()
	for i := range b.Len() {
		if d.seen%int64(d.every) == 0 {
			copy(d.kept.Append(b.Times[i]), b.Frame(i))
		}
		d.seen++
	}
	return d.kept
}
