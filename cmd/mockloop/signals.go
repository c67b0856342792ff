package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/mockloop/mockloop/rig"
	"github.com/mockloop/mockloop/runlog"
)

// endSignals end a run or the bench view the orderly way — safe state,
// record closed with the signal as its reason, exit 2: Ctrl-C, kill, an
// SSH session dropping (SIGHUP) and Ctrl-\ (SIGQUIT, whose default would
// dump goroutines and leave the pump running).
var endSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}

// onEndSignal calls end with the reason of the first of endSignals the
// process receives, until stop is called. SIGPIPE is caught and ignored
// for as long: a reader of our output that goes away (`mockloop run … |
// head -1`) must not end a run; writes to it fail instead, and
// lossyWriter drops them.
func onEndSignal(end func(reason string)) (stop func()) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, endSignals...)
	pipe := make(chan os.Signal, 1)
	signal.Notify(pipe, syscall.SIGPIPE)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				end("operator: received " + s.String())
			case <-pipe:
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(sigs)
		signal.Stop(pipe)
		close(done)
	}
}

// cancelOnEndSignal cancels ctx as an operator's abort on an end signal:
// a stop of the run's operator, via the signal, in its audit trail.
func cancelOnEndSignal(cancel context.CancelCauseFunc, operator string) (stop func()) {
	return onEndSignal(func(reason string) {
		cancel(rig.OperatorAbort(reason, runlog.OperatorData{Action: runlog.ActionStop, By: operator, Via: "signal", Reason: reason}))
	})
}

// lossyWriter writes to f until a write fails (a closed pipe, a terminal
// gone with its SSH session), then drops everything: what the command
// prints is never worth ending a run for.
type lossyWriter struct {
	f      *os.File
	failed atomic.Bool
}

var _ io.Writer = (*lossyWriter)(nil)

func (w *lossyWriter) Write(p []byte) (int, error) {
	if !w.failed.Load() {
		if _, err := w.f.Write(p); err != nil {
			w.failed.Store(true)
		}
	}
	return len(p), nil
}
