// Package mcp4725 drives the Microchip MCP4725, a 12-bit voltage-output DAC
// on I²C whose reference is its own supply. On the bench it drives the input
// of the LV piston pump's driver (0–5 V), and on a right-heart bench a second
// one the RV pump's.
//
// The driver talks to a periph i2c.Bus, so the same code runs against
// /dev/i2c-1 on the Raspberry Pi and against the chip emulator of package
// sim. Updates use the two-byte fast-mode write; the five-byte read returns
// the DAC register and the EEPROM; StoreDefault programs the value the chip
// outputs at power-up.
//
// # Datasheet
//
// MCP4725, DS22039D: https://ww1.microchip.com/downloads/en/DeviceDoc/22039d.pdf
//
// # Imports
//
// Of the project, pumpctl only. Like every driver it must not import sim:
// the emulated chip serves it on a periph i2c.Bus, so the driver cannot tell
// simulation from the bench.
package mcp4725
