// Package sim is the physics of the mock loop and, on top of it, the chip
// emulators through which the same drivers that run on the bench run in
// simulation.
//
// The physics is the lumped-parameter model of the left heart and systemic
// circulation of Simaan et al., "A Dynamical State Space Representation and
// Performance Analysis of a Feedback-Controlled Rotary Left Ventricular Assist
// Device", IEEE Trans. Control Syst. Technol. 17(1):15–28, 2009: a ventricle
// with time-varying elastance, ideal-diode mitral and aortic valves, left
// atrial, aortic and systemic compliances, the aortic inertance and the
// systemic resistance. The ventricle's active elastance is an input, set the
// way the bench's DAC would drive the LV pump (see pumpctl.CardiacWaveform).
// Optionally (Parameters.Pump) a rotary pump takes blood from the LV into
// the aorta, as an Impella does: one more state, its flow, driven by a
// pressure head rising with the square of its speed (another input), against
// its cannula's resistance, inertance and quadratic loss and Simaan's
// suction resistance. Impella25 is fitted to the Impella 2.5's P-level table
// with the heart-failure preset (HeartFailure).
//
// The circulation may instead be a network declared by a NetworkSpec
// (DESIGN.md decision 9; a rig config's circulation section): chambers
// with a time-varying elastance and a linear or exponential passive law,
// compliances with unstressed volumes, resistances, inertances, valves, a
// pump and flow sources set from outside (Network.SetSourceFlow) between
// any two named nodes. NewNetworkLoop makes such a Network
// the Loop the bench drives; SimaanNetwork is the model above as one.
// Its solver is the same scheme, TR-BDF2 in 1 ms steps cut at valve
// events, with each implicit stage solved by Newton's method on the full
// Jacobian (netsolver.go): general where the Simaan solver is specialised.
// Per 1 ms sample (BenchmarkFrame, BenchmarkPatientFrame in rig, on a
// loaded 2-core machine): Simaan's Loop ≈ 0.25 µs, the same heart as a
// network ≈ 1.3 µs, sim.yaml's biventricular patient with its pump ≈ 8 µs
// (under 1 % of a core at 1 kHz); none allocates.
//
// The bench (Bench) around the model has a fill pump and, optionally
// (BenchConfig.Preload), a venous reservoir whose head a valve on the
// PCA9685 sets: its line fills or drains the left atrium toward that head,
// which is how a rig holds the preload. Both move volume between the loop
// and the bench's reservoir; neither acts while off. A network with a right
// heart may have its actuators too: a second MCP4725 setting the rv
// chamber's drive (BenchConfig.RVDrive) and a pinch valve on another
// PCA9685 channel setting the pulmonary resistance
// (BenchConfig.PulmonaryValve), so that a right-heart bench's drivers run
// on the simulated one.
//
// A hybrid loop's bench (BenchConfig.Hydraulics, issue 21) has no patient:
// the controller computes it and makes the bench follow. Its physics is
// only what the device touches: an inlet and an outlet chamber around the
// DUT, each filled or drained from the reservoir by a bipolar gear pump
// (a source link lagging its command) on one of the two MCP4725s, stopped
// at mid-scale. Gear pumps, not a drain valve, because a valve only takes
// fluid out: an outlet chamber could not be held at aortic pressure with
// the device stopped or flowing backward. The chambers are named after
// the model nodes they stand for (lv and aorta, or ra and pa), so the
// bench's existing signals (lvp, aop, rap, pap) measure them. The source
// link is also what the controller's patient model takes for its device
// branch: the flow measured through the real device.
//
// Units inside the model are ml, mmHg, ml/s and s; readouts use the project's
// canonical units (mmHg, L/min, ml).
//
// Time is not the package's own: a Loop only moves when it is told to reach a
// time (Loop.AdvanceTo), which the chip emulators do on every bus access with
// the run clock's now. Between two such calls the inputs are held constant,
// exactly like the outputs of a DAC.
//
// The model is stiff (the aortic valve and aortic compliance have a time
// constant of ≈ 80 µs, the rig samples every 1 ms), so it is integrated with
// TR-BDF2, a second-order L-stable implicit scheme, in steps of one sample.
// The valves make the system piecewise linear: each implicit stage is
// solved exactly for the valve states consistent with its own result, and a
// step in which a valve switches is cut where it switched. The per-sample
// elastance is applied by a rank-one update, so nothing is refactorised as
// the heart beats; the pump's nonlinear losses are linearised per stage and
// applied by a second rank-one update, its head as a source. Advancing by
// one 1 ms sample costs under 200 ns, with the pump or without, and
// allocates nothing.
//
// sim is over 3,000 lines because it is two halves of one bench that meet
// in Bench: the loop's physics (loop.go, solver.go, pump.go, thermal.go,
// transducer.go, hydraulics.go) and the chips that expose it on the buses (ads131m08.go,
// ads1115.go, mcp4725.go, pca9685.go, pin.go, i2c.go). The chips read and
// drive the physics under one lock at the conversion's instant; split
// into two packages, that lock and the model's time would have to be
// exported for the chips alone. The biventricular patient network (issue
// 15) is the moment to move the physics into a package of its own.
//
// # Imports
//
// Of the project, clock and internal/crc16 only. It emulates chips at the
// bus level (periph's i2c.Bus, spi.Port, gpio.PinIO), so it must not import
// the drivers that run on it, daq, pumpctl or rig; rig wires it to them.
package sim
