package rig

import (
	"fmt"
	"time"

	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/influx"
	"github.com/mockloop/mockloop/runlog"
)

// outlets are where what a run produces goes, always in this order: the
// run record first (the truth; a failing record does not stop a running
// rig, its error is reported when it closes), then the InfluxDB sink
// (copies, never blocks), then the observer (last, and lossy: DESIGN.md).
// The engine writes events, beats, step results and frames through them
// only, so no consumer can be forgotten on one path.
type outlets struct {
	rec  *runlog.Record
	sink *influx.Sink // or nil
	obs  Observer     // or nil
	// dec, when set, keeps one frame in N of the blocks for the record
	// and the sink (frames.go); the observer sees every frame.
	dec *decimator
}

func (o *outlets) event(ev runlog.Event) {
	_ = o.drain() // a failure is kept by the record, and its next append reports it
	_ = o.rec.Event(ev)
	if o.sink != nil {
		o.sink.Event(ev)
	}
	if o.obs != nil {
		o.obs.Event(ev)
	}
}

// deviceEvent records an event the plant reported (a frame on the DUT
// link) in the record alone: at ten or more a second they would crowd the
// sink and the view, which count and show them from the record.
func (o *outlets) deviceEvent(ev runlog.Event) {
	_ = o.drain()
	_ = o.rec.Event(ev)
}

func (o *outlets) beat(b runlog.Beat) {
	_ = o.rec.Beat(b)
	if o.sink != nil {
		o.sink.Beat(b)
	}
	if o.obs != nil {
		o.obs.Beat(b)
	}
}

// step hands a finished step's result to the sink (the record has it in
// the step.end event, which follows).
func (o *outlets) step(res runlog.StepResult) {
	if o.sink != nil {
		o.sink.Step(res)
	}
}

// frame shows one frame to the observer; frames reach the record and the
// sink by the block (blocks).
func (o *outlets) frame(t time.Duration, v []float64) {
	if o.obs != nil {
		o.obs.Frame(t, v)
	}
}

// blocks appends a block of frames to the record and the sink: the same
// frames to both, those dec keeps if it is set, so that InfluxDB and the
// record agree to the frame (and the sink can re-read from the record
// what its queue could not hold).
func (o *outlets) blocks(b *daq.Block) error {
	if o.dec != nil {
		return o.dec.keep(b, o.write)
	}
	return o.write(b)
}

// drain writes the frames dec kept and holds; the engine drains before
// it counts the record's frames at the end of the run.
func (o *outlets) drain() error {
	if o.dec == nil {
		return nil
	}
	return o.dec.drain(o.write)
}

// write appends a block of frames to the record and the sink.
func (o *outlets) write(b *daq.Block) error {
	err := o.rec.AppendBlock(b)
	if o.sink != nil {
		o.sink.Frames(b) // copies; never blocks the loop
	}
	if err != nil {
		return fmt.Errorf("run record: %w", err)
	}
	return nil
}
