package runlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"math/bits"
	"time"

	"github.com/mockloop/mockloop/daq"
)

// Column codings of a version 3 segment (ColumnCoding.Kind); doc.go
// describes the format.
const (
	// CodingADC is a converter input: value = Apply(code × LSB) with the
	// channel's calibration, the code being the converter's integer.
	CodingADC = "adc"
	// CodingInt is an integer-valued column (DUT telemetry, flags): the
	// code is the value.
	CodingInt = "int"
	// CodingF32 is any other float column (simulation truth, computed):
	// the value rounded to float32, as in versions 1 and 2, the code
	// being its bit pattern in an order-preserving int.
	CodingF32 = "f32"
)

// ColumnCoding says how the values of one frame column map to integer
// codes in a version 3 segment. It is in every segment's header, so a
// segment is read without anything else; the manifest's calibrations
// say where the coefficients came from.
type ColumnCoding struct {
	Kind string `json:"kind"`
	// LSB is the converter's volts per code (CodingADC).
	LSB float64 `json:"lsb,omitempty"`
	// Coeffs are the calibration polynomial's, volts to value
	// (CodingADC), as daq.Calibration.
	Coeffs []float64 `json:"coeffs,omitempty"`
}

// maxCoeffs bounds the calibration polynomial a reader accepts.
const maxCoeffs = 16

// Exact reports whether the record keeps a value of the column to the bit
// (a converter code, an integer) rather than rounded to float32.
func (c ColumnCoding) Exact() bool { return c.Kind == CodingADC || c.Kind == CodingInt }

// valid reports whether c is a coding a reader can use.
func (c ColumnCoding) valid() bool {
	switch c.Kind {
	case CodingInt, CodingF32:
		return c.LSB == 0 && len(c.Coeffs) == 0
	case CodingADC:
		return c.LSB != 0 && !math.IsNaN(c.LSB) && !math.IsInf(c.LSB, 0) && len(c.Coeffs) <= maxCoeffs &&
			daq.Calibration{Coeffs: c.Coeffs}.Valid()
	}
	return false
}

// checkCoding returns an error unless cs codes width columns.
func checkCoding(cs []ColumnCoding, width int) error {
	if len(cs) != width {
		return fmt.Errorf("%d column codings for %d channels", len(cs), width)
	}
	for i, c := range cs {
		if !c.valid() {
			return fmt.Errorf("channel %d: invalid coding %+v", i, c)
		}
	}
	return nil
}

// defaultCoding is the coding of columns nobody described: float32, the
// precision of versions 1 and 2.
func defaultCoding(width int) []ColumnCoding {
	cs := make([]ColumnCoding, width)
	for i := range cs {
		cs[i].Kind = CodingF32
	}
	return cs
}

// Escape kinds, after a unary prefix of riceLimit ones (doc.go).
const (
	escBig = 0 // a residual too large for Rice: 7-bit length L, L bits of it zigzagged
	escNaN = 1 // the value is math.NaN()'s bit pattern
	escRaw = 2 // the value's 64 bits follow
)

// Coding parameters (doc.go).
const (
	riceLimit = 16 // unary prefixes this long are escapes
	kZero     = 63 // the k that says: every residual of the chunk (from value 2) is zero
	// chunkValues is the number of values of a column that share a
	// predictor and a Rice parameter.
	chunkValues = 64
	predictors  = 4 // previous, linear, quadratic, least-squares line of the last 8
	// maxRecordValues bounds frames × (width+1) of a version 3 record,
	// both sides: a record whose columns are all constant costs almost no
	// bytes, so its payload length does not bound what it decodes to.
	maxRecordValues = 1 << 20
	// recordFrames is the most frames the writer puts in one record:
	// about a second at 1 kHz, the most a flipped bit hides.
	recordFrames = 1024
)

// canonicalNaN is the bit pattern of math.NaN(), the NaN of values not known.
var canonicalNaN = math.Float64bits(math.NaN())

// columnCodec maps the values of one column to codes and back.
type columnCodec struct {
	kind   string
	cal    daq.Calibration
	lsb    float64
	c0, c1 float64 // the calibration's first two coefficients
	inv    float64 // 1 / (c1 × lsb): codes per unit of value, near enough
}

