// Package durable replaces files so that a crash or a concurrent reader
// sees the old content or the new, never a mix, and the change survives a
// power loss once the call returns: what the run record (package runlog)
// and the InfluxDB spool (package influx) write their metadata and batches
// with.
//
// # Imports
//
// Nothing of the project: it is a leaf, under runlog and influx.
package durable
