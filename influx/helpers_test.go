package influx

import (
	"math"
	"time"

	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/runlog"
)

// The test run: the sink's tests write real run records, which gaps and
// replays are re-read from.
const testRunID = "20261120T231502Z-7f3a9c"

var testEpoch = time.Date(2026, 11, 20, 23, 15, 2, 123456789, time.UTC)

var testLayout = []runlog.Channel{
	{Name: "lvp", Unit: "mmHg"},
	{Name: "aop", Unit: "mmHg"},
	{Name: "lap", Unit: "mmHg"},
	{Name: "q_ao", Unit: "L/min"},
	{Name: "q_dut", Unit: "L/min"},
	{Name: "temp", Unit: "°C"},
	{Name: "dut.rpm", Unit: "rpm"},
	{Name: "dut.current", Unit: "mA"},
}

const (
	testProtocol = "name: hemodynamic baseline\nsteps:\n  - hold: {aop: 80 mmHg, for: 30 s}\n"
	testRig      = "name: sim\nsample_rate: 1 kHz\n"
)

// testManifest is the manifest of a test run with id.
func testManifest(id string) runlog.Manifest {
	return runlog.Manifest{
		RunID:        id,
		Rig:          "sim",
		Protocol:     runlog.ProtocolRef{Name: "hemodynamic baseline", File: "configs/protocols/baseline.yaml"},
		Operator:     "ci",
		Started:      testEpoch,
		Layout:       testLayout,
		SampleRateHz: 1000,
		Clock:        runlog.ClockVirtual,
		Epoch:        testEpoch,
	}
}

// testValue is the value of channel j of the frame at i, varied in sign and
// magnitude so that float32 rounding is exercised.
func testValue(i, j int) float64 {
	return math.Sin(float64(i)*0.01+float64(j)) * math.Pow(10, float64(j%5)-1)
}

// frameTime is the timestamp of frame i: 1 kHz with a little jitter, so
// that offsets are not all multiples of a millisecond.
func frameTime(i int) time.Duration {
	return time.Duration(i)*time.Millisecond + time.Duration(i%7)*13
}

// fillBlock fills b with frames from..from+n using frameTime and testValue.
func fillBlock(b *daq.Block, from, n int) *daq.Block {
	b.Reset()
	for i := from; i < from+n; i++ {
		v := b.Append(frameTime(i))
		for j := range v {
			v[j] = testValue(i, j)
		}
	}
	return b
}