func newColumnCodec(c ColumnCoding) columnCodec {
	cc := columnCodec{kind: c.Kind, cal: daq.Calibration{Coeffs: c.Coeffs}, lsb: c.LSB}
	if len(c.Coeffs) > 0 {
		cc.c0 = c.Coeffs[0]
	}
	if len(c.Coeffs) > 1 {
		cc.c1 = c.Coeffs[1]
		cc.inv = 1 / (cc.c1 * cc.lsb)
	}
	return cc
}

// maxExact bounds the codes taken from floats: every integer below it is a
// float64.
const maxExact = 1 << 53

// code returns v's code, or ok false when v must be escaped: the value
// the code maps back to would not be v's 64 bits.
func (cc *columnCodec) code(v float64) (c int64, ok bool) {
	switch cc.kind {
	case CodingInt:
		if !(v > -maxExact && v < maxExact) {
			return 0, false
		}
		c = int64(v)
		return c, math.Float64bits(float64(c)) == math.Float64bits(v)
	case CodingF32:
		f := float32(v)
		if v != v || (f-f != 0 && v-v == 0) { // NaN, or finite beyond float32's range
			return 0, false
		}
		return f32Code(math.Float32bits(f)), true
	}
	return cc.adcCode(v)
}

// adcCode inverts the calibration: the code whose volts Apply maps to v
// bit for bit, if there is one.
func (cc *columnCodec) adcCode(v float64) (int64, bool) {
	if cc.c1 == 0 || v-v != 0 {
		return 0, false
	}
	x := (v - cc.c0) * cc.inv   // within a code of the code; checked below
	if len(cc.cal.Coeffs) > 2 { // Newton's method from the linear guess
		// Until the step is well within a code: far out on a strongly
		// curved calibration the linear guess is many codes off.
		d := daq.Calibration{Coeffs: cc.cal.Coeffs}
		for range 32 {
			volts := x * cc.lsb
			// Rounded here: slope-slope of an unrounded product is its
			// rounding error where the compiler fuses it (arm64), not 0.
			slope := float64(derivative(d.Coeffs, volts) * cc.lsb)
			if slope == 0 || math.IsInf(slope, 0) || math.IsNaN(slope) {
				break
			}
			step := (d.Apply(volts) - v) / slope
			x -= step
			if math.Abs(step) < 0.01 {
				break
			}
		}
	}
	if !(x > -maxExact && x < maxExact) {
		return 0, false
	}
	c := int64(math.Round(x))
	want := math.Float64bits(v)
	for _, k := range [3]int64{c, c - 1, c + 1} {
		if math.Float64bits(cc.value(k)) == want {
			return k, true
		}
	}
	return 0, false
}

// derivative is the polynomial's slope at v.
func derivative(coeffs []float64, v float64) float64 {
	y := 0.0
	for i := len(coeffs) - 1; i >= 1; i-- {
		y = float64(y*v) + float64(float64(i)*coeffs[i])
	}
	return y
}

// value maps a code back to the column's value.
func (cc *columnCodec) value(c int64) float64 {
	switch cc.kind {
	case CodingInt:
		return float64(c)
	case CodingF32:
		return float64(math.Float32frombits(f32Bits(c)))
	}
	return cc.cal.Apply(float64(float64(c) * cc.lsb))
}

// f32Code maps float32 bits to an int that orders as the floats do (-0
// just below +0), so that close values have close codes.
func f32Code(u uint32) int64 {
	s := int32(u)
	if s < 0 {
		s ^= math.MaxInt32
	}
	return int64(s)
}

// f32Bits inverts f32Code (a code out of int32's range wraps: only damage
// makes one, and the CRC has caught that).
func f32Bits(c int64) uint32 {
	s := int32(c)
	if s < 0 {
		s ^= math.MaxInt32
	}
	return uint32(s)
}

// zigzag maps signed residuals to unsigned, small magnitudes to small numbers.
func zigzag(x int64) uint64 { return uint64(x<<1) ^ uint64(x>>63) }

