package runlog

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
)

// DeliveryFile is where `mockloop sync` records a closed run's delivery to
// InfluxDB. It is not sealed: it is the state of the infrastructure, not
// evidence of the run, and it changes after the seal (and the signatures)
// were made. result.json's influx field keeps the delivery as it stood
// when the run closed.
const DeliveryFile = "delivery.json"

// SetInfluxDelivery records d as the delivery of the closed run in dir, in
// delivery.json, replaced atomically: how `mockloop sync` updates a run
// whose data reached InfluxDB after it closed. It writes nothing that the
// seal covers and never reseals: a reseal would invalidate the signatures
// made of the seal, and would seal as intact whatever had been edited
// since the close. The caller must own the run (hold its lock, or know no
// other process writes it).
func SetInfluxDelivery(dir string, d InfluxDelivery) error {
	var res Result
	if err := readJSON(dir, resultFile, &res); err != nil {
		return fmt.Errorf("runlog: set influx delivery: %w", err) // not closed: its sink owns the delivery
	}
	if err := writeJSONAtomic(dir, DeliveryFile, d); err != nil {
		return fmt.Errorf("runlog: set influx delivery: %w", err)
	}
	return nil
}

// Influx returns the run's delivery to InfluxDB as it stands: what sync
// last recorded (delivery.json), else what result.json says as of the
// close; nil if the run had no InfluxDB sink or has no result.
func (r *Run) Influx() *InfluxDelivery {
	var d InfluxDelivery
	err := fs.ErrNotExist // a run not read from a directory (InfluxDB's) has no delivery.json
	if r.Dir != "" {
		err = readJSON(r.Dir, DeliveryFile, &d)
	}
	switch {
	case err == nil:
		return &d
	case !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR): // ENOTDIR: a run whose Dir is no directory (made from InfluxDB)
		return &InfluxDelivery{Error: fmt.Sprintf("%s unreadable: %v", DeliveryFile, err)}
	case r.Result != nil:
		return r.Result.Influx
	}
	return nil
}
