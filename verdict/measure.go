package verdict

import (
	"cmp"
	"errors"
	"io/fs"
	"math"
	"slices"
	"time"

	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/runlog"
)

// sweep hands each sample, in time order, the jobs whose step window
// (start, end] holds it: the frames and beats a step's criteria saw are
// those the engine accounted while the step ran.
type sweep struct {
	jobs   []*job // by start
	next   int
	active []*job
}

func newSweep(js []*job) *sweep {
	s := &sweep{jobs: slices.Clone(js)}
	slices.SortStableFunc(s.jobs, func(a, b *job) int { return cmp.Compare(a.start, b.start) }) // not int(a-b): 32 bits on ARMv7
	return s
}

// at returns the jobs whose window holds t; t must not decrease.
func (s *sweep) at(t time.Duration) []*job {
	for s.next < len(s.jobs) && s.jobs[s.next].start < t {
		s.active = append(s.active, s.jobs[s.next])
		s.next++
	}
	s.active = slices.DeleteFunc(s.active, func(j *job) bool { return j.end < t })
	return s.active
}

// measure feeds the record's frames and beats to the judged steps' jobs,
// and every frame to the invariants.
func (w *walk) measure(run *runlog.Run) error {
	var frameJobs, beatJobs []*job
	for _, jd := range w.judged {
		for _, j := range jd.jobs {
			switch {
			case j.skip != "" || j.col < 0 || j.redetect != nil:
			case j.acc.C.Measure.IsBeat():
				beatJobs = append(beatJobs, j)
			default:
				frameJobs = append(frameJobs, j)
			}
		}
	}
	for _, c := range w.proto.Always {
		col := slices.IndexFunc(w.layout, func(ch runlog.Channel) bool { return ch.Name == c.Channel })
		if col < 0 {
			continue
		}
		w.always = append(w.always, &Invariant{C: c, Dim: dimOf(w.layout[col].Unit)})
		w.cols = append(w.cols, col)
	}
	w.before = make([]Invariant, len(w.always))
	if w.kept > 1 {
		// nothing over frames is recomputed (thinned): a 14-day dry run's
		// record is not read for it
		return w.beats(run.Dir, beatJobs)
	}
	frames := newSweep(frameJobs)
	dets := w.detectors()
	_, err := run.Frames(func(t time.Duration, v []float64) error {
		for _, j := range frames.at(t) {
			if !Paused(w.pauses, t) {
				j.acc.Frame(t, v[j.col])
			}
		}
		w.detect(dets, t, v)
		for i, inv := range w.always {
			w.before[i] = *inv
			inv.Add(t, v[w.cols[i]])
		}
		return nil
	})
	if err != nil {
		return err
	}
	return w.beats(run.Dir, beatJobs)
}

