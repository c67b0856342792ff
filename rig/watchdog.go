package rig

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Watchdog is the `hardware.watchdog` section: the Pi's bcm2835 watchdog
// (DESIGN.md, decision 8). Armed for a run and fed by the sampling loop,
// it resets the Pi when the loop stops — a hung controller, a killed one,
// a kernel that froze — and the bench's wiring (README, "One bench, one
// controller") keeps every actuator safe through the reset.
type Watchdog struct {
	// Device is the watchdog's device file, e.g. /dev/watchdog.
	Device string
	// Timeout is how long the watchdog waits for the next keep-alive
	// before it resets the computer (the bcm2835's is at most 15 s).
	Timeout time.Duration
}

// keepAlive is what feeds the watchdog: any byte but the magic 'V'.
var keepAlive = []byte("k")

// watchdog is the open watchdog of a run.
type watchdog struct {
	f     *os.File
	every time.Duration // between keep-alives: a quarter of the timeout
	next  time.Duration // frame time of the next keep-alive
}

// armWatchdog opens the watchdog (which arms it) and sets its timeout. The
// timeout is set only on a device: a regular file or FIFO stands in for
// one in tests. A FIFO is opened without waiting for its reader.
func armWatchdog(w *Watchdog) (*watchdog, error) {
	if w == nil {
		return nil, nil
	}
	fi, err := os.Stat(w.Device)
	if err != nil {
		return nil, fmt.Errorf("rig: watchdog: %w", err)
	}
	flags := os.O_WRONLY | os.O_APPEND
	if fi.Mode()&os.ModeNamedPipe != 0 {
		flags |= syscall.O_NONBLOCK
	}
	f, err := os.OpenFile(w.Device, flags, 0)
	if err != nil {
		return nil, fmt.Errorf("rig: watchdog: %w", err)
	}
	if fi.Mode()&os.ModeDevice != 0 {
		if err := unix.IoctlSetPointerInt(int(f.Fd()), unix.WDIOC_SETTIMEOUT, int(w.Timeout/time.Second)); err != nil {
			// Still armed, at its default timeout: disarm and refuse
			// rather than run with a timeout nobody chose.
			_, _ = f.Write([]byte("V"))
			f.Close()
			return nil, fmt.Errorf("rig: watchdog: setting its timeout to %s: %w", w.Timeout, err)
		}
	}
	return &watchdog{f: f, every: w.Timeout / 4}, nil
}

// feed keeps the watchdog from resetting the computer, at most every
// quarter timeout of frame time t: called by the sampling loop, it stops
// when the loop stops.
func (d *watchdog) feed(t time.Duration) {
	if d == nil || t < d.next {
		return
	}
	d.next = t + d.every
	_, _ = d.f.Write(keepAlive)
}

// disarm stops the watchdog with the magic close: the run ended under
// control, with the bench safe. A run that crashes never gets here; the
// kernel closes the device without the 'V' and the watchdog resets the
// computer.
// A failure is said on warn (nil: nowhere): the computer may reset.
func (d *watchdog) disarm(warn io.Writer) {
	if d == nil {
		return
	}
	_, werr := d.f.Write([]byte("V"))
	if err := errors.Join(werr, d.f.Close()); err != nil && warn != nil {
		fmt.Fprintf(warn, "mockloop: watchdog: disarming: %v; the computer may reset\n", err)
	}
}

// abandon closes the watchdog without disarming it: the bench could not be
// made safe, so the reset is left to come and the wiring to take over.
func (d *watchdog) abandon() {
	if d != nil {
		_ = d.f.Close()
	}
}
