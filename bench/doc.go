// Package bench is the bench's lock and its control socket: one bench, one
// controller (DESIGN.md, decision 8).
//
// A bench is named by its resources: on hardware the buses and GPIO lines
// its rig config names (normalised by rig, so that two configs naming the
// same hardware collide), on the simulated rig its name. Acquire takes an
// exclusive flock(2) on one file per resource in a system-wide directory
// (Dir), so two controllers of one bench exclude each other whatever runs
// folder or config file they were started with; the lock dies with its
// process. Beside the first resource's lock, the holder writes who it is
// (pid, command, run id), for the message of a refused start, and answers
// a unix socket (owner-only) with its status and to pause, resume, stop
// and e-stop: `mockloop stop` and the bench view reach any run on the
// bench through it (Ask).
//
// The control protocol is one JSON request per connection,
// {"action":"status"|"pause"|"resume"|"stop"|"estop"|"release"|"answer"}
// and a newline, and one JSON answer, {"status":{...}} or {"error":"..."}.
// "release" asks a holder that only watches the bench (the bench view
// sampling it idle) to let it go; a run ignores it. "answer" (with
// "prompt" and "answer") answers the prompt a terminal's run waits on,
// which its status shows as "prompt". Both sides bound
// what they read and set deadlines: a client that does not speak holds the
// holder for ConnTimeout at most.
//
// # Imports
//
// Of the project, bench imports internal/flock only: rig takes the lock
// for runs and calibrations, serve and cmd/mockloop ask the holder.
package bench