func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

// predict is the prediction of predictor p for value i of codes (wrapping
// arithmetic, the same on both sides). The first value is predicted 0, the
// second by the first; the higher orders fall back to linear while
// history is short.
func predict(p int, codes []int64, i int) int64 {
	switch {
	case i == 0:
		return 0
	case i == 1 || p == 0:
		return codes[i-1]
	case p == 1 || (p == 2 && i == 2):
		return 2*codes[i-1] - codes[i-2]
	case p == 2:
		return 3*codes[i-1] - 3*codes[i-2] + codes[i-3]
	}
	if i < 8 {
		return 2*codes[i-1] - codes[i-2]
	}
	return ls8(codes[i-8 : i])
}

// ls8 extrapolates the least-squares line through the 8 values of h (the
// oldest first) one step on: for a noisy channel it averages the noise
// out and follows the slope. Its weights are (34 − 6k)/56 for the value
// k steps back.
func ls8(h []int64) int64 {
	h = h[:8]
	return (28*h[7] + 22*h[6] + 16*h[5] + 10*h[4] + 4*h[3] - 2*h[2] - 8*h[1] - 14*h[0]) / 56
}

// bitWriter appends bits to a byte slice, least significant first.
type bitWriter struct {
	buf  []byte
	acc  uint64
	nacc uint
}

// write appends the n (≤ 32) low bits of v.
func (w *bitWriter) write(v uint64, n uint) {
	w.acc |= (v & (1<<n - 1)) << w.nacc
	w.nacc += n
	if w.nacc >= 32 {
		w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(w.acc))
		w.acc >>= 32
		w.nacc -= 32
	}
}

// write64 appends the n (≤ 64) low bits of v.
func (w *bitWriter) write64(v uint64, n uint) {
	if n > 32 {
		w.write(v, 32)
		v, n = v>>32, n-32
	}
	w.write(v, n)
}

// finish appends the bits still held, padded with zeros to a byte.
func (w *bitWriter) finish() []byte {
	for w.nacc > 0 {
		w.buf = append(w.buf, byte(w.acc))
		w.acc >>= 8
		w.nacc -= min(w.nacc, 8)
	}
	return w.buf
}

// bitReader reads what bitWriter wrote; reading past the end sets bad.
type bitReader struct {
	b    []byte
	acc  uint64
	nacc uint
	bad  bool
}

// fill tops the accumulator up to at least 57 bits while bytes remain.
func (r *bitReader) fill() {
	if len(r.b) >= 8 && r.nacc <= 56 {
		r.acc |= binary.LittleEndian.Uint64(r.b) << r.nacc
		adv := (64 - r.nacc) / 8
		r.b = r.b[adv:]
		r.nacc += adv * 8
		if r.nacc < 64 { // bits of the byte not taken yet
			r.acc &= 1<<r.nacc - 1
		}
		return
	}
	for r.nacc <= 56 && len(r.b) > 0 {
		r.acc |= uint64(r.b[0]) << r.nacc
		r.b = r.b[1:]
		r.nacc += 8
	}
}

// read returns the next n (≤ 32) bits.
func (r *bitReader) read(n uint) uint64 {
	if r.nacc < n {
		r.fill()
		if r.nacc < n {
			r.bad = true
			return 0
		}
	}
	v := r.acc & (1<<n - 1)
	r.acc >>= n
	r.nacc -= n
	return v
}

// read64 returns the next n (≤ 64) bits.
func (r *bitReader) read64(n uint) uint64 {
	if n <= 32 {
		return r.read(n)
	}
	lo := r.read(32)
	return lo | r.read(n-32)<<32
}

// unary returns the number of one bits before the next zero, at most
// riceLimit (then without consuming a zero).
func (r *bitReader) unary() uint {
	if r.nacc < riceLimit+1 {
		r.fill()
	}
	q := uint(bits.TrailingZeros64(^r.acc))
	if q >= riceLimit {
		r.read(riceLimit)
		return riceLimit
	}
	r.read(q + 1)
	return q
}

// errCoding is a record whose bits do not decode; its CRC held, so a
// writer made it so: damage all the same, never a panic.
var errCoding = errors.New(damageCoding)

