// Package configs holds the rig configurations, the device profiles
// (duts/*.yaml) and the example protocols that
// ship with mockloop, embedded in the binary so that `mockloop run` works on
// the simulated rig from any directory, on a machine with nothing else.
//
// # Imports
//
// None of the project (only embed): configs is data. cmd/mockloop reads it;
// rig parses the rig configs, protocols the protocols, dut/profile the
// device profiles.
package configs
