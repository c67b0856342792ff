package runlog

import (
	"bytes"
	"math"
	"testing"
	"time"

	"github.com/mockloop/mockloop/daq"
)

// roundTrip codes the frames in one record and decodes it.
func roundTrip(t *testing.T, cs []ColumnCoding, times []time.Duration, values []float64) ([]time.Duration, []float64, int) {
	t.Helper()
	rec := newFrameEncoder(cs).appendRecord(nil, times, values)
	if got := le.Uint32(rec[4:]); int(got) != len(rec)-recHeaderLen {
		t.Fatalf("payload length %d, record of %d bytes", got, len(rec))
	}
	d := newFrameDecoder(cs)
	n, err := d.decode(rec[recHeaderLen:])
	if err != nil {
		t.Fatal(err)
	}
	if n != len(times) {
		t.Fatalf("%d frames decoded of %d", n, len(times))
	}
	return d.times, d.values, len(rec)
}

// Every kind of value that has no code is escaped and read back with its
// 64 bits; the values around it still code and read back exactly.
func TestEscapesKeepEveryBit(t *testing.T) {
	adc := ColumnCoding{Kind: CodingADC, LSB: 1.2 / (1 << 23), Coeffs: []float64{-1.5021459996700288, 250}}
	cs := []ColumnCoding{adc, {Kind: CodingInt}, {Kind: CodingF32}}
	cc := newColumnCodec(adc)
	payloadNaN := math.Float64frombits(0x7ff8_0000_dead_beef)
	specials := [][3]float64{
		{math.NaN(), math.NaN(), math.NaN()},
		{payloadNaN, payloadNaN, payloadNaN},
		{math.Inf(1), math.Inf(-1), math.Inf(1)},
		{cc.value(1234) + 1e-9, 0.5, 1e300},               // off the ADC's grid; not an integer; beyond float32
		{cc.value(-5) * 3, math.Copysign(0, -1), -1e-320}, // a recalibration's value; -0; float32 underflows to -0: kept as f32
		{cc.value(1<<23 - 1), 1 << 60, math.MaxFloat32},
	}
	const n = 300
	times := make([]time.Duration, n)
	values := make([]float64, 3*n)
	for i := range n {
		times[i] = time.Duration(i) * time.Millisecond
		values[3*i] = cc.value(int64(i*37 - 5000))
		values[3*i+1] = float64(31500 + i/100)
		values[3*i+2] = 100 + float64(i)/7
	}
	for k, sp := range specials {
		copy(values[3*(40*k+5):], sp[:])
	}
	gotT, gotV, _ := roundTrip(t, cs, times, values)
	for i := range n {
		if gotT[i] != times[i] {
			t.Fatalf("frame %d: t %v, want %v", i, gotT[i], times[i])
		}
		for j := range 3 {
			want := values[3*i+j]
			if j == 2 && !math.IsNaN(want) && !(want-want == 0 && math.IsInf(float64(float32(want)), 0)) {
				want = float64(float32(want))
			}
			if math.Float64bits(gotV[3*i+j]) != math.Float64bits(want) {
				t.Errorf("frame %d column %d: %v (%#x), want %v (%#x)", i, j, gotV[3*i+j], math.Float64bits(gotV[3*i+j]), want, math.Float64bits(want))
			}
		}
	}
}

// The codes of an integer column at the ends of what a float64 holds
// exactly, alternating, overflow the predictors' arithmetic: it wraps the
// same on both sides, and every value reads back.
func TestWrappingPredictionsReadBack(t *testing.T) {
	cs := []ColumnCoding{{Kind: CodingInt}}
	const n = 200
	times := make([]time.Duration, n)
	values := make([]float64, n)
	for i := range n {
		times[i] = time.Duration(int64(i)*int64(i)*int64(i)) * 1e9 // far apart, curving
		values[i] = float64(maxExact - 1)
		if i%3 == 1 {
			values[i] = -values[i]
		}
	}
	times[n/2] = -times[n/2] // back in time, before the epoch
	gotT, gotV, _ := roundTrip(t, cs, times, values)
	for i := range n {
		if gotT[i] != times[i] || gotV[i] != values[i] {
			t.Fatalf("frame %d: %v %v, want %v %v", i, gotT[i], gotV[i], times[i], values[i])
		}
	}
}

