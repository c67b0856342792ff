// Package crc16 computes the 16-bit CRCs of mockloop's wire formats: MSB
// first, seed 0xFFFF, no reflection, no final XOR. With the CCITT polynomial
// 0x1021 that is CRC-16/CCITT-FALSE, used by VADLINK frames and by the
// ADS131M08's output frames; the ADS131M08 can also use the ANSI polynomial
// 0x8005. The API follows hash/crc32: a table per polynomial, then Checksum.
package crc16

// Table is a byte-wise lookup table for one polynomial.
type Table [256]uint16

// MakeTable returns the table of a polynomial (MSB-first form, e.g. 0x1021).
func MakeTable(poly uint16) *Table {
	t := new(Table)
	for i := range t {
		c := uint16(i) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ poly
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}

// Predefined tables.
var (
	CCITT = MakeTable(0x1021)
	ANSI  = MakeTable(0x8005)
)

// Checksum returns the CRC of data with the table's polynomial, seed 0xFFFF.
// Checksum([]byte("123456789"), CCITT) is 0x29B1.
func Checksum(data []byte, t *Table) uint16 {
	c := uint16(0xFFFF)
	for _, x := range data {
		c = c<<8 ^ t[byte(c>>8)^x]
	}
	return c
}
