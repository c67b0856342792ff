package fidelity

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/rig"
	"github.com/mockloop/mockloop/runlog"
)

// Options are where the rig configs come from and how the runs are made.
type Options struct {
	// RigDir is the directory of the shipped rig configs (configs/rigs),
	// or, with FS set, the directory within FS ("rigs").
	RigDir string
	FS     fs.FS
	// Version is the software's, recorded in each run and the report.
	Version string
	// Parallel is how many experiments run at once; 0: one per CPU.
	Parallel int
	// Cases are the cases to run; nil: Cases().
	Cases []Case
}

// Result is a case with its simulated value and verdict.
type Result struct {
	Case
	Simulated float64 // NaN when it could not be measured
	Error     float64
	Pass      bool
	// Note says why a value is missing (the run's outcome).
	Note string
}

// Run runs the experiments of the cases, in parallel where they are
// independent (each simulated rig on virtual time, under a bench name of
// its own), and judges every case. An error means a run could not be made
// at all (a config, a bench held by another process) or ctx was
// cancelled; a run that ends otherwise than it should fails its cases
// instead.
func Run(ctx context.Context, opts Options) ([]Result, error) {
	cases := opts.Cases
	if cases == nil {
		cases = Cases()
	}
	all := experiments()
	var ids []string
	seen := map[string]bool{}
	for _, c := range cases {
		if _, ok := all[c.Experiment]; !ok {
			return nil, fmt.Errorf("fidelity: case %s: no experiment %q", c.ID, c.Experiment)
		}
		if !seen[c.Experiment] {
			seen[c.Experiment] = true
			ids = append(ids, c.Experiment)
		}
	}
	runs, err := os.MkdirTemp("", "mockloop-fidelity-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(runs)
	ps := make([]*prepared, len(ids))
	for i, id := range ids {
		if ps[i], err = prepare(all[id], i, runs, opts); err != nil {
			return nil, fmt.Errorf("fidelity: %s: %w", id, err)
		}
	}
	par := opts.Parallel
	if par <= 0 {
		par = runtime.GOMAXPROCS(0)
	}
	type out struct {
		ms   Measures
		note string
		err  error
	}
	outs := make([]out, len(ids))
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			o := &outs[i]
			o.ms, o.note, o.err = ps[i].run(ctx, runs, opts)
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil { // stopped (SIGINT): the runs' outcomes are not the model's
		return nil, fmt.Errorf("fidelity: %w", err)
	}
	byID := map[string]out{}
	for i, id := range ids {
		if outs[i].err != nil {
			return nil, fmt.Errorf("fidelity: %s: %w", id, outs[i].err)
		}
		byID[id] = outs[i]
	}
	res := make([]Result, len(cases))
	for i, c := range cases {
		o := byID[c.Experiment]
		r := Result{Case: c, Simulated: math.NaN(), Note: o.note}
		if o.ms != nil {
			r.Simulated = c.Value(o.ms)
		}
		r.Error, r.Pass = c.Evaluate(r.Simulated)
		res[i] = r
	}
	return res, nil
}

// ErrInvalid marks a mistake in the rig configs the cases run on (or in
// what they make of a generated protocol): the operator's to fix, found
// before any run starts.
var ErrInvalid = errors.New("invalid rig config")

// prepared is an experiment ready to run: its rig config, renamed to a
// bench of its own, and its generated protocol.
type prepared struct {
	e     experiment
	cfg   *rig.Config
	proto *protocols.Protocol
	src   string
}

// prepare loads experiment e's rig config with its DUT profile and
// calibration, gives it the bench name of the i-th experiment with the
// calibration's copy under runs, and parses its protocol.
func prepare(e experiment, i int, runs string, opts Options) (*prepared, error) {
	if e.direct != nil {
		return &prepared{e: e}, nil
	}
	cfg, err := loadRig(e.rig, opts)
	if err == nil && e.dut != "" {
		err = cfg.SetDUTProfile(e.dut)
	}
	if err == nil {
		_, err = cfg.LoadCalibrations()
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := benchOfItsOwn(cfg, fmt.Sprintf("%s-fidelity-%d", cfg.Name, i), runs); err != nil {
		return nil, err
	}
	src := "protocol: 1\nname: fidelity-" + e.id + "\nsteps:\n" + e.steps
	p, err := protocols.Parse(e.id+".yaml", []byte(src), cfg.Info())
	if err != nil {
		return nil, fmt.Errorf("%w: the generated protocol on %s: %w", ErrInvalid, e.rig, err)
	}
	return &prepared{e: e, cfg: cfg, proto: p, src: src}, nil
}

// run makes the experiment's run with its record under runs and returns
// its measures; nil measures and a note when the run did not pass (a
// criterion without a value, an abort).
func (p *prepared) run(ctx context.Context, runs string, opts Options) (Measures, string, error) {
	e := p.e
	if e.direct != nil {
		ms, err := e.direct()
		return ms, "", err
	}
	res, _, err := rig.Run(ctx, p.cfg, p.proto, rig.Options{RunsDir: runs, ProtocolFile: e.id + ".yaml", ProtocolSource: []byte(p.src), Version: opts.Version})
	if err != nil {
		return nil, "", err
	}
	if res.Outcome != runlog.OutcomePass {
		return nil, fmt.Sprintf("run %s: %s %s", e.id, res.Outcome, res.AbortReason), nil
	}
	ms := Measures{}
	for _, c := range res.Criteria {
		if c.Value == nil {
			return nil, fmt.Sprintf("run %s: %s has no value", e.id, c.ID), nil
		}
		ms[c.ID] = *c.Value
	}
	return ms, "", nil
}

// loadRig reads a shipped rig config from the rig directory.
func loadRig(file string, opts Options) (*rig.Config, error) {
	if opts.FS == nil {
		return rig.LoadConfig(filepath.Join(opts.RigDir, file))
	}
	name := path.Join(opts.RigDir, file)
	data, err := fs.ReadFile(opts.FS, name)
	if err != nil {
		return nil, err
	}
	cfg, err := rig.ParseConfig(name+" (embedded)", data)
	if err != nil {
		return nil, err
	}
	cfg.FS = opts.FS
	return cfg, nil
}

// benchOfItsOwn renames the simulated rig cfg, and so gives it a bench
// lock of its own (experiments run in parallel; a lab's `run` on the rig
// is not refused by a fidelity report), with a copy of its calibration
// file under dir bound to the new name.
func benchOfItsOwn(cfg *rig.Config, name, dir string) error {
	var data []byte
	var err error
	if cfg.FS != nil {
		data, err = fs.ReadFile(cfg.FS, path.Join("rigs", cfg.CalibrationFile))
	} else {
		data, err = os.ReadFile(cfg.CalibrationPath())
	}
	if errors.Is(err, fs.ErrNotExist) { // none: nominal calibration, bound to no name
		cfg.CalibrationFile, cfg.Name = "", name
		return nil
	}
	if err != nil {
		return err
	}
	old := fmt.Sprintf("%q: %q", "rig", cfg.Name)
	if !bytes.Contains(data, []byte(old)) {
		return fmt.Errorf("calibration of %s: no %s", cfg.Name, old)
	}
	data = bytes.Replace(data, []byte(old), fmt.Appendf(nil, "%q: %q", "rig", name), 1)
	f := filepath.Join(dir, name+".calibration.json")
	if err := os.WriteFile(f, data, 0o644); err != nil {
		return err
	}
	cfg.CalibrationFile, cfg.FS, cfg.Name = f, nil, name
	return nil
}
