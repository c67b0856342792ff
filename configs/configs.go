package configs

import "embed"

// FS holds rigs/*.yaml, their calibration files rigs/*.json, and protocols/*.yaml.
//
//go:embed rigs/*.yaml rigs/*.json protocols/*.yaml
var FS embed.FS

// DefaultRig is the rig used when none is given: the simulated loop.
const DefaultRig = "configs/rigs/sim.yaml"
