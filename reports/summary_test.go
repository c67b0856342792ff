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
			data, err := os.ReadFile("testdata/" + name + ".result.json")
			if err != nil {
				t.Fatal(err)
			}
			var res runlog.Result
			if err := json.Unmarshal(data, &res); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := Summary(&buf, &res, "demo", []string{"aop", "flow_ao"}); err != nil {
				t.Fatal(err)
			}
			golden.Check(t, "testdata/"+name+".summary.golden", buf.Bytes())
		})
	}
}
