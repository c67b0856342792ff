package runlog

// AuditEntry is one entry of a run's audit trail: an operator event with
// its data decoded.
type AuditEntry struct {
	T   float64 // the run clock's time of the event, as Event.T
	Msg string
	OperatorData
}

// AuditTrail is the audit trail of a run's events: its operator events in
// their order, each with its OperatorData (empty fields for those of
// records made before the audit trail). An event whose data does not
// decode is kept with what did, so that nothing of the trail is hidden.
func AuditTrail(events []Event) []AuditEntry {
	var out []AuditEntry
	for _, e := range events {
		if e.Kind != KindOperator {
			continue
		}
		a := AuditEntry{T: e.T, Msg: e.Msg}
		_ = e.Decode(&a.OperatorData)
		out = append(out, a)
	}
	return out
}

// Deviations are the entries of an audit trail that depart from the
// protocol as written.
func Deviations(trail []AuditEntry) []AuditEntry {
	var out []AuditEntry
	for _, a := range trail {
		if a.Deviation {
			out = append(out, a)
		}
	}
	return out
}
