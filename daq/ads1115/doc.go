// Package ads1115 is a non-blocking driver for the Texas Instruments
// ADS1115, a 16-bit, 4-input, 860 SPS delta-sigma ADC on I²C: the slow
// channels of the bench (fluid temperature, reservoir level). It implements
// daq.SlowADC.
//
// periph's devices/v3/ads1x15 driver is not used for the conversions: its
// Read starts a conversion and then calls time.Sleep for one conversion
// period (≈1.2 ms at 860 SPS), which would stall the 1 kHz sampling loop on
// every slow sample and wait on the wall clock behind the run clock's back,
// and its ReadContinuous runs on a time.Ticker. This driver instead runs
// single-shot conversions as a state machine advanced by Poll, one step per
// call, and never waits: it checks the config register's OS bit, which the
// chip sets when the conversion is done. Of ads1x15 it reuses the Channel
// type (whose values are the MUX field codes) and the default address.
//
// A full sweep of n inputs takes n conversions, each at least 1/DataRate
// and in practice until the first Poll after the conversion finished: at
// 860 SPS polled every 1 ms, one input every 2 ms.
//
// # Datasheet
//
// ADS1115, SBAS444: https://www.ti.com/lit/ds/symlink/ads1115.pdf
//
// # Imports
//
// Of the project, daq only. Like every driver it must not import sim: the
// emulated chip serves it on a periph i2c.Bus, so the driver cannot tell
// simulation from the bench.
package ads1115
