package ads131m08

// crc16 is the chip's output CRC with MODE.CRC_TYPE = 0: CRC-16-CCITT,
// polynomial x^16 + x^12 + x^5 + 1 (1021h), seed FFFFh, MSB first, no final
// XOR, over every byte before the CRC word including zero padding.
func crc16(b []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, x := range b {
		crc = crc<<8 ^ crcTable[byte(crc>>8)^x]
	}
	return crc
}

var crcTable = func() (t [256]uint16) {
	for i := range t {
		crc := uint16(i) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
		t[i] = crc
	}
	return t
}()
