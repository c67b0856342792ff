package runlog

// EventDataJSON is the compact JSON of an event's Data as a sink outside
// the record stores it (package influx): <, > and & as themselves, and every
// non-finite number, which JSON cannot hold, as null — where the record
// itself keeps the event as Record.Event wrote it.
func EventDataJSON(e Event) ([]byte, error) { return marshalCompact(finiteData(e.Data)) }
