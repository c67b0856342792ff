// Package dut is the rig's link to the device under test: a pump controller
// (Impella-class) reached over a serial line.
//
// The DUT interface is what the run engine commands; VADLINK implements it
// for the reference protocol, VADLINK v1 (specified in VADLINK.md: ASCII
// frames "<seq> <VERB> [<arg> ...] *<crc>", one per line, CRC-16/CCITT-FALSE,
// 115200 8N1). Its layers, each usable alone:
//
//   - Port: the serial transport on go.bug.st/serial, by path or by a
//     /dev/serial/by-id/ name, with the library's silent read timeout made
//     an error (ErrTimeout). SyncPort: a transport without time of its
//     own, whose device answers inside Write (dutsim's in-process DUT on
//     virtual time); the driver reads its replies without a reader
//     goroutine.
//   - LineReader: framing into lines of at most MaxFrame bytes, with
//     resynchronisation after an over-long line.
//   - Frame, AppendFrame, ParseFrame, CRC16: the codec.
//   - VADLINK: the driver, with sequence numbers, retries, keep-alive,
//     link-loss detection, Reconnect and callbacks for every frame, for
//     telemetry and for alarms.
//
// Time. Everything the experiment sees is stamped with the run's injected
// clock.Clock, and the keep-alive is paced by it through Maintain, which the
// engine calls: in simulation the clock is virtual and a DUT exchange is a
// synchronous request/response inside the run's loop, so the run stays
// deterministic; on the wall clock the rig runs the link on a goroutine of
// its own, since an exchange takes milliseconds of serial line the 1 kHz
// loop cannot wait for (see rig's dutPoller). Reply timeouts are real time,
// because they wait for real bytes on a real (or pseudo) terminal; over a
// SyncPort they are the port's line time, which passes only while the
// host waits, so no wall time is spent and no timer fires.
//
// The simulated device is package dut/dutsim.
//
// # Imports
//
// Of the project, clock and internal/crc16 only. It must not import rig
// (which runs it) or dut/dutsim (which simulates the other end).
package dut
