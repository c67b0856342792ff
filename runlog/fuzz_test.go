package runlog

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"testing"
	"time"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/internal/golden"
)

// seedSegments are the seed corpus of FuzzReadSegment: a small valid
// segment of 2 channels, and damaged variants of it.
func seedSegments(t testing.TB) map[string][]byte {
	t.Helper()
	m := testManifest(testRunID)
	m.Layout = []Channel{{Name: "aop", Unit: "mmHg"}, {Name: "q_ao", Unit: "L/min"}}
	r, err := Create(t.TempDir(), m, nil, nil, clock.NewVirtual(testEpoch))
	if err != nil {
		t.Fatal(err)
	}
	// Exact values, not testValue: the corpus must be the same bytes on
	// every platform, and arm64 may fuse the multiply-adds of math.Sin.
	r.recFrames = 4
	b := daq.NewBlock(2, 4)
	v2, err := appendSegmentHeaderVersion(nil, segHeader{RunID: m.RunID, Seq: 1, Channels: m.Layout}, segVersion2)
	if err != nil {
		t.Fatal(err)
	}
	for k := range 3 {
		b.Reset()
		for i := 4 * k; i < 4*k+4; i++ {
			v := b.Append(frameTime(i))
			v[0], v[1] = 80+float64(i)/4, -float64(i)/8
		}
		if err := r.AppendBlock(b); err != nil {
			t.Fatal(err)
		}
		v2 = appendRecordV2(v2, b.Times, b.Values)
	}
	if err := r.Close(Result{Outcome: OutcomePass}); err != nil {
		t.Fatal(err)
	}
	valid, err := os.ReadFile(segmentPaths(t, r.Dir())[0])
	if err != nil {
		t.Fatal(err)
	}
	hdr := len(r.segHdr)
	flipped := bytes.Clone(valid)
	flipped[hdr+(len(valid)-hdr)/2] ^= 1
	badHeader := bytes.Clone(valid)
	badHeader[20] ^= 1
	return map[string][]byte{
		"valid":       valid,
		"torn":        valid[:len(valid)-7],
		"bitflip":     flipped,
		"header-only": valid[:hdr],
		"header-torn": valid[:hdr-3],
		"bad-header":  badHeader,
		"zero-tail":   append(bytes.Clone(valid), make([]byte, 64)...),
		"empty":       {},
		"v2-valid":    v2, // a segment of format version 2, as written before
	}
}

// The seed corpus in testdata/fuzz is generated; -update rewrites it.
func TestFuzzSeedCorpus(t *testing.T) {
	for name, data := range seedSegments(t) {
		golden.Check(t, "testdata/fuzz/FuzzReadSegment/"+name, fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", data))
	}
}

// FuzzDecodeRecord feeds arbitrary payloads to the version 3 record
// decoder, as if their CRC held, for columns of every coding: it must not
// panic, and what it accepts has at most maxRecordValues values.
func FuzzDecodeRecord(f *testing.F) {
	cs := []ColumnCoding{{Kind: CodingADC, LSB: 1.2 / (1 << 23), Coeffs: []float64{-1.5, 250}},
		{Kind: CodingInt}, {Kind: CodingF32}, {Kind: CodingADC, LSB: 1e-3, Coeffs: []float64{0.5, 2, 0.01}}}
	e := newFrameEncoder(cs)
	b := daq.NewBlock(len(cs), 50)
	for i := range 50 {
		v := b.Append(frameTime(i))
		v[0] = cs[0].Coeffs[0] + cs[0].Coeffs[1]*float64(i*1000)*cs[0].LSB
		v[1], v[2], v[3] = float64(i/10), float64(i)/3, float64(i)
	}
	b.Frame(7)[0], b.Frame(8)[1], b.Frame(9)[2] = math.NaN(), math.Inf(1), math.Copysign(0, -1)
	rec := e.appendRecord(nil, b.Times, b.Values)
	f.Add(rec[recHeaderLen:])
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, payload []byte) {
		d := newFrameDecoder(cs)
		n, err := d.decode(payload)
		if err != nil {
			return
		}
		if n < 1 || n*(len(cs)+1) > maxRecordValues || len(d.times) != n || len(d.values) != n*len(cs) {
			t.Fatalf("%d frames, %d times, %d values", n, len(d.times), len(d.values))
		}
	})
}

// FuzzReadSegment feeds arbitrary bytes to the segment reader: it must not
// panic, every frame it returns must have the header's width, and the part
// it calls intact must read back the same on its own.
func FuzzReadSegment(f *testing.F) {
	for _, data := range seedSegments(f) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var (
			n          int64
			last       time.Duration
			minW, maxW = 1 << 30, -1
		)
		sc, err := scanSegment(bytes.NewReader(data), int64(len(data)), nil, func(ts time.Duration, v []float64) error {
			n++
			last = ts
			minW, maxW = min(minW, len(v)), max(maxW, len(v))
			return nil
		})
		if err != nil {
			t.Fatalf("error from in-memory data: %v", err)
		}
		if n != sc.frames {
			t.Fatalf("%d frames delivered, %d counted", n, sc.frames)
		}
		if sc.width != len(sc.header.Channels) {
			t.Fatalf("width %d, header has %d channels", sc.width, len(sc.header.Channels))
		}
		if n > 0 && (minW != sc.width || maxW != sc.width) {
			t.Fatalf("frames of %d to %d values, header has %d channels", minW, maxW, sc.width)
		}
		if n > 0 && sc.lastT != last {
			t.Fatalf("lastT %v, last frame at %v", sc.lastT, last)
		}
		// Damage lies inside the data, in order, and what is not damage
		// was read: the records read and the damage cover the segment.
		end := int64(0)
		for _, d := range sc.damage {
			if d.off < end || d.n <= 0 || d.off+d.n > int64(len(data)) {
				t.Fatalf("damage %+v after %d, in %d bytes", d, end, len(data))
			}
			end = d.off + d.n
		}
		// The data with its damaged parts removed is a clean segment with
		// the same frames.
		if len(sc.damage) > 0 && sc.damage[0].off > 0 {
			var clean []byte
			at := int64(0)
			for _, d := range sc.damage {
				clean = append(clean, data[at:d.off]...)
				at = d.off + d.n
			}
			clean = append(clean, data[at:]...)
			again, err := scanSegment(bytes.NewReader(clean), int64(len(clean)), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if again.frames != sc.frames || again.records != sc.records || len(again.damage) != 0 {
				t.Fatalf("without its damage: %d frames in %d records, damage %+v; first read %d in %d",
					again.frames, again.records, again.damage, sc.frames, sc.records)
			}
		}
	})
}
