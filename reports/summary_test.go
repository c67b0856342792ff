package reports

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/mockloop/mockloop/internal/golden"
	"github.com/mockloop/mockloop/runlog"
)

// TestSummaryGolden renders recorded results (a passing run and an aborted
// one with a no-data criterion) and compares with the golden text.
func TestSummaryGolden(t *testing.T) {
	for _, name := range []string{"pass", "aborted"} {
		t.Run(name, func(t *testing.T) {
			res := readResult(t, "testdata/"+name+".result.json")
			var buf bytes.Buffer
			if err := Summary(&buf, res, "demo", []string{"aop", "flow_ao"}); err != nil {
				t.Fatal(err)
			}
			golden.Check(t, "testdata/"+name+".summary.golden", buf.Bytes())
		})
	}
}

// TestSummaryLongRun: the end-of-run summary of a 14-day run (336 hourly
// iterations, 4 criteria each) shows a long loop's first and last
// iteration and one line per criterion as written, not 1,344.
func TestSummaryLongRun(t *testing.T) {
	res := readResult(t, makeLongRecord(t, t.TempDir())+"/result.json")
	var buf bytes.Buffer
	if err := Summary(&buf, res, "endurance-impella-rp", []string{"flow_dut"}); err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(buf.Bytes(), []byte("\n")); n > 20 {
		t.Errorf("the summary has %d lines:\n%s", n, buf.String())
	}
	golden.Check(t, "testdata/longrun.summary.golden", buf.Bytes())
}

// readResult reads a result.json.
func readResult(t *testing.T, path string) *runlog.Result {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var res runlog.Result
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	return &res
}
