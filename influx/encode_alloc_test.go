package influx

import (
	"testing"
	"time"
)

// TestEncodeFrameNoAlloc: encoding a frame allocates nothing once the
// buffer has grown, with the run's start point (which may allocate) in the
// same batch.
func TestEncodeFrameNoAlloc(t *testing.T) {
	e := newLPEncoder(testRunID, "sim", testLayout, nil, testEpoch)
	m := testManifest(testRunID)
	e.runStart(&m)
	values := make([]float64, len(testLayout))
	for j := range values {
		values[j] = testValue(0, j)
	}
	for i := range 1000 { // grow the buffer to a batch
		e.frame(frameTime(i), values)
	}
	e.reset()
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		if e.points >= 1000 {
			e.reset()
		}
		e.frame(frameTime(i)+time.Duration(i), values)
		i++
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per frame, want 0", allocs)
	}
}
