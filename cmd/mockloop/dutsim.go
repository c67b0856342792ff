package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/dut/dutsim"
	"github.com/mockloop/mockloop/internal/termtext"
	"github.com/mockloop/mockloop/rig"
)

// cmdDUTSim serves the simulated DUT firmware on a pseudo-terminal until
// interrupted, printing its path: a stand-in for the pump controller when a
// rig's host side is tested without a pump.
func cmdDUTSim(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("dut-sim", stderr)
	faults := fs.String("fault", "", "faults to inject, e.g. drop=0.2,delay=150ms,corrupt=0.1,garbage=0.05,silent,unplug=10s/2s")
	link := fs.String("link", "", "also make this path a symlink to the pty (as /dev/serial/by-id/ names are)")
	telemetry := fs.Duration("tick", 10*time.Millisecond, "how often the firmware runs on its own (ramps, watchdog, TLM)")
	prof := fs.String("profile", "impella-2.5", "the device it is: a DUT `PROFILE` (a shipped profile's name or a file)")
	if _, ok := parseArgs(fs, args, 0, "usage: mockloop dut-sim [--profile PROFILE] [--fault SPEC] [--link PATH]"); !ok {
		return exitInvalid
	}
	f, err := dutsim.ParseFaults(*faults)
	if err != nil {
		fmt.Fprintf(stderr, "mockloop: --fault: %v\n", err)
		return exitInvalid
	}
	cfg, err := rig.SimDUTConfig(*prof)
	if err != nil {
		fmt.Fprintln(stderr, termtext.EscapeLines(err.Error()))
		return exitInvalid
	}
	cfg.Clock, cfg.AdvanceEvery, cfg.Symlink, cfg.Faults = clock.NewReal(), *telemetry, *link, f
	srv, err := dutsim.Serve(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "mockloop: %v\n", err)
		return exitInfra
	}
	fmt.Fprintln(stdout, srv.Name())
	if *faults != "" {
		fmt.Fprintf(stderr, "faults: %s\n", f)
	}
	<-ctx.Done()
	if err := srv.Close(); err != nil {
		fmt.Fprintf(stderr, "mockloop: %v\n", err)
		return exitInfra
	}
	return exitPass
}