// A held column costs about a bit a frame, a constant one a bit per chunk
// of 64: 1,024 frames of a held column, 9 constant ones and a 1 kHz time
// column take under 0.25 bytes a frame.
func TestHeldColumnsCostLittle(t *testing.T) {
	cs := make([]ColumnCoding, 10)
	for j := range cs {
		cs[j].Kind = CodingInt
	}
	const n = 1024
	times := make([]time.Duration, n)
	values := make([]float64, 10*n)
	for i := range n {
		times[i] = 5*time.Hour + time.Duration(i)*time.Millisecond
		values[10*i] = float64(31500 + 10*(i/100)) // a DUT value polled every 100 frames
	}
	_, gotV, size := roundTrip(t, cs, times, values)
	if gotV[10*(n-1)] != values[10*(n-1)] {
		t.Fatalf("last value %v, want %v", gotV[10*(n-1)], values[10*(n-1)])
	}
	if perFrame := float64(size) / n; perFrame > 0.25 {
		t.Errorf("%.3f B/frame for held and constant columns", perFrame)
	}
}

// A polynomial calibration of degree 3 is inverted too: every code of a
// 16-bit converter reads back exactly, none escaped.
func TestPolynomialCalibrationCodes(t *testing.T) {
	c := ColumnCoding{Kind: CodingADC, LSB: 4.096 / 32768, Coeffs: []float64{0.3, 25, -0.8, 0.05}}
	cc := newColumnCodec(c)
	for code := int64(-32768); code < 32768; code += 7 {
		v := cc.value(code)
		got, ok := cc.code(v)
		if !ok || cc.value(got) != v {
			t.Fatalf("code %d: value %v coded as %d, %v", code, v, got, ok)
		}
	}
	if _, ok := cc.code(cc.value(100) + 1e-6); ok {
		t.Error("a value between codes got a code")
	}
}

// Apply rounds each product: the value of a code is the same with the
// products computed and rounded one by one, as any machine does.
func TestApplyIsUnfused(t *testing.T) {
	cal := daq.Calibration{Coeffs: []float64{-1.5021459996700288, 250, 1e-3}}
	for code := range int64(5000) {
		v := float64(code*1677) * (1.2 / (1 << 23))
		y := float64(cal.Coeffs[2] * v)
		y = float64(float64(y+cal.Coeffs[1])*v) + cal.Coeffs[0]
		if got := cal.Apply(v); math.Float64bits(got) != math.Float64bits(y) {
			t.Fatalf("code %d: Apply %v, step by step %v", code, got, y)
		}
	}
}

// A segment header whose coding does not fit its channels is a bad
// header: the segment is not read.
func TestBadCodingIsABadHeader(t *testing.T) {
	for _, cs := range [][]ColumnCoding{
		nil,
		{{Kind: CodingF32}},
		{{Kind: "f16"}, {Kind: CodingF32}},
		{{Kind: CodingADC, LSB: 0, Coeffs: []float64{0, 1}}, {Kind: CodingF32}},
		{{Kind: CodingADC, LSB: 1, Coeffs: make([]float64, maxCoeffs+1)}, {Kind: CodingF32}},
		{{Kind: CodingInt, LSB: 1}, {Kind: CodingF32}},
	} {
		hdr, err := appendSegmentHeader(nil, segHeader{RunID: testRunID, Seq: 1, Channels: testLayout[:2], Coding: cs})
		if err != nil {
			t.Fatal(err)
		}
		var sc segScan
		if _, why, err := sc.readHeader(bytes.NewReader(hdr), int64(len(hdr))); err != nil || why != damageBadHeader {
			t.Errorf("coding %+v: %q, %v; want %q", cs, why, err, damageBadHeader)
		}
	}
}
