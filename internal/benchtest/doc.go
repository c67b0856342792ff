// Package benchtest gives a test binary a bench lock directory of its own
// (tests only): `go test` runs packages in parallel processes, all on the
// simulated rig "sim", whose bench lock would otherwise make them refuse
// each other's runs.
//
// # Imports
//
// Nothing of the project.
package benchtest

import (
	"os"
	"testing"
)

// Run runs the tests of m with MOCKLOOP_LOCK_DIR (see package bench) set
// to a new temporary directory, inherited by the processes they start,
// and removes it after; it returns m.Run's exit code.
func Run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "mockloop-locks-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	os.Setenv("MOCKLOOP_LOCK_DIR", dir)
	return m.Run()
}
