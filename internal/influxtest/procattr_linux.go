package influxtest

import "syscall"

// procAttr makes the kernel kill influxd if the test process dies without
// stopping it (a panicking or killed `go test`), so no server outlives its
// test.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
