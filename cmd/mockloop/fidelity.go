package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/mockloop/mockloop/configs"
	"github.com/mockloop/mockloop/fidelity"
	"github.com/mockloop/mockloop/internal/termtext"
)

const fidelityUsage = "usage: mockloop fidelity [--out DIR] [--rig-dir DIR]\n"

// cmdFidelity is `mockloop fidelity`: the simulator's credibility report
// (package fidelity). Exit 0 only when every case is within its
// tolerance, 1 when one is not, 2 when stopped (SIGINT, SIGTERM), 3 on
// bad usage or a bad rig config, 4 when a run could not be made or a file
// not written.
func cmdFidelity(args []string, stdout, stderr io.Writer) int {
	return fidelityWith(args, nil, stdout, stderr)
}

// fidelityWith is cmdFidelity with the cases to run (nil: all of them).
func fidelityWith(args []string, cases []fidelity.Case, stdout, stderr io.Writer) int {
	fs := newFlagSet("fidelity", stderr)
	out := fs.String("out", ".", "write fidelity.json, fidelity.html and fidelity.pdf to `DIR`")
	rigDir := fs.String("rig-dir", filepath.Dir(configs.DefaultRig), "`DIR` of the shipped rig configs (sim.yaml, sim-rp.yaml, sim-loop-only.yaml); default: configs/rigs, else the binary's own")
	if _, ok := parseArgs(fs, args, 0, fidelityUsage); !ok {
		return exitInvalid
	}
	opts := fidelity.Options{RigDir: *rigDir, Version: buildVersion(), Cases: cases}
	if _, err := os.Stat(*rigDir); errors.Is(err, os.ErrNotExist) && !explicitFlag(fs, "rig-dir") {
		opts.RigDir, opts.FS = "rigs", configs.FS
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	res, err := fidelity.Run(ctx, opts)
	if err != nil {
		fmt.Fprintf(stderr, "mockloop fidelity: %s\n", termtext.EscapeLines(err.Error()))
		switch {
		case errors.Is(err, fidelity.ErrInvalid):
			return exitInvalid
		case errors.Is(err, context.Canceled):
			return exitAborted
		}
		return exitInfra
	}
	r := &fidelity.Report{Results: res, Version: opts.Version, Date: time.Now().UTC()}
	if err := r.WriteTable(stdout); err != nil {
		return exitInfra
	}
	if err := r.WriteFiles(*out); err != nil {
		fmt.Fprintf(stderr, "mockloop fidelity: %v\n", err)
		return exitInfra
	}
	fmt.Fprintf(stdout, "%d cases, %d failed, in %.0f s; report in %s\n", len(res), r.Failed(), time.Since(start).Seconds(), filepath.Join(*out, "fidelity.{json,html,pdf}"))
	if !r.Pass() {
		return exitFail
	}
	return exitPass
}
