// Package configs holds the rig configurations and example protocols that
// ship with mockloop, embedded in the binary so that `mockloop run` works on
// the simulated rig from any directory, on a machine with nothing else.
package configs

import "embed"

// FS holds rigs/*.yaml, their calibration files rigs/*.json, and protocols/*.yaml.
//
//go:embed rigs/*.yaml rigs/*.json protocols/*.yaml
var FS embed.FS

// DefaultRig is the rig used when none is given: the simulated loop.
const DefaultRig = "configs/rigs/sim.yaml"
