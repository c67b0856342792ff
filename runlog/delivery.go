package runlog

import "fmt"

// SetInfluxDelivery records d as the influx field of the result.json of the
// closed run in dir, replacing the file atomically: how `mockloop sync`
// updates a run whose data reached InfluxDB after the run was closed. The
// caller must own the run (hold its lock, or know no other process writes
// it).
func SetInfluxDelivery(dir string, d InfluxDelivery) error {
	var res Result
	if err := readJSON(dir, resultFile, &res); err != nil {
		return fmt.Errorf("runlog: set influx delivery: %w", err)
	}
	res.Influx = &d
	if err := writeJSONAtomic(dir, resultFile, res); err != nil {
		return fmt.Errorf("runlog: set influx delivery: %w", err)
	}
	// Sealed again, over the new result: the delivery is bookkeeping, not
	// evidence, and a run must not fail verification for reaching InfluxDB.
	by := SealedBySync
	if s, err := ReadSeal(dir); err == nil {
		by = s.SealedBy
	}
	if err := writeSeal(dir, res.RunID, by); err != nil {
		return fmt.Errorf("runlog: set influx delivery: %w", err)
	}
	return nil
}
