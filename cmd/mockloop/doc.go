// Command mockloop is the controller of a hardware-in-the-loop mock
// circulatory loop: it runs test protocols on a rig (or on the simulated
// rig), records every run, and judges the protocol's acceptance criteria.
//
// Exit codes are a contract with scripts and CI: 0 pass, 1 a criterion
// failed, 2 aborted (safety trip, fault, operator), 3 invalid input
// (protocol, config, flags), 4 infrastructure error (a bench held by
// another process among them).
//
// `mockloop stop [--rig FILE] [--estop]` stops whatever holds the rig's
// bench, from any terminal, through the bench's control socket (package
// bench) and waits until the bench is free. `run` and `serve` end a run
// the orderly way (safe state, record closed with the signal, exit 2) on
// SIGINT, SIGTERM, SIGHUP and SIGQUIT, ignore SIGPIPE, and drop output
// they cannot write.
//
// # Imports
//
// mockloop is the top of the package map and wires the rest: it may
// import bench, clock, configs, daq, dut/dutsim, fidelity, influx, internal/termtext,
// protocols, remote, reports, rig, runlog, serve, signing and units. Nothing imports it.
package main
