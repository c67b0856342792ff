// Package clock is the one source of time for a run.
//
// Every wait, deadline and timestamp in mockloop goes through a Clock owned by
// the run engine, so that the same code runs against the wall on a bench and
// against virtual time in simulation, where a 24 h protocol dry-runs in
// minutes. Code below the engine never calls time.Now or time.Sleep for
// anything that belongs to the experiment.
//
// Times are durations since the clock's epoch (the start of the run): they are
// monotonic, cannot jump with NTP, and serialise as plain integers. Epoch gives
// the wall time the run started, for records and InfluxDB timestamps.
//
// # Imports
//
// None of the project: clock is the floor of the package map. Everything
// that waits or stamps time for a run imports it (daq/ads131m08, dut, sim,
// runlog, rig, cmd/mockloop).
package clock
