// Package protocols is the mockloop test-protocol language v1 (see
// PROTOCOL.md): a YAML file that says what the rig does, step by step, and
// what must hold for the run to pass.
//
// Parse reads a file into a Protocol and checks it completely: syntax, keys,
// units and expressions, and against what the rig provides (channels,
// parameters and their ranges, hard limits), so that a protocol that parses
// runs without a validation failure halfway through. It reports every
// mistake with file:line:column, never only the first, so that an engineer
// fixes a file in one pass and a CI job's log says everything that is wrong.
// Nothing here knows about hardware: a rig describes itself with a RigInfo.
//
// # Imports
//
// Of the project, internal/strictyaml and units only. It must not import
// rig, runlog or any hardware package: a protocol is checked against a
// RigInfo, which the rig (or a test) fills in.
package protocols
