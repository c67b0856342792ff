// Package fidelity is the simulator's credibility report (issue 16,
// `mockloop fidelity`): the reference cases — a published figure or range,
// its source, the tolerance and why — run through the real simulated rig
// (the emulated ADCs, the driver, the calibration, the DUT over its pty),
// so that the simulated value is what a lab would measure on the bench,
// and the verdicts with the context of use and what the model leaves out,
// as JSON, self-contained HTML and PDF.
//
// The cases are data (Cases): one home for the published figures the
// simulated patient is held to. Each case names the experiment it is
// measured in: a generated protocol on a shipped rig config, whose
// criteria carry the measures (every criterion passes; the value is the
// point), or, for the ESPVR, Simaan's loop in package sim directly, the
// one figure the rig's channels cannot give (no LV volume channel).
//
// # Imports
//
// Of the project, fidelity imports rig (the runs), protocols (their
// protocols), runlog (their results), sim and pumpctl (the ESPVR on
// Simaan's loop) and reports (the PDF's machinery). cmd/mockloop
// imports it.
package fidelity
