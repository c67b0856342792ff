// Package flock takes exclusive flock(2) locks on files without waiting:
// the lock of a run record (runlog) and of a bench (bench). A flock belongs
// to the open file, so it excludes other open files of the same process as
// well as other processes, and it dies with its process — a crash never
// leaves a bench or a record locked.
//
// # Imports
//
// Nothing of the project: it is a leaf, under runlog and bench.
package flock
