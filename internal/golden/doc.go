// Package golden compares test output with golden files under testdata/
// and rewrites them when a test binary runs with -update, the one switch
// for every package's golden files.
//
// # Imports
//
// None of the project. It is for tests: only _test.go files import it,
// never product code.
package golden