// frameEncoder codes records of a segment's frames, column by column; its
// buffers are reused, so that in the steady state it does not allocate.
type frameEncoder struct {
	cols  []columnCodec
	codes []int64                         // one column's codes
	esc   []uint8                         // and its escapes: 0 none, 1+escNaN, 1+escRaw
	res   [predictors][chunkValues]uint64 // a chunk's zigzagged residuals by predictor
	raw   []uint64                        // raw bits of escRaw values, in order
	w     bitWriter
}

func newFrameEncoder(cs []ColumnCoding) *frameEncoder {
	e := &frameEncoder{cols: make([]columnCodec, len(cs))}
	for i, c := range cs {
		e.cols[i] = newColumnCodec(c)
	}
	return e
}

// maxFrames is the most frames of one record.
func (e *frameEncoder) maxFrames() int { return min(recordFrames, maxRecordValues/(len(e.cols)+1)) }

// appendRecord appends to dst one version 3 record of the frames with the
// given times and values (len(times) ≤ maxFrames, width values each).
func (e *frameEncoder) appendRecord(dst []byte, times []time.Duration, values []float64) []byte {
	n, width := len(times), len(e.cols)
	start := len(dst)
	dst = append(dst, recMarker...)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0) // length and CRC, below
	dst = binary.AppendUvarint(dst, uint64(n))
	e.w = bitWriter{buf: dst}
	e.codes, e.esc = grow(e.codes, n), grow(e.esc, n)
	for i, t := range times {
		e.codes[i], e.esc[i] = int64(t), 0
	}
	e.raw = e.raw[:0]
	e.writeColumn(n)
	for j := range width {
		e.codeColumn(j, n, width, values)
		e.writeColumn(n)
	}
	dst = e.w.finish()
	p := dst[start+recHeaderLen:]
	le.PutUint32(dst[start+4:], uint32(len(p)))
	le.PutUint32(dst[start+8:], crc32.Checksum(p, castagnoli))
	return dst
}

// grow returns s with length n, reusing its array when it can.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// codeColumn fills codes and escapes with column j's. An escaped value
// takes the previous code (0 for the first), so that the history every
// predictor sees is known before the predictor is chosen.
func (e *frameEncoder) codeColumn(j, n, width int, values []float64) {
	cc := &e.cols[j]
	e.raw = e.raw[:0]
	prev := int64(0)
	for i := range n {
		v := values[i*width+j]
		c, ok := cc.code(v)
		switch {
		case ok:
			e.esc[i] = 0
			prev = c
		case math.Float64bits(v) == canonicalNaN:
			e.esc[i], c = 1+escNaN, prev
		default:
			e.esc[i], c = 1+escRaw, prev
			e.raw = append(e.raw, math.Float64bits(v))
		}
		e.codes[i] = c
	}
}

// exact returns kZero and the predictor, previous value or linear, that
// predicts every value from .. to (from value 2 on, none escaped)
// exactly, if one does: held columns, flags, times, at a fraction of
// choose's cost.
func (e *frameEncoder) exact(from, to int) (p int, k uint) {
	c, esc := e.codes, e.esc
	held, linear := true, true
	for i := max(from, 2); i < to && (held || linear); i++ {
		if esc[i] != 0 {
			return 0, 0
		}
		d := c[i] - c[i-1]
		held = held && d == 0
		linear = linear && d == c[i-1]-c[i-2]
	}
	switch {
	case held:
		return 0, kZero
	case linear:
		return 1, kZero
	}
	return 0, 0
}

