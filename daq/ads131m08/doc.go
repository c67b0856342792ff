// Package ads131m08 drives the Texas Instruments ADS131M08, the 8-channel,
// simultaneously sampling, 24-bit delta-sigma ADC in front of the rig's
// pressure transducers and flow meters, on a periph spi.Port with its
// data-ready output on a gpio.PinIn. Dev implements daq.ADC.
//
// Datasheet: ADS131M08, SBAS950B, https://www.ti.com/lit/ds/symlink/ads131m08.pdf
//
// # Frames
//
// Every transfer is one SPI frame of ten 24-bit words, sent as 30 bytes in
// SPI mode 1: a command word goes in, and out come the response to the
// previous frame's command, the eight channel results and a CRC-16 of the
// frame. Reading a sample is one such frame with the NULL command, whose
// response is the STATUS register; nothing is allocated per frame.
//
// # Configuration
//
// New sends UNLOCK (a locked chip ignores RESET), RESET, checks the reset
// acknowledgement FF28h and the ID register, writes MODE (24-bit words,
// CRC-CCITT, reset flag cleared, data-ready as a level) and CLOCK, GAIN1 and
// GAIN2 (all channels on, the oversampling ratio of the data rate,
// high-resolution mode, the PGA gains), and reads the four back. The output
// CRC of this chip cannot be switched off, only its polynomial chosen, so
// "enabling" it means selecting CCITT; every frame is checked.
//
// # What Read detects
//
//   - CRC errors: the frame's CRC-16-CCITT (seed FFFFh, over all 27 bytes
//     before the CRC word) does not match. The frame is dropped.
//   - Missed data-ready: DRDY did not assert within Opts.ReadyTimeout, or
//     the frame that followed it held no new conversion (STATUS DRDY bits
//     clear).
//   - Gaps, conversions lost between two reads. The chip has no sample
//     counter and overwrites a result that is not read in time, so the
//     driver infers losses from the clock. Conversion k comes at φ + k·T and
//     its data-ready is seen at t = φ + k·T + latency; the least t − k·T
//     over the last 64 reads estimates the phase φ, and a read at t is
//     n = ⌊(t − φ̂ − k·T)/T + 0.1⌋ periods after the previous one, n − 1
//     conversions having been lost. This is exact while every read comes
//     within 0.9 T of its conversion (Read waiting on data-ready sees it
//     within the interrupt latency); a read later than that in a period
//     where nothing was lost counts one gap too many, and a loss on the
//     very frame whose latency drops 0.1 T below the recent minimum is
//     counted one frame later. Losses before the first frame after New are
//     not counted. A STATUS word with F_RESYNC set (the conversion phase
//     restarted) counts one gap and re-anchors the estimate; one with RESET
//     set means the chip reset itself (registers back to defaults): Read
//     returns ErrChipReset, counted once as a gap, until New is run again.
//   - Stuck channels: a channel whose raw code stays identical for
//     Opts.StuckFrames consecutive frames (a live transducer always shows
//     noise at 24 bits). Counted once per episode of each channel, on the
//     frame that completes the run; the episode ends when the code changes.
//
// Gap and stuck frames are delivered: dst holds valid values and the error
// (ErrGap, ErrStuck) says what happened. After every other error dst is left
// as it was.
//
// # Imports
//
// Of the project, clock, daq and internal/crc16 only. Like every driver it
// must not import sim: the emulated chip serves it on a periph spi.Port and
// gpio.PinIn, so the driver cannot tell simulation from the bench.
package ads131m08
