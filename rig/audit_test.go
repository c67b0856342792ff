package rig

import (
	"testing"

	"github.com/mockloop/mockloop/runlog"
)

// TestPromptAnswerIsAnAuditEntry: a prompt's answer enters the audit
// trail with who answered, how, the prompt and the answer, at a time.
func TestPromptAnswerIsAnAuditEntry(t *testing.T) {
	ev := PromptAnswer("3", "Is the cannula de-aired?", "yes", runlog.OperatorData{By: "alice", Role: "operator", Via: "bench-view", Deviation: true})
	trail := runlog.AuditTrail([]runlog.Event{ev})
	if len(trail) != 1 {
		t.Fatalf("trail %+v", trail)
	}
	a := trail[0]
	if a.Action != runlog.ActionPromptAnswer || a.By != "alice" || a.Via != "bench-view" || a.New != "yes" || a.Deviation ||
		a.Msg != "prompt: Is the cannula de-aired?" || ev.Step != "3" || a.At.IsZero() {
		t.Errorf("prompt answer entry: %+v (step %q)", a, ev.Step)
	}
}