// beats feeds the record's beats to the beat jobs.
func (w *walk) beats(dir string, beatJobs []*job) error {
	beats := newSweep(beatJobs)
	_, err := runlog.EachBeat(dir, func(b *runlog.Beat) error {
		t := seconds(b.T)
		if Paused(w.pauses, t) {
			return nil
		}
		for _, j := range beats.at(t) {
			if j.beatCh == b.Channel {
				j.acc.Beat(t, j.beatVal(b))
			}
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	return err
}

// judge judges the measured jobs in the engine's order: each judged
// step's until timeout and criteria (a reference measure kept for the
// criteria relative to it), then the invariants if the run ended.
func (w *walk) judge() *Recomputed {
	rc := &Recomputed{Alt: map[int]runlog.CriterionResult{}, NotRecomputed: map[int]string{}, rejudge: map[int]func(float64) runlog.Verdict{},
		ended: w.ended, aborted: w.aborted}
	if !w.ended {
		// interrupted: the engine wrote no result, and Recover's has no
		// criteria (a resumed run judges its steps again)
		rc.Outcome = runlog.OutcomeInterrupted
		return rc
	}
	type refTol struct {
		Ref
		tol float64
	}
	refs := map[*protocols.Criterion]refTol{}
	for _, jd := range w.judged {
		judged := func(r runlog.CriterionResult) runlog.CriterionResult {
			if jd.superseded {
				return Supersede(r)
			}
			return r
		}
		if jd.prompt != nil {
			rc.add(judged(*jd.prompt), 0)
		}
		if jd.timeout != nil {
			rc.add(judged(*jd.timeout), 0)
		}
		for _, j := range jd.jobs {
			c := j.acc.C
			v, n := j.acc.Measured(jd.end)
			tol := j.tolerance(jd.end)
			if j.ref {
				refs[c] = refTol{Ref{V: v, Path: jd.path, OK: true}, tol}
				continue
			}
			r := refs[c]
			res := Judge(c, jd.path, jd.title, j.dim, v, n, r.Ref)
			if rel := c.Relative; rel != nil && r.OK {
				tol = relTol(rel, v, r.V, tol, r.tol)
			}
			if j.skip != "" {
				rc.NotRecomputed[len(rc.Criteria)] = j.skip
				if c.Relative == nil && !jd.superseded {
					path, title, dim := jd.path, jd.title, j.dim
					rc.rejudge[len(rc.Criteria)] = func(v float64) runlog.Verdict { return Judge(c, path, title, dim, v, 1, Ref{}).Verdict }
				}
			}
			rc.add(judged(res), tol)
			rc.RefTol[len(rc.RefTol)-1] = r.tol
		}
	}
	for i, inv := range w.always {
		if w.kept > 1 {
			rc.NotRecomputed[len(rc.Criteria)] = thinned(w.kept)
			c, dim := inv.C, inv.Dim
			rc.rejudge[len(rc.Criteria)] = func(v float64) runlog.Verdict {
				one := Invariant{C: c, Dim: dim}
				one.Add(0, v)
				return one.Result().Verdict
			}
		} else if w.aborted {
			rc.Alt[len(rc.Criteria)] = w.before[i].Result()
		}
		rc.add(inv.Result(), FrameTolerance*math.Abs(inv.Worst))
	}
	rc.Outcome = outcome(w.ended, w.aborted, rc.Criteria)
	return rc
}

func (rc *Recomputed) add(res runlog.CriterionResult, tol float64) {
	rc.Criteria = append(rc.Criteria, res)
	rc.Tol = append(rc.Tol, tol)
	rc.RefTol = append(rc.RefTol, 0)
}

// outcome is the run's outcome as the engine made it: interrupted without
// a run.end, aborted as its run.end says, else fail if a criterion fails
// the run (a step's that did not pass and does not only warn; an
// invariant's that failed).
func outcome(ended, aborted bool, crit []runlog.CriterionResult) runlog.Outcome {
	switch {
	case !ended:
		return runlog.OutcomeInterrupted
	case aborted:
		return runlog.OutcomeAborted
	}
	for _, c := range crit {
		if c.Verdict == runlog.VerdictFail || c.Step != "always" && c.Verdict == runlog.VerdictNoData && c.OnFail != "warn" {
			return runlog.OutcomeFail
		}
	}
	return runlog.OutcomePass
}

// tolerance is how far the job's value over the record's float32 frames
// may lie from the engine's over its float64 ones: FrameTolerance of the
// largest magnitude among the frames, per minute of the window for a
// slope (a least-squares slope moves by at most 3·δ/T for values moved by
// δ over T). Beats, flag counts and fractions are exact.
func (j *job) tolerance(end time.Duration) float64 {
	m := j.acc.C.Measure
	if j.redetect != nil {
		return redetectTolerance(m.Agg, j.scale)
	}
	if m.IsBeat() || m.Agg == "count" || m.Agg == "fraction" || j.acc.Stats.N == 0 {
		return 0
	}
	scale := FrameTolerance * max(math.Abs(j.acc.Stats.Min), math.Abs(j.acc.Stats.Max))
	if m.Agg == "slope" {
		span := (end - j.start).Seconds()
		if o := j.acc.C.Over; o > 0 {
			span = min(span, o.Seconds())
		}
		return scale * 3 * 60 / max(span, 1e-3)
	}
	return scale
}

// relTol is the tolerance of a relative criterion's change, from those of
// its value and reference.
func relTol(rel *protocols.Relative, v, ref, tolV, tolRef float64) float64 {
	if !rel.Percent {
		return tolV + tolRef
	}
	return 100 * (tolV/math.Abs(ref) + math.Abs(v)*tolRef/(ref*ref))
}
