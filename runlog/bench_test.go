package runlog

import (
	"testing"
	"time"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/daq"
)

// BenchmarkAppendBlock appends 10-frame blocks of 8 channels (10 ms at
// 1 kHz) and reports the cost and the disk use per frame, segment rotations
// included. "buffered" never syncs (its flush clock stands still): the CPU
// cost of encoding and buffering. "fsync" has a real flush clock and so
// syncs once per second, as a run does; since the benchmark writes far more
// than a second of a real run's data per second, it mostly measures the
// disk's write-back speed.
func BenchmarkAppendBlock(b *testing.B) {
	for _, bc := range []struct {
		name  string
		flush clock.Clock
	}{
		{"buffered", clock.NewVirtual(testEpoch)},
		{"fsync", clock.NewReal()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r, err := Create(b.TempDir(), testManifest(testRunID), []byte(testProtocol), []byte(testRig), bc.flush)
			if err != nil {
				b.Fatal(err)
			}
			blk := fillBlock(daq.NewBlock(len(testLayout), 10), 0, 10)
			b.ReportAllocs()
			blocks := 0
			for b.Loop() {
				if err := r.AppendBlock(blk); err != nil {
					b.Fatal(err)
				}
				for i := range blk.Times {
					blk.Times[i] += 10 * time.Millisecond
				}
				blocks++
			}
			frames := float64(blocks * blk.Len())
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/frames, "ns/frame")
			b.ReportMetric(float64(r.written)/frames, "bytes/frame")
			if err := r.Close(Result{Outcome: OutcomePass}); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkSeal measures what sealing costs at close: hashing a record of
// 64 MiB of frames (about half an hour at 1 kHz, 8 channels) and its other
// files, read back from the files. The sampling loop pays nothing per frame.
func BenchmarkSeal(b *testing.B) {
	r, err := Create(b.TempDir(), testManifest(testRunID), []byte(testProtocol), []byte(testRig), clock.NewVirtual(testEpoch))
	if err != nil {
		b.Fatal(err)
	}
	blk := fillBlock(daq.NewBlock(len(testLayout), 10), 0, 10)
	for r.written < 64<<20 {
		if err := r.AppendBlock(blk); err != nil {
			b.Fatal(err)
		}
		for i := range blk.Times {
			blk.Times[i] += 10 * time.Millisecond
		}
	}
	if err := r.Close(Result{Outcome: OutcomePass}); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(r.written)
	for b.Loop() {
		if _, err := computeSeal(r.Dir(), testRunID, SealedByClose); err != nil {
			b.Fatal(err)
		}
	}
}