// choose returns the predictor whose residuals of values from .. to
// (from value 2 on, escapes left out) sum least, that sum, and whether
// there are escapes among them; e.res[q] holds the zigzagged residuals
// of predictor q (predict's, inlined), for writeColumn. A residual
// counts at most 2^40 in the sums, which therefore stay exact integers.
func (e *frameEncoder) choose(from, to int) (p int, sum float64, escapes bool) {
	var sums [predictors]uint64
	c, esc := e.codes, e.esc
	r0, r1, r2, r3 := &e.res[0], &e.res[1], &e.res[2], &e.res[3]
	// s0 and s1 are the sums of c[i-k] and of k × c[i-k] for k = 1 .. 8,
	// kept as i moves on: ls8 is (34 s0 − 6 s1) / 56, the same int64 mod
	// 2^64 as its direct sum, so the same quotient.
	var s0, s1 int64
	if from >= 8 {
		for k := 1; k <= 8; k++ {
			s0 += c[from-k]
			s1 += int64(k) * c[from-k]
		}
	}
	for i := max(from, 2); i < to; i++ {
		v, a, b := c[i], c[i-1], c[i-2]
		lin := 2*a - b
		quad, ls := lin, lin
		if i >= 3 {
			quad = 3*a - 3*b + c[i-3]
		}
		if i >= 8 {
			if i == 8 || i == from {
				s0, s1 = 0, 0
				for k := 1; k <= 8; k++ {
					s0 += c[i-k]
					s1 += int64(k) * c[i-k]
				}
			}
			ls = (34*s0 - 6*s1) / 56
			// on to i+1: s1' = c[i] + s1 − 9 c[i−8] + s0, s0' = s0 + c[i] − c[i−8]
			s1 += v + s0 - 9*c[i-8]
			s0 += v - c[i-8]
		}
		k := i - from
		r0[k], r1[k], r2[k], r3[k] = zigzag(v-a), zigzag(v-lin), zigzag(v-quad), zigzag(v-ls)
		if esc[i] != 0 {
			escapes = true
			continue
		}
		const cap = 1 << 40
		sums[0] += min(r0[k], cap)
		sums[1] += min(r1[k], cap)
		sums[2] += min(r2[k], cap)
		sums[3] += min(r3[k], cap)
	}
	for q := 1; q < predictors; q++ {
		if sums[q] < sums[p] {
			p = q
		}
	}
	return p, float64(sums[p]), escapes
}

// riceK is the Rice parameter that codes residuals summing to sum over n
// values in the fewest bits, estimated: each costs about 1 + k + r/2^k.
func riceK(sum float64, n int) uint {
	if n == 0 || sum == 0 {
		return 0
	}
	best, bestCost := uint(0), math.Inf(1)
	for k := uint(0); k < kZero; k++ {
		c := float64(n)*float64(k) + sum/float64(uint64(1)<<k)
		if c < bestCost {
			best, bestCost = k, c
		} else {
			break // convex
		}
	}
	return best
}

// writeColumn writes the column in codes and esc, in chunks of
// chunkValues values, each with its predictor and k: a column's residuals
// change scale within a record (a beat's upstroke, its diastole).
func (e *frameEncoder) writeColumn(n int) {
	w := &e.w
	raw := e.raw
	last := uint64(1 << 8) // no header yet
	for s := 0; s < n; s += chunkValues {
		end := min(s+chunkValues, n)
		p, k := e.exact(s, end)
		if k != kZero {
			var sum float64
			var escapes bool
			p, sum, escapes = e.choose(s, end)
			k = riceK(sum, end-max(s, 2))
			if sum == 0 && !escapes {
				k = kZero
			}
		}
		switch h := uint64(p) | uint64(k)<<2; {
		case s == 0:
			w.write(h, 8)
		case h == last:
			w.write(1, 1)
		default:
			w.write(h<<1, 9)
		}
		last = uint64(p) | uint64(k)<<2
		for i := s; i < end; i++ {
			switch {
			case e.esc[i] != 0:
				if i > 1 {
					w.write(1<<riceLimit-1, riceLimit)
				}
				w.write(uint64(e.esc[i]-1), 2)
				if e.esc[i]-1 == escRaw {
					w.write64(raw[0], 64)
					raw = raw[1:]
				}
			case i < 2:
				writeBig(w, zigzag(e.codes[i]-predict(p, e.codes, i)))
			case k == kZero:
			default:
				r := e.res[p][i-s]
				if q := r >> k; q < riceLimit {
					if n := uint(q) + 1 + k; n <= 32 {
						w.write(1<<q-1|(r&(1<<k-1))<<(q+1), n)
					} else {
						w.write(1<<q-1, uint(q)+1)
						w.write64(r, k)
					}
				} else {
					w.write(1<<riceLimit-1, riceLimit)
					writeBig(w, r)
				}
			}
		}
	}
}

