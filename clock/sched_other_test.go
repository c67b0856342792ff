//go:build !linux

package clock

func threadPolicy() (string, int) { return "SCHED_OTHER", 0 }
