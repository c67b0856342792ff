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

// TestSlicing: the eight-byte path agrees with the bit-wise CRC at every
// length around its boundaries and over random data.
func TestSlicing(t *testing.T) {
	data := make([]byte, 64)
	x := uint32(1)
	for i := range data {
		x = x*1664525 + 1013904223
		data[i] = byte(x >> 24)
	}
	for _, poly := range []uint16{0x1021, 0x8005} {
		tab := MakeTable(poly)
		for n := range len(data) + 1 {
			for _, off := range []int{0, 1, 3} {
				if off > n {
					continue
				}
				b := data[off:n]
				if got, want := Checksum(b, tab), bitwise(b, poly); got != want {
					t.Fatalf("poly %04X, %d bytes from %d: %04X, bitwise %04X", poly, len(b), off, got, want)
				}
			}
		}
	}
}

func BenchmarkChecksum27(b *testing.B) {
	data := make([]byte, 27) // an ADS131M08 frame before its CRC word
	for i := range data {
		data[i] = byte(i * 37)
	}
	b.SetBytes(int64(len(data)))
	var s uint16
	for b.Loop() {
		s ^= Checksum(data, CCITT)
	}
	_ = s
}