// writeBig writes the escape of a residual r too large for Rice.
func writeBig(w *bitWriter, r uint64) {
	l := uint(bits.Len64(r))
	w.write(escBig|uint64(l)<<2, 9)
	w.write64(r, l)
}

// frameDecoder decodes the records of one version 3 segment into its
// buffers, reused from record to record.
type frameDecoder struct {
	cols   []columnCodec
	times  []time.Duration
	values []float64 // n × width, frame after frame
	codes  []int64
}

func newFrameDecoder(cs []ColumnCoding) *frameDecoder {
	d := &frameDecoder{cols: make([]columnCodec, len(cs))}
	for i, c := range cs {
		d.cols[i] = newColumnCodec(c)
	}
	return d
}

// decode decodes an intact record's payload into times and values and
// returns its frame count, or errCoding.
func (d *frameDecoder) decode(payload []byte) (int, error) {
	width := len(d.cols)
	n64, m := binary.Uvarint(payload)
	if m <= 0 || n64 < 1 || n64 > uint64(maxRecordValues/(width+1)) {
		return 0, errCoding
	}
	n := int(n64)
	d.codes, d.times, d.values = grow(d.codes, n), grow(d.times, n), grow(d.values, n*width)
	r := bitReader{b: payload[m:]}
	if !d.readColumn(&r, n, func(i int, c int64, raw uint64, esc bool) bool {
		d.times[i] = time.Duration(c)
		return !esc
	}) {
		return 0, errCoding
	}
	for j := range width {
		cc := &d.cols[j]
		ok := d.readColumn(&r, n, func(i int, c int64, raw uint64, esc bool) bool {
			if esc {
				d.values[i*width+j] = math.Float64frombits(raw)
			} else {
				d.values[i*width+j] = cc.value(c)
			}
			return true
		})
		if !ok {
			return 0, errCoding
		}
	}
	if len(r.b) > 0 || r.nacc >= 8 { // bytes the columns did not use
		return 0, errCoding
	}
	return n, nil
}

// readColumn reads one column of n values, calling put with each value's
// code, or with its raw bits when it was escaped (put may refuse that).
// It returns false when the bits do not decode.
func (d *frameDecoder) readColumn(r *bitReader, n int, put func(i int, c int64, raw uint64, esc bool) bool) bool {
	var p int
	var k uint
	for i := range n {
		if i%chunkValues == 0 && (i == 0 || r.read(1) == 0) { // 1: as the chunk before
			h := r.read(8)
			p, k = int(h&3), uint(h>>2)
		}
		pr := predict(p, d.codes, i)
		var q uint
		switch {
		case i < 2:
			q = riceLimit
		case k == kZero:
			d.codes[i] = pr
			if !put(i, pr, 0, false) {
				return false
			}
			continue
		default:
			q = r.unary()
		}
		if q < riceLimit {
			d.codes[i] = pr + unzigzag(uint64(q)<<k|r.read64(k))
			if !put(i, d.codes[i], 0, false) {
				return false
			}
			continue
		}
		if !d.readEscape(r, i, pr, put) {
			return false
		}
	}
	return !r.bad
}

// readEscape reads the escape of value i, predicted pr.
func (d *frameDecoder) readEscape(r *bitReader, i int, pr int64, put func(i int, c int64, raw uint64, esc bool) bool) bool {
	prev := int64(0)
	if i > 0 {
		prev = d.codes[i-1]
	}
	switch r.read(2) {
	case escBig:
		l := uint(r.read(7))
		if l > 64 {
			return false
		}
		d.codes[i] = pr + unzigzag(r.read64(l))
		return put(i, d.codes[i], 0, false)
	case escNaN:
		d.codes[i] = prev
		return put(i, prev, canonicalNaN, true)
	case escRaw:
		d.codes[i] = prev
		return put(i, prev, r.read64(64), true)
	}
	return false
}
