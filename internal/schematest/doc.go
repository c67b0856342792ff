// Package schematest compiles the published JSON Schemas of the run
// record (docs/schemas/) for the tests that hold the Go types and real
// records to them, with the validator a CI job would use: draft 2020-12,
// formats asserted.
//
// # Imports
//
// None of the project. It is for tests: only _test.go files import it.
package schematest
