// Package rig is the bench as a run sees it, and the engine that runs a
// protocol on it.
//
// A rig config (configs/rigs/*.yaml, LoadConfig) says what the bench is
// built of and on which buses, which channels it measures and how they are
// calibrated, what protocols may set and within which range, its hard
// limits, presets and safe state; Info tells the protocol language about
// it. From a config the rig builds its Plant: the parts on periph buses,
// driven by the same drivers (daq/ads131m08, daq/ads1115, pumpctl/mcp4725,
// periph's pca9685) on the Raspberry Pi's buses or, with backend "sim", on
// the chips sim emulates on top of its model of the loop, with the device
// under test on its VADLINK link (dut; dut/dutsim in simulation).
//
// Run executes a parsed protocol on the plant, on one clock: virtual time
// for a simulated rig (as fast as the CPU allows, and deterministic), the
// wall clock for hardware. It samples, supervises the hard limits and the
// emergency stop on every frame, applies setpoints and ramps, runs the
// closed-loop targets, judges the criteria, and writes everything to the
// run record (runlog); whatever happens, the plant ends in its safe state
// and the record is closed. Observer and Pause let the bench view watch
// and hold a run. OpenCalibration opens the rig for zeroing and
// calibration, and Timing qualifies the computer it runs on.
//
// # Files by job
//
// config.go, hardware.go, dutconfig.go, gains.go, calibration.go: the rig
// config, decoded section by section (configSections) with positions, and
// the calibration records. actuation.go: how each protocol parameter of
// protocols.ParamTable is applied. plant.go, buses.go, dut.go: the plant on
// its buses and the DUT link (its poller beside the sampling loop on the
// wall clock). engine.go: the sequencer and the supervisor on the narrow
// Plant interface; every frame goes through one ordered list of stages
// (frameStages), and everything the run produces through its outlets
// (outlets.go: record, InfluxDB sink, observer, in that order; frames.go:
// a dry run's --frames every:N, 1 frame in N kept by the record and the
// sink, every frame seen by everything else). run.go:
// one run assembled (bench lock, clock chosen once, calibrations, plant, record,
// engine, safe state, result). resume.go, progress.go, observe.go,
// bench.go: the bench a config names, its lock and the run's control
// socket. control.go, calibrate.go, timing.go: resuming, the progress line, the
// bench view's hooks, closed-loop targets, calibration, `mockloop timing`.
// idle.go: the rig sampled at its safe state with no run (the bench view's
// live signals while idle), holding the bench until a run, zero or
// calibration asks it to release (lockBench asks).
//
// rig is over 3,000 lines because the engine and the plant share one
// run's state through unexported types (the plant's events, the DUT
// link's poller, resume's replay of the record into the engine). A package
// of its own for the engine would have to export those types for rig's
// sake alone, a wider API with one user. The seam is kept narrow instead:
// the engine reaches the plant only through the Plant interface and reads
// of the config only the limits, the debounce, the presets and the
// initial one, and the beat channels, so the cut stays a move of files
// when the plant becomes the network of DESIGN.md decision 9.
//
// # Imports
//
// Of the project: bench (the bench's lock and control socket, taken for
// every run and calibration), clock, daq and its drivers daq/ads1115 and
// daq/ads131m08, dut, dut/dutsim and dut/profile (the DUT's profile, from
// which rig builds the simulated pump and firmware), influx, internal/strictyaml,
// internal/termtext (the progress line), protocols, pumpctl and its driver pumpctl/mcp4725, runlog, sim,
// units and verdict (judging a criterion, shared with the reports). rig is the one package that knows both the hardware and the
// record. It must not import reports, serve or live: they are made from
// the record or fed through Observer.
package rig
