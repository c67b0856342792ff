package influx

import (
	"time"

	"github.com/mockloop/mockloop/internal/frametest"
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

// The frames of the tests, as the record's and the sink's tests make them.
var (
	testValue = frametest.Value
	frameTime = frametest.Time
	fillBlock = frametest.Fill
)
