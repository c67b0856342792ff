// Package verdict is the one home of judging an acceptance criterion: given
// a criterion as the protocol states it and what was measured over its
// window (the frames' statistics, the beats' values, the reference of a
// relative criterion, an invariant's extremes), the runlog.CriterionResult
// with its value, limits and verdict.
//
// The run engine (rig) judges criteria on the fly with it, and Recompute
// judges them again from a closed record alone (manifest.json, the protocol
// copy, the step windows of events.jsonl, the frames and beats.jsonl), so
// that a report certifies what the record's data say rather than what
// result.json, which anyone can edit and re-seal, states. Both use the same
// code, so they cannot drift apart. Recompute also makes each step's
// outcome again (Recomputed.Steps) and lists the criteria a run that ended
// early never judged (Recomputed.Unreached): every acceptance criterion
// set in advance has a row in the report. Of a dry run's record that keeps
// 1 frame in N (runlog.Manifest.FramesKeptEvery), values over frames are
// not recomputed (the engine's were over every frame): Recomputed says so
// (NotRecomputed, KeptEvery), and Compare checks their limits and the
// verdicts those give the values result.json states.
//
// # Imports
//
// Of the project, protocols (the criteria as parsed, and the record's copy
// of the protocol parsed again), runlog (the results and the record's
// readers), daq (the statistics the engine keeps), units and
// internal/strictyaml (the rig config copy's beat channels and preset
// names, which a protocol is checked against) only. It is a package of its
// own, not part of protocols, because it builds on runlog and protocols
// knows no record; it never imports rig or reports: they build on it.
package verdict
