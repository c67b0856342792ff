package runlog

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// rigLikeFrames makes n frames shaped as the default rig's 19 columns: 7
// ADC inputs (24-bit codes, a beat and noise of thousands of codes), a
// slow 16-bit input, 3 DUT integers held between 100 ms polls, 6 flags
// and 2 float32 volumes; and their coding.
func rigLikeFrames(n int) ([]ColumnCoding, []time.Duration, []float64) {
	const lsb = 1.2 / (1 << 23)
	var cs []ColumnCoding
	for range 7 {
		cs = append(cs, ColumnCoding{Kind: CodingADC, LSB: lsb, Coeffs: []float64{-1.5, 250}})
	}
	cs = append(cs, ColumnCoding{Kind: CodingADC, LSB: 4.096 / 32768, Coeffs: []float64{0, 25}})
	for range 9 {
		cs = append(cs, ColumnCoding{Kind: CodingInt})
	}
	cs = append(cs, ColumnCoding{Kind: CodingF32}, ColumnCoding{Kind: CodingF32})
	w := len(cs)
	rng := rand.New(rand.NewPCG(1, 2))
	times := make([]time.Duration, n)
	values := make([]float64, n*w)
	for i := range n {
		times[i] = time.Duration(i) * time.Millisecond
		v := values[i*w : (i+1)*w]
		beat := math.Sin(float64(i) * 2 * math.Pi / 800)
		for j := range 7 {
			code := math.Round(beat*3e5*float64(j+1) + rng.NormFloat64()*3000)
			cc := newColumnCodec(cs[j])
			v[j] = cc.value(int64(code))
		}
		slow := newColumnCodec(cs[7])
		v[7] = slow.value(int64(2400 + i/5000))
		v[8], v[9], v[10] = float64(31500+(i/100)%3), float64(700+(i/100)%7), 0
		v[17], v[18] = 100+50*beat, 120-40*beat
	}
	return cs, times, values
}

// BenchmarkEncode codes 1024-frame records of default-rig-like frames:
// the cost on the sampling path, per frame, and the bytes per frame.
func BenchmarkEncode(b *testing.B) {
	cs, times, values := rigLikeFrames(1024)
	e := newFrameEncoder(cs)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = e.appendRecord(buf[:0], times, values)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(times)), "ns/frame")
	b.ReportMetric(float64(len(buf))/float64(len(times)), "B/frame")
}

// BenchmarkDecode decodes the records BenchmarkEncode makes.
func BenchmarkDecode(b *testing.B) {
	cs, times, values := rigLikeFrames(1024)
	rec := newFrameEncoder(cs).appendRecord(nil, times, values)
	d := newFrameDecoder(cs)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.decode(rec[recHeaderLen:]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(times)), "ns/frame")
}
