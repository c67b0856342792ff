// Package profile is a device under test's profile: what one model of the
// device family (Impella 2.5, CP, 5.0, 5.5, RP, the Hemopump) is, as the
// rig simulates and checks it. A profile holds the model's name as HELLO
// reports it, its placement (the nodes of the circulation its inlet and
// outlet sit in), its level table P0–P9 and maximum speed, the constants
// of its HQ curve, motor current and purge, and its alarms, each with its
// source in the file (configs/duts/*.yaml).
//
// One profile is read by both ends of the simulation: rig builds the
// simulated pump's physics (sim.PumpParams) and the simulated firmware's
// configuration (dutsim.Config) from it, so the level a host commands and
// the flow the loop sees come from the same file. A rig config names its
// profile (dut.profile), and `mockloop run --dut` chooses another.
//
// Profiles are read like rig configs: strictyaml, every mistake at its
// file:line:col, bounded reads. A bare name (impella-cp) is a profile
// shipped in the binary (configs.FS, duts/NAME.yaml); anything else is a
// file path.
//
// # Imports
//
// Of the project, configs (the shipped profiles), dut (alarm names),
// internal/strictyaml and units. It knows neither sim nor dutsim: rig
// converts a profile into their constants.
package profile
