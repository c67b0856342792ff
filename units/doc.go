// Package units parses and formats the physical quantities that configs and
// protocols are written in ("80 mmHg", "2.5 L/min", "12 h").
//
// A value always carries its unit in text: a bare number where a quantity is
// expected is an error, because a silently assumed unit is how a 10x setpoint
// mistake reaches a pump. Internally every Dimension has exactly one canonical
// unit (see Dimension.Unit); values are converted to it on parsing. Conversion
// to periph's physic types happens only at the hardware edge (drivers).
//
// # Imports
//
// None of the project: units is the floor of the package map, beside clock.
package units
