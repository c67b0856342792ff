// Package crc16 computes the 16-bit CRCs of mockloop's wire formats: MSB
// first, seed 0xFFFF, no reflection, no final XOR. With the CCITT polynomial
// 0x1021 that is CRC-16/CCITT-FALSE, used by VADLINK frames and by the
// ADS131M08's output frames; the ADS131M08 can also use the ANSI polynomial
// 0x8005. The API follows hash/crc32: a table per polynomial, then Checksum.
//
// Checksum runs on every ADC frame twice (the emulated chip makes it, the
// driver checks it), so it works eight bytes at a time ("slicing by 8"):
// eight independent table lookups per eight bytes instead of a chain of
// eight dependent ones.
//
// # Imports
//
// None of the project. dut (VADLINK frames), daq/ads131m08 (the driver
// checks frames) and sim (the emulated chip makes them) import it.
package crc16
