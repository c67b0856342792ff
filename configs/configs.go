package configs

import "embed"

// FS holds rigs/*.yaml, their calibration files rigs/*.json, protocols/*.yaml,
// and the profiles of the devices under test, duts/*.yaml.
//
//go:embed rigs/*.yaml rigs/*.json protocols/*.yaml duts/*.yaml
var FS embed.FS

// DefaultRig is the rig used when none is given: the simulated loop.
const DefaultRig = "configs/rigs/sim.yaml"
