package sim_test

import (
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/sim"
)

// These tests talk to the emulator in raw frames written from the
// datasheet (SBAS950B), without the driver, so that the driver's round trip
// through the emulator is a check of two independent readings of it.

// crcBits is the datasheet's CRC bit by bit: seed FFFFh, MSB first,
// polynomial 1021h (CCITT) or 8005h (ANSI).
func crcBits(b []byte, poly uint16) uint16 {
	crc := uint16(0xFFFF)
	for _, x := range b {
		for i := 7; i >= 0; i-- {
			top := crc&0x8000 != 0
			crc <<= 1
			if top != ((x>>i)&1 != 0) {
				crc ^= poly
			}
		}
	}
	return crc
}

// chip is an emulator on a virtual clock with a settable front end.
type chip struct {
	t   *testing.T
	adc *sim.ADS131M08
	bus spi.Conn
	clk *clock.Virtual
	in  [8]float64      // input volts
	at  []time.Duration // instants the front end was sampled at
	wb  int             // bytes per word
}

func newChip(t *testing.T, clkin physic.Frequency) *chip {
	t.Helper()
	c := &chip{t: t, clk: clock.NewVirtual(time.Unix(0, 0)), wb: 3}
	adc, err := sim.NewADS131M08(sim.ADS131M08Config{
		Clock:   c.clk,
		ClockIn: clkin,
		FrontEnd: sim.FrontEndFunc(func(now time.Duration, dst *[8]float64) {
			c.at = append(c.at, now)
			*dst = c.in
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	c.adc = adc
	if c.bus, err = adc.Connect(25*physic.MegaHertz, spi.Mode1, 8); err != nil {
		t.Fatal(err)
	}
	if err := adc.DRDY().In(gpio.PullUp, gpio.FallingEdge); err != nil {
		t.Fatal(err)
	}
	return c
}

// frame sends the 16-bit words (zero-padded to the word size) in a frame of
// n words and returns what came back, as 16-bit response/register words
// (resp) and sign-extended 24-bit channel codes.
func (c *chip) frame(n int, words ...uint16) (out []byte, err error) {
	w := make([]byte, n*c.wb)
	for i, v := range words {
		w[i*c.wb], w[i*c.wb+1] = byte(v>>8), byte(v)
	}
	r := make([]byte, len(w))
	err = c.bus.Tx(w, r)
	return r, err
}

func (c *chip) mustFrame(words ...uint16) []byte {
	c.t.Helper()
	r, err := c.frame(10, words...)
	if err != nil {
		c.t.Fatal(err)
	}
	c.checkCRC(r, 0x1021)
	return r
}

func (c *chip) checkCRC(r []byte, poly uint16) {
	c.t.Helper()
	at := len(r) - c.wb
	if got, want := uint16(r[at])<<8|uint16(r[at+1]), crcBits(r[:at], poly); got != want {
		c.t.Fatalf("output CRC %04X, computed %04X", got, want)
	}
}

func word(r []byte, i, wb int) uint16 { return uint16(r[i*wb])<<8 | uint16(r[i*wb+1]) }

func code(r []byte, ch int) int32 {
	b := r[(1+ch)*3:]
	return int32(uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8) >> 8
}

// rreg reads one register: RREG now, its content in the next frame.
func (c *chip) rreg(addr uint16) uint16 {
	c.t.Helper()
	c.mustFrame(0xA000 | addr<<7)
	return word(c.mustFrame(0), 0, c.wb)
}

func TestADS131M08Connect(t *testing.T) {
	clk := clock.NewVirtual(time.Time{})
	for _, k := range []struct {
		f    physic.Frequency
		mode spi.Mode
		bits int
		want string
	}{
		{0, spi.Mode1, 8, "rejected"},
		{30 * physic.MegaHertz, spi.Mode1, 8, "above"},
		{25 * physic.MegaHertz, spi.Mode0, 8, "Mode1"},
		{25 * physic.MegaHertz, spi.Mode1 | spi.NoCS, 8, "Mode1"},
		{25 * physic.MegaHertz, spi.Mode1, 24, "3 bytes"},
	} {
		adc, _ := sim.NewADS131M08(sim.ADS131M08Config{Clock: clk})
		if _, err := adc.Connect(k.f, k.mode, k.bits); err == nil || !strings.Contains(err.Error(), k.want) {
			t.Errorf("Connect(%s, %s, %d): %v, want %q", k.f, k.mode, k.bits, err, k.want)
		}
	}
	adc, _ := sim.NewADS131M08(sim.ADS131M08Config{Clock: clk})
	if _, err := adc.Connect(25*physic.MegaHertz, spi.Mode1, 8); err != nil {
		t.Fatal(err)
	}
	if _, err := adc.Connect(25*physic.MegaHertz, spi.Mode1, 8); err == nil {
		t.Error("second Connect accepted")
	}
	if _, err := sim.NewADS131M08(sim.ADS131M08Config{Clock: clk, ClockIn: 9 * physic.MegaHertz}); err == nil {
		t.Error("CLKIN of 9 MHz accepted")
	}
}

func TestADS131M08ResetValues(t *testing.T) {
	c := newChip(t, 0)
	c.mustFrame(0x0011) // RESET
	if _, err := c.frame(10, 0); err == nil || !strings.Contains(err.Error(), "t_REGACQ") {
		t.Fatalf("frame right after RESET: %v, want a t_REGACQ error", err)
	}
	c.clk.Advance(5 * time.Microsecond)
	if got := word(c.mustFrame(0), 0, 3); got != 0xFF28 {
		t.Fatalf("RESET response %04X, want FF28", got)
	}
	for _, r := range []struct {
		addr, want uint16
	}{
		{0x00, 0x2800}, // ID: CHANCNT = 8
		{0x01, 0x0500}, // STATUS: RESET, 24-bit words
		{0x02, 0x0510}, // MODE
		{0x03, 0xFF0E}, // CLOCK: all channels, OSR 1024, HR
		{0x04, 0x0000}, // GAIN1
		{0x05, 0x0000}, // GAIN2
		{0x06, 0x0600}, // CFG
		{0x0C, 0x8000}, // CH0_GCAL_MSB
		{0x2F, 0x8000}, // CH7_GCAL_MSB
		{0x30, 0x0000}, // CH7_GCAL_LSB
	} {
		if got := c.rreg(r.addr); got != r.want {
			t.Errorf("register %02Xh = %04X, want %04X", r.addr, got, r.want)
		}
	}
	// The default data rate: 4.096 MHz / 1024 = 4 kSPS.
	if p := c.adc.Period(); p != 250*time.Microsecond {
		t.Errorf("period after reset %v, want 250µs", p)
	}
}

func TestADS131M08WriteAndLock(t *testing.T) {
	c := newChip(t, 0)
	// WREG GAIN1 and GAIN2 (011 00010 0 0000001): acknowledged as 010a aaaa ammm mmmm.
	c.mustFrame(0x6201, 0x7777, 0x1234)
	if got := word(c.mustFrame(0), 0, 3); got != 0x4201 {
		t.Fatalf("WREG response %04X, want 4201", got)
	}
	if g1, g2 := c.rreg(4), c.rreg(5); g1 != 0x7777 || g2 != 0x1234 {
		t.Fatalf("gains %04X %04X", g1, g2)
	}
	c.mustFrame(0x0555) // LOCK
	if got := word(c.mustFrame(0x6200, 0x0000), 0, 3); got != 0x0555 {
		t.Fatalf("LOCK response %04X", got)
	}
	// The WREG under the lock was ignored and answered like NULL: STATUS with LOCK set.
	if st := word(c.mustFrame(0), 0, 3); st&0x8000 == 0 {
		t.Errorf("STATUS %04X under lock, want LOCK set", st)
	}
	if g1 := c.rreg(4); g1 != 0x7777 {
		t.Errorf("GAIN1 written under lock: %04X", g1)
	}
	c.mustFrame(0x0655) // UNLOCK
	if got := word(c.mustFrame(0x6200, 0x0000), 0, 3); got != 0x0655 {
		t.Fatalf("UNLOCK response %04X", got)
	}
	if g1 := c.rreg(4); g1 != 0 {
		t.Errorf("GAIN1 %04X after unlocked write", g1)
	}
	// An unknown command word is a NULL: the response is STATUS.
	c.mustFrame(0x1234)
	if st := word(c.mustFrame(0), 0, 3); st&0xFF00 != 0x0500 {
		t.Errorf("response to an unknown command %04X, want STATUS", st)
	}
	// Read-only registers ignore writes.
	c.mustFrame(0x6000, 0x1111) // WREG ID
	c.mustFrame(0)
	if id := c.rreg(0); id != 0x2800 {
		t.Errorf("ID %04X after a write", id)
	}
}

func TestADS131M08MultipleRegisterRead(t *testing.T) {
	c := newChip(t, 0)
	c.mustFrame(0xA103) // RREG MODE..GAIN2: 101 00010 0 0000011
	// The answer frame carries no ADC data: header, four registers, CRC.
	if _, err := c.frame(10, 0); err == nil {
		t.Fatal("a 10-word frame accepted for a 4-register read")
	}
	r, err := c.frame(6, 0)
	if err != nil {
		t.Fatal(err)
	}
	c.checkCRC(r, 0x1021)
	want := []uint16{0xE103, 0x0510, 0xFF0E, 0, 0}
	for i, w := range want {
		if got := word(r, i, 3); got != w {
			t.Errorf("word %d = %04X, want %04X", i, got, w)
		}
	}
}

func TestADS131M08FrameLength(t *testing.T) {
	c := newChip(t, 0)
	for _, n := range []int{9, 11} {
		if _, err := c.frame(n, 0); err == nil || !strings.Contains(err.Error(), "expects 10 words") {
			t.Errorf("frame of %d words: %v", n, err)
		}
	}
	if err := c.bus.Tx(make([]byte, 31), make([]byte, 31)); err == nil {
		t.Error("frame of 31 bytes (not whole words) accepted")
	}
	// WLENGTH = 10b: 32-bit words, from the next frame on.
	c.mustFrame(0x6100, 0x0210)
	c.wb = 4
	if _, err := c.frame(10, 0); err != nil {
		t.Fatalf("40-byte frame after switching to 32-bit words: %v", err)
	}
	c.wb = 3
	if _, err := c.frame(10, 0); err == nil {
		t.Error("30-byte frame accepted with 32-bit words")
	}
}

func TestADS131M08ConversionsOnTheClock(t *testing.T) {
	c := newChip(t, 0)
	c.mustFrame(0x6180, 0xFF16) // WREG CLOCK: OSR 4096 → 1 kSPS
	c.mustFrame(0x6201, 0x0001, 0x0000)
	c.mustFrame(0) // its acknowledgement; the next response is STATUS
	drdy := c.adc.DRDY()
	if drdy.Read() != gpio.High {
		t.Fatal("DRDY low before the first conversion")
	}
	c.in = [8]float64{1.3, -1.3, 0.6, 1.2 / (1 << 23), -0.6, 0.3, 0, 1.19999}
	// The WREG restarted conversions at t = 0: the first comes at 1 ms.
	if !drdy.WaitForEdge(5 * time.Millisecond) {
		t.Fatal("no data-ready")
	}
	if now := c.clk.Now(); now != time.Millisecond {
		t.Fatalf("data-ready at %v, want 1ms", now)
	}
	if drdy.Read() != gpio.Low {
		t.Fatal("DRDY not held low while data wait")
	}
	r := c.mustFrame(0)
	if st := word(r, 0, 3); st != 0x05FF {
		t.Errorf("STATUS %04X, want 05FF (RESET not yet cleared, 24-bit words, all DRDY bits)", st)
	}
	// GAIN1 = 0001h: channel 0 at gain 2, the others at 1.
	want := [8]int32{
		0x7FFFFF,          // 1.3 V × 2 clips at positive full scale (7FFFFFh)
		-0x800000,         // -1.3 V clips at negative full scale (800000h)
		0x400000,          // 0.6 V: half scale
		1,                 // one LSB, 1.2 V / 2^23
		-0x400000,         // -0.6 V
		0x200000,          // 0.3 V
		0,                 // 0 V
		quant(1.19999, 1), // 8388538.1 → 7FFFBAh
	}
	for ch, w := range want {
		if got := code(r, ch); got != w {
			t.Errorf("channel %d code %06X, want %06X", ch, uint32(got)&0xFFFFFF, uint32(w)&0xFFFFFF)
		}
	}
	if drdy.Read() != gpio.High {
		t.Error("DRDY still low after the frame was read")
	}
	// Reading again before the next conversion: same data, DRDY bits clear.
	r2 := c.mustFrame(0)
	if st := word(r2, 0, 3); st&0xFF != 0 {
		t.Errorf("STATUS %04X on a repeated read, want no DRDY bits", st)
	}
	if code(r2, 2) != 0x400000 || len(c.at) != 1 {
		t.Errorf("repeated read changed the data or sampled again (%d samples)", len(c.at))
	}
	// 3.5 periods later: the latest conversion (4 ms) comes out, two are lost.
	c.clk.Advance(3500 * time.Microsecond)
	c.in[6] = 0.001
	r3 := c.mustFrame(0)
	if got := c.at[len(c.at)-1]; got != 4*time.Millisecond {
		t.Errorf("frame at 4.5 ms carries the conversion of %v, want 4ms", got)
	}
	if code(r3, 6) != quant(0.001, 1) {
		t.Errorf("channel 6 code %d, want %d", code(r3, 6), quant(0.001, 1))
	}
	if lost := c.adc.Lost(); lost != 2 {
		t.Errorf("%d conversions lost, want 2 (2 ms and 3 ms)", lost)
	}
}

// quant is the datasheet's ideal transfer: code = round(V / (1.2 V / gain) × 2^23).
func quant(v, gain float64) int32 {
	x := v * gain / 1.2 * (1 << 23)
	if x < 0 {
		return int32(x - 0.5)
	}
	return int32(x + 0.5)
}

func TestADS131M08StandbyAndWakeup(t *testing.T) {
	c := newChip(t, 0)
	drdy := c.adc.DRDY()
	c.mustFrame(0x0022) // STANDBY
	if got := word(c.mustFrame(0), 0, 3); got != 0x0022 || !c.adc.Standby() {
		t.Fatalf("STANDBY response %04X, standby %v", got, c.adc.Standby())
	}
	start := c.clk.Now()
	if drdy.WaitForEdge(3 * time.Millisecond) {
		t.Fatal("data-ready in standby")
	}
	if waited := c.clk.Now() - start; waited != 3*time.Millisecond {
		t.Errorf("a timed-out wait took %v of the clock, want the 3ms timeout", waited)
	}
	// In standby no ADC data are output: a short frame is allowed, but a
	// short RESET does not reset (the response is the echoed command).
	if _, err := c.frame(1, 0x0011); err != nil {
		t.Fatal(err)
	}
	r, _ := c.frame(1, 0)
	if got := word(r, 0, 3); got != 0x0011 {
		t.Errorf("response to a short RESET %04X, want 0011", got)
	}
	c.mustFrame(0x0033) // WAKEUP
	at := c.clk.Now()
	if !drdy.WaitForEdge(time.Millisecond) {
		t.Fatal("no data-ready after WAKEUP")
	}
	if d := c.clk.Now() - at; d <= 0 || d > 250*time.Microsecond {
		t.Errorf("first conversion %v after WAKEUP, want within one 250µs period", d)
	}
}

func TestADS131M08CRCTypes(t *testing.T) {
	c := newChip(t, 0)
	c.in = [8]float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8}
	c.adc.DRDY().WaitForEdge(time.Millisecond)
	c.mustFrame(0x6100, 0x0910) // MODE: CRC_TYPE = 1 (ANSI)
	c.adc.DRDY().WaitForEdge(time.Millisecond)
	r, err := c.frame(10, 0)
	if err != nil {
		t.Fatal(err)
	}
	c.checkCRC(r, 0x8005)
}

func TestADS131M08InputCRC(t *testing.T) {
	c := newChip(t, 0)
	c.mustFrame(0x6100, 0x1110) // MODE: RX_CRC_EN
	// WREG GAIN1 = 0003h with a wrong input CRC: ignored, CRC_ERR reported.
	if _, err := c.frame(10, 0x6200, 0x0003, 0xBEEF); err != nil {
		t.Fatal(err)
	}
	r, _ := c.frame(10, 0)
	if st := word(r, 0, 3); st&0x1000 == 0 {
		t.Errorf("STATUS %04X after a bad input CRC, want CRC_ERR", st)
	}
	// With the right CRC (over the command and data words, padding included) it is written.
	w := []byte{0x62, 0x00, 0, 0x00, 0x03, 0}
	crc := crcBits(w, 0x1021)
	if _, err := c.frame(10, 0x6200, 0x0003, crc); err != nil {
		t.Fatal(err)
	}
	c.frame(10, 0xA200, crcBits([]byte{0xA2, 0, 0}, 0x1021))
	r, _ = c.frame(10, 0, crcBits([]byte{0, 0, 0}, 0x1021))
	if got := word(r, 0, 3); got != 0x0003 {
		t.Errorf("GAIN1 %04X, want 0003", got)
	}
}

func TestADS131M08Faults(t *testing.T) {
	c := newChip(t, 0)
	c.mustFrame(0x6180, 0xFF16) // 1 kSPS
	drdy := c.adc.DRDY()
	read := func() []byte {
		t.Helper()
		if !drdy.WaitForEdge(10 * time.Millisecond) {
			t.Fatal("no data-ready")
		}
		r, err := c.frame(10, 0)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	read() // 1 ms
	c.adc.SuppressDRDY(2)
	read()
	if now := c.clk.Now(); now != 4*time.Millisecond {
		t.Errorf("with two assertions suppressed, data-ready came at %v, want 4ms", now)
	}
	if c.adc.Lost() != 2 {
		t.Errorf("lost %d, want 2", c.adc.Lost())
	}

	c.adc.CorruptCRC(1)
	r := read()
	if at := 27; uint16(r[at])<<8|uint16(r[at+1]) == crcBits(r[:at], 0x1021) {
		t.Error("CRC not corrupted")
	}
	c.checkCRC(read(), 0x1021) // only one

	if err := c.adc.Freeze(3); err != nil {
		t.Fatal(err)
	}
	c.in[3] = 0.1
	first := code(read(), 3)
	for i := range 5 {
		c.in[3] = 0.2 + 0.1*float64(i)
		if got := code(read(), 3); got != first {
			t.Fatalf("frozen channel moved from %d to %d", first, got)
		}
	}
	_ = c.adc.Thaw(3)
	if got := code(read(), 3); got == first {
		t.Error("thawed channel still frozen")
	}

	c.adc.Resync()
	st := word(read(), 0, 3)
	if st&0x4000 == 0 {
		t.Errorf("STATUS %04X after a resync, want F_RESYNC", st)
	}
	if st = word(read(), 0, 3); st&0x4000 != 0 {
		t.Errorf("F_RESYNC reported twice")
	}

	c.adc.PowerCycle()
	if st = word(read(), 0, 3); st&0x0400 == 0 {
		t.Errorf("STATUS %04X after a power cycle, want RESET", st)
	}
	if got := c.adc.Register(3); got != 0xFF0E {
		t.Errorf("CLOCK %04X after a power cycle, want the reset value", got)
	}
}

func TestADS131M08ClockIn(t *testing.T) {
	// 5.12 MHz CLKIN, OSR 256: exactly 10 kSPS.
	c := newChip(t, 5120*physic.KiloHertz)
	c.mustFrame(0x6180, 0xFF06)
	if p := c.adc.Period(); p != 100*time.Microsecond {
		t.Errorf("period %v, want 100µs", p)
	}
	// OSR 16256 at 8.192 MHz: 3.96875 ms, not 4 ms.
	c = newChip(t, 0)
	c.mustFrame(0x6180, 0xFF1E)
	if p := c.adc.Period(); p != 3968750*time.Nanosecond {
		t.Errorf("period %v, want 3.96875ms", p)
	}
}

func TestADS131M08Closed(t *testing.T) {
	c := newChip(t, 0)
	if err := c.adc.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.frame(10, 0); err == nil {
		t.Error("frame on a closed port accepted")
	}
}
