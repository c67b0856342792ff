//go:build !linux

package influxtest

import "syscall"

// procAttr has nothing to add where there is no parent-death signal: a
// server whose test process was killed outright keeps running until killed.
func procAttr() *syscall.SysProcAttr { return nil }
