package bench

import (
	"bytes"
	"testing"
)

// FuzzControlMessages: nothing a client or a holder sends makes the other
// side panic, and only the five actions pass.
func FuzzControlMessages(f *testing.F) {
	f.Add([]byte(`{"action":"status"}` + "\n"))
	f.Add([]byte(`{"status":{"pid":1,"state":"running"}}`))
	f.Add([]byte(`{"error":"x"}`))
	f.Add([]byte(`{"action":"estop","x":1}`))
	f.Add([]byte(`{"action":"stop","by":"mockloop stop\u001b[2J"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if req, err := readRequest(bytes.NewReader(data)); err == nil {
			if len(req.By) > 4*maxBy {
				t.Fatalf("by of %d bytes passed", len(req.By))
			}
			switch act := req.Action; act {
			case ActionStatus, ActionPause, ActionResume, ActionStop, ActionEStop:
			default:
				t.Fatalf("action %q passed", act)
			}
		}
		_, _ = parseAnswer(data)
	})
}
