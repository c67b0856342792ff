// Package influx delivers a run to InfluxDB: the Sink, which writes a
// run's points while it goes on without ever stalling the sampling path,
// the spool on disk that holds what the server has not acknowledged, and
// Replay, which completes the delivery after an outage or a crash
// (`mockloop sync`). It also defines the schema of the points (the
// Measurement constants) and exports the inverse of its encoding of times
// and tags (RunSeconds, Unshifter, TagValue) for those who read the points
// back (package reports).
//
// The run record (package runlog) is the truth and InfluxDB a sink
// (DESIGN.md, decision 3): this package reads the record — frames the
// sink's queue had no room for, everything a crash left undelivered — and
// may import runlog; runlog never imports it.
package influx
