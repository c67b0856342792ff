package rig

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/runlog"
)

// ErrNoReason is the error of a run started with a deviation (overdue
// calibrations allowed, a resume after an interruption) and no reason for
// it: the audit trail must say why (21 CFR 11.10(e); issue 17).
var ErrNoReason = errors.New("rig: a reason is needed (--reason WHY): an overdue calibration allowed, or a resume, departs from the protocol as written")

// needReason refuses a run started with a deviation and no reason: a
// resume, or a calibration past its due date in use. --allow-overdue
// alone, with every calibration in date, departs from nothing.
func needReason(opts Options, cals []runlog.Calibration) error {
	if strings.TrimSpace(opts.Reason) != "" {
		return nil
	}
	if opts.Resume != "" {
		return fmt.Errorf("%w (resuming %s)", ErrNoReason, opts.Resume)
	}
	for _, c := range cals {
		if c.Fields["overdue"] == true {
			return fmt.Errorf("%w (calibration of %s overdue since %s)", ErrNoReason, c.Channel, c.Due)
		}
	}
	return nil
}

// startActions are the audit trail's entries of a run's start: who
// started it, then each deviation it was started with, with its reason.
// A resumed run's start is the resume: its first start is in the record.
func startActions(opts Options, cals []runlog.Calibration, resumed bool, otherDevice string) []runlog.Event {
	who := runlog.OperatorData{At: time.Now().UTC(), By: opts.Operator, Role: opts.OperatorRole, Via: opts.Via}
	var out []runlog.Event
	add := func(action, msg string, deviation bool) {
		d := who
		d.Action, d.Deviation = action, deviation
		if deviation {
			d.Reason = opts.Reason
		}
		out = append(out, runlog.NewEvent(runlog.KindOperator, "", msg, d))
	}
	if resumed {
		add(runlog.ActionResumeInterrupted, "interrupted run resumed after its last completed step", true)
	} else {
		add(runlog.ActionStart, "run started", false)
	}
	for _, c := range cals {
		if c.Fields["overdue"] == true {
			add(runlog.ActionAllowOverdue, fmt.Sprintf("calibration of %s overdue since %s; run allowed with --allow-overdue", c.Channel, c.Due), true)
		}
	}
	if otherDevice != "" {
		d := who
		d.Action, d.Deviation, d.Reason = runlog.ActionOtherDevice, true, opts.AllowOtherDevice
		out = append(out, runlog.NewEvent(runlog.KindOperator, "", otherDevice+"; run allowed with --allow-other-device", d))
	}
	return out
}

// ErrOtherDevice is the error of a run of a protocol written for another
// DUT (its requires dut) without the operator's reason to allow it.
var ErrOtherDevice = errors.New("rig: a protocol written for another DUT needs --allow-other-device REASON")

// checkDevice refuses a protocol the parser let through for another DUT
// (protocols.RigInfo.OtherDevice) when opts give no reason to record.
func checkDevice(proto *protocols.Protocol, opts Options) error {
	if proto.OtherDevice != "" && strings.TrimSpace(opts.AllowOtherDevice) == "" {
		return fmt.Errorf("%w: %s", ErrOtherDevice, proto.OtherDevice)
	}
	return nil
}

// OperatorAbort is the abort of a run by a person (who.Action a stop or
// an e-stop), the cause to cancel its context with: the run records who
// in its audit trail, as a deviation, as it ends.
func OperatorAbort(reason string, who runlog.OperatorData) *AbortError {
	if who.At.IsZero() {
		who.At = time.Now().UTC()
	}
	who.Deviation = true
	return &AbortError{Reason: reason, By: &who}
}

// PromptAnswer is the audit-trail event of an operator's answer to a
// protocol prompt in step (the prompts arrive with issue 19; this is
// where their answers enter the record): who answered, how, and what —
// the prompt in the message, the answer as New. An
// answer is not a deviation: the protocol asked for it.
func PromptAnswer(step, prompt, answer string, who runlog.OperatorData) runlog.Event {
	if who.At.IsZero() {
		who.At = time.Now().UTC()
	}
	who.Action, who.New, who.Deviation = runlog.ActionPromptAnswer, answer, false
	return runlog.NewEvent(runlog.KindOperator, step, "prompt: "+prompt, who)
}
