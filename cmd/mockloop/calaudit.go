package main

import (
	"fmt"
	"io"
	"time"

	"github.com/mockloop/mockloop/rig"
	"github.com/mockloop/mockloop/runlog"
)

// calibrationsInForce are the rig's calibration records in force before
// a zero or a calibration replaces them: the old of the audit trail.
func calibrationsInForce(cfg *rig.Config) map[string]rig.CalRecord {
	cals, err := cfg.LoadCalibrations()
	if err != nil {
		return nil
	}
	return cals.InForce()
}

// logCalibrations appends a line to the bench audit log for each record a
// zero or calibration saved: who, when, the channel and its coefficients
// old → new (rig/calibration.go keeps the operator in the record too).
// The records are saved already: a log that cannot be written is said,
// not a reason to undo them.
func logCalibrations(action string, old map[string]rig.CalRecord, recs []rig.CalRecord, stderr io.Writer) {
	path := inHome(benchLogName)
	if path == "" {
		fmt.Fprintln(stderr, "mockloop: bench audit log: no home directory (set MOCKLOOP_HOME); the calibration is saved but not logged")
		return
	}
	for _, r := range recs {
		e := runlog.BenchLogEntry{Subject: r.Channel, OperatorData: runlog.OperatorData{Action: action, At: time.Now().UTC(),
			By: r.Operator, Via: "cli", New: fmt.Sprint(r.Coeffs)}}
		if o, ok := old[r.Channel]; ok {
			e.Old = fmt.Sprint(o.Coeffs)
		}
		if err := runlog.AppendBenchLog(path, e); err != nil {
			fmt.Fprintf(stderr, "mockloop: bench audit log: %v\n", err)
			return
		}
	}
}
