// Package live fans a running rig out to its watchers (the web view): a
// decimated stream of frames, and the run's beats, steps, criteria and
// events, as they happen.
//
// The sampler must never wait for a watcher. The run's goroutine only
// copies every Nth frame into a preallocated batch and, every BatchSpan of
// run time, hands the batch over without blocking; one goroutine of the
// hub encodes it once and offers it to each subscriber's bounded buffer. A
// subscriber whose buffer is full loses the message and is told how many it
// lost; it never slows anyone else. That is the whole contract: live data
// is for eyes, the run record is the truth.
//
// # Imports
//
// None of the project: live carries frames as plain slices and messages as
// JSON, so that neither the rig nor the record depends on who watches. serve
// feeds it from rig's Observer; rig does not import it.
package live
