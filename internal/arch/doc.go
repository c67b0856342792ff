// Package arch holds no code: its test is the house rules of mockloop's
// package map, checked on every `go test ./...`.
//
// The test lists every package of the module with the project packages its
// code may import (the arrows of the map in README.md, "Architecture"),
// parses the imports of every non-test Go file, whatever its build tags,
// and fails naming each import the table does not allow. A package that is
// not in the table fails too, with a message to add it: a new package
// takes its place in the map on purpose, not by accident. The test also
// checks that every package has a doc.go carrying its package comment, and
// that README.md's architecture section names it.
//
// Tests are not held to the table: a package's tests may use the packages
// above it to build fixtures (reports' tests run rig), as long as the
// compiler sees no cycle. The test-only helpers (internal/golden,
// internal/influxtest, internal/testtool) appear in no package's list, so
// no product code can import them.
//
// # Imports
//
// Nothing of the project: the test reads the module's files, it imports
// none of its packages.
package arch
