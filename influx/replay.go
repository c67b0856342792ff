package influx

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/mockloop/mockloop/runlog"
)

// Replay completes the delivery to InfluxDB of the run in runDir, for
// `mockloop sync`: it first turns what spool/state.json says is owed into
// spool batches, re-reading it from the record (frames in gaps; after a
// crash also the frames after the last delivered one, all events and beats,
// and the steps of result.json), then writes the spooled batches oldest
// first, deleting each once acknowledged, and stops at the first that
// fails for a reason a retry may cure (the server is down). A batch the
// server refuses as invalid is moved to spool/rejected. When nothing is left
// to replay it writes the run's summary point, with the run's identity from
// the manifest (see MeasurementRuns): a run delivered late, or after a
// crash, has it too.
//
// It returns the points acknowledged now and the points left (spooled or
// refused), and records the outcome in the run's delivery.json
// (SetInfluxDelivery). A run without a spool directory owes nothing and is
// left alone. A run that is still "running" is recovered first (Recover) if
// its process is gone; one whose lock is held is refused.
//
// Everything Replay writes, InfluxDB may already hold: the points are the
// same, so they replace themselves and nothing is doubled.
func Replay(ctx context.Context, runDir string, cfg Config) (replayed, left int64, err error) {
	cfg, err = cfg.withDefaults()
	if err != nil {
		return 0, 0, err
	}
	spool := filepath.Join(runDir, spoolDirName)
	if _, err := os.Stat(spool); errors.Is(err, fs.ErrNotExist) {
		return 0, 0, nil
	}
	run, lock, err := runlog.Own(runDir)
	if err != nil {
		return 0, 0, fmt.Errorf("influx: replay %s: %w", runDir, err)
	}
	defer lock.Close()
	st, err := readState(spool)
	if err != nil {
		return 0, 0, err
	}
	w, err := newInfluxWriter(cfg, spool)
	if err != nil {
		return 0, 0, err
	}
	defer w.close()
	m := run.Manifest
	m.Coding = run.Coding() // not in manifest.json: the segments' headers say it
	enc := newLPEncoder(m.RunID, m.Rig, m.Layout, m.Coding, m.Epoch)
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)

	if !st.Complete || len(st.Gaps) > 0 || st.EventsOwed {
		// Local work only, so it is not cut short by ctx: a half-done
		// materialisation would be done again, spooling points twice.
		if err := materialize(run, st, enc, zw, w, cfg.BatchSize); err != nil {
			return 0, w.spooledPoints() + w.rejected, fmt.Errorf("influx: replay %s: %w", runDir, err)
		}
		if err := writeState(spool, sinkState{Complete: true}); err != nil {
			return 0, w.spooledPoints() + w.rejected, err
		}
	}

	for len(w.files) > 0 && ctx.Err() == nil {
		n, err := w.replayOldest(ctx)
		if err != nil {
			var werr *writeError
			if !errors.As(err, &werr) {
				return replayed, w.spooledPoints() + w.rejected, err
			}
			break // unreachable: stop, keep the rest for the next sync
		}
		replayed += n
	}
	if len(w.files) > 0 && w.lastErr == "" && ctx.Err() != nil {
		w.lastErr = "sync: " + context.Cause(ctx).Error()
	}

	finished := false
	if len(w.files) == 0 && ctx.Err() == nil {
		if run.Result == nil {
			finished = true
		} else {
			enc.reset()
			enc.run(run.Result, run.Result.Frames, w.rejected == 0, &m) // with the identity: the start point may be lost
			var body bytes.Buffer
			if err := gzipBatch(zw, &body, enc.buf, 1); err != nil {
				return replayed, w.rejected, err
			}
			if werr := w.post(ctx, body.Bytes()); werr != nil {
				w.lastErr = werr.msg
			} else {
				finished = true
			}
		}
	}
	left = w.spooledPoints() + w.rejected
	d := runlog.InfluxDelivery{Delivered: finished && w.rejected == 0, SpooledPoints: left}
	if !d.Delivered {
		d.Error = w.lastErr
	}
	if run.Result != nil {
		if err := runlog.SetInfluxDelivery(runDir, d); err != nil {
			return replayed, left, err
		}
	}
	if finished {
		if err := removeSpool(spool); err != nil {
			return replayed, left, err
		}
	}
	return replayed, left, nil
}

// materialize spools, as batches, what a state says the record still owes
// InfluxDB.
func materialize(run *runlog.Run, st sinkState, enc *lpEncoder, zw *gzip.Writer, w *influxWriter, batchSize int) error {
	var body bytes.Buffer
	full := func() error {
		if enc.points < batchSize {
			return nil
		}
		return spoolBatch(enc, zw, &body, w)
	}
	return materializeInto(run, st, enc, full, func() error { return spoolBatch(enc, zw, &body, w) })
}

// spoolBatch compresses the encoder's points into a spool batch and resets
// it.
func spoolBatch(enc *lpEncoder, zw *gzip.Writer, body *bytes.Buffer, w *influxWriter) error {
	if enc.points == 0 {
		return nil
	}
	n := int64(enc.points)
	if err := gzipBatch(zw, body, enc.buf, n); err != nil {
		return err
	}
	enc.reset()
	return w.spool(body.Bytes(), n)
}

// materializeInto encodes what st says is owed: the frames in its gaps and,
// if it is not complete, the frames after FramesTo, every event and beat,
// and the steps of the result. full is called after each point to flush a
// full batch, end at the end.
func materializeInto(run *runlog.Run, st sinkState, enc *lpEncoder, full, end func() error) error {
	const never = time.Duration(math.MaxInt64)
	owedAfter := never // frames after this time are all owed
	if !st.Complete {
		owedAfter = math.MinInt64
		if st.FramesTo != nil {
			owedAfter = time.Duration(*st.FramesTo)
		}
	}
	from := never // the first time that may be owed
	if owedAfter != never {
		from = owedAfter + 1
	}
	for _, g := range st.Gaps {
		from = min(from, time.Duration(g.From))
	}
	owed := func(t time.Duration) bool {
		if t > owedAfter {
			return true
		}
		for _, g := range st.Gaps {
			if time.Duration(g.From) <= t && t <= time.Duration(g.To) {
				return true
			}
		}
		return false
	}
	if from != never {
		_, err := runlog.NewFrameRanges(run.Dir, run.Manifest.Layout).Scan(from, never, func(t time.Duration, v []float64) error {
			if owed(t) {
				enc.frame(t, v)
				return full()
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if !st.Complete || st.EventsOwed {
		evs, err := run.ReadEvents()
		if err != nil && evs == nil {
			return err
		}
		for _, e := range evs {
			enc.event(e)
			if err := full(); err != nil {
				return err
			}
		}
		beats, err := run.ReadBeats()
		if err != nil && beats == nil {
			return err
		}
		for _, b := range beats {
			enc.beat(b)
			if err := full(); err != nil {
				return err
			}
		}
		if run.Result != nil {
			for _, s := range run.Result.Steps {
				enc.step(s, run.Manifest.Layout)
				if err := full(); err != nil {
					return err
				}
			}
		}
	}
	return end()
}

// HasSpool reports whether the run in dir has an InfluxDB spool: data that
// has not (all) reached InfluxDB yet, for Replay.
func HasSpool(dir string) bool {
	fi, err := os.Stat(filepath.Join(dir, spoolDirName))
	return err == nil && fi.IsDir()
}
