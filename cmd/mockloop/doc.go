// Command mockloop is the controller of a hardware-in-the-loop mock
// circulatory loop: it runs test protocols on a rig (or on the simulated
// rig), records every run, and judges the protocol's acceptance criteria.
//
// Exit codes are a contract with scripts and CI: 0 pass, 1 a criterion
// failed, 2 aborted (safety trip, fault, operator), 3 invalid input
// (protocol, config, flags), 4 infrastructure error.
//
// # Imports
//
// mockloop is the top of the package map and wires the rest: it may
// import clock, configs, daq, dut/dutsim, influx, internal/termtext,
// protocols, reports, rig, runlog, serve and units. Nothing imports it.
package main
