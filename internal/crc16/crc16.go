package crc16

// Table holds the lookup tables of one polynomial: t[0] is the classic
// byte-wise table, t[k] the CRC of a byte followed by k zero bytes.
type Table struct {
	t [8][256]uint16
}

// MakeTable returns the table of a polynomial (MSB-first form, e.g. 0x1021).
func MakeTable(poly uint16) *Table {
	t := new(Table)
	for i := range 256 {
		c := uint16(i) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ poly
			} else {
				c <<= 1
			}
		}
		t.t[0][i] = c
	}
	for k := 1; k < 8; k++ {
		for i := range 256 {
			c := t.t[k-1][i]
			t.t[k][i] = c<<8 ^ t.t[0][c>>8]
		}
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
	tt := &t.t
	for len(data) >= 8 {
		// The state folds into the first two bytes; each byte then
		// contributes its own CRC shifted by the bytes after it.
		x := c ^ uint16(data[0])<<8 ^ uint16(data[1])
		c = tt[7][x>>8] ^ tt[6][byte(x)] ^ tt[5][data[2]] ^ tt[4][data[3]] ^
			tt[3][data[4]] ^ tt[2][data[5]] ^ tt[1][data[6]] ^ tt[0][data[7]]
		data = data[8:]
	}
	for _, x := range data {
		c = c<<8 ^ tt[0][byte(c>>8)^x]
	}
	return c
}
