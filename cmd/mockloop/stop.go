package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mockloop/mockloop/bench"
)

// stopWithin bounds how long `mockloop stop` waits for the holder to let
// the bench go (safe state reached, record closed, InfluxDB's share
// bounded by the run's own 30 s).
const stopWithin = 2 * time.Minute

// cmdStop stops whatever holds the rig's bench — a `mockloop run`, a run
// of the bench view, in any terminal or runs folder — through its control
// socket, and waits until the bench is free: the run's safe state is
// reached and its record closed.
func cmdStop(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("stop", stderr)
	rigArg := rigFlag(fs)
	estop := fs.Bool("estop", false, "emergency stop (the safety supervisor's trip) instead of an operator's stop")
	reason := fs.String("reason", "", "why the run is stopped (required but for --estop): a deviation, recorded in the run")
	operator := fs.String("operator", osUser(), "the person stopping, recorded in the run's audit trail")
	if _, ok := parseArgs(fs, args, 0, "usage: mockloop stop [--rig FILE] [--estop] --reason TEXT [--operator NAME]"); !ok {
		return exitInvalid
	}
	if strings.TrimSpace(*reason) == "" && !*estop {
		fmt.Fprintln(stderr, "mockloop: stop: --reason TEXT is needed: stopping a run departs from the protocol, and its record says why")
		return exitInvalid
	}
	cfg := rigArg.load()
	if cfg == nil {
		return exitInvalid
	}
	dir, err := bench.Dir()
	if err != nil {
		fmt.Fprintf(stderr, "mockloop: stop: %v\n", err)
		return exitInfra
	}
	action, first := bench.ActionStop, cfg.BenchResources()[0]
	if *estop {
		action = bench.ActionEStop
	}
	st, err := bench.Ask(dir, first, bench.Request{Action: action, By: *operator, Via: "cli", Reason: strings.TrimSpace(*reason)})
	switch {
	case errors.Is(err, bench.ErrNoHolder):
		fmt.Fprintf(stdout, "mockloop: nothing runs on bench %s\n", cfg.Name)
		return exitPass
	case err != nil:
		fmt.Fprintf(stderr, "mockloop: stop: %v\n", err)
		return exitInfra
	}
	what := fmt.Sprintf("pid %d (%s)", st.PID, st.State)
	if st.RunID != "" {
		what = fmt.Sprintf("run %s of protocol %s, pid %d", st.RunID, st.Protocol, st.PID)
	}
	fmt.Fprintf(stdout, "mockloop: %s requested of %s; waiting for the bench to be safe and free\n", action, what)
	for deadline := time.Now().Add(stopWithin); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if _, err := bench.Ask(dir, first, bench.Request{Action: bench.ActionStatus}); errors.Is(err, bench.ErrNoHolder) {
			fmt.Fprintf(stdout, "mockloop: bench %s is free\n", cfg.Name)
			return exitPass
		}
	}
	fmt.Fprintf(stderr, "mockloop: stop: pid %d still holds bench %s after %s\n", st.PID, cfg.Name, stopWithin)
	return exitInfra
}
