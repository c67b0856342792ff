package crc16

import "testing"

// bitwise is the CRC computed bit by bit, independently of the tables.
func bitwise(data []byte, poly uint16) uint16 {
	c := uint16(0xFFFF)
	for _, b := range data {
		c ^= uint16(b) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ poly
			} else {
				c <<= 1
			}
		}
	}
	return c
}

func TestCheckValues(t *testing.T) {
	check := []byte("123456789")
	// catalogue check values: CRC-16/CCITT-FALSE 29B1, CRC-16/CMS (0x8005, seed FFFF) AEE7
	if got := Checksum(check, CCITT); got != 0x29B1 {
		t.Errorf("CCITT check %04X, want 29B1", got)
	}
	if got := Checksum(check, ANSI); got != 0xAEE7 {
		t.Errorf("ANSI check %04X, want AEE7", got)
	}
	data := []byte{0, 0xFF, 0x55, 0xAA, 0x12, 0x80, 0x01}
	for _, poly := range []uint16{0x1021, 0x8005} {
		if got, want := Checksum(data, MakeTable(poly)), bitwise(data, poly); got != want {
			t.Errorf("poly %04X: table %04X, bitwise %04X", poly, got, want)
		}
	}
	if Checksum(nil, CCITT) != 0xFFFF {
		t.Error("empty input must give the seed")
	}
}
