package reports

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/mockloop/mockloop/runlog"
)

// A manifest's calibration fields are whatever its file says (an edited
// or foreign record): the calibration table reads any of them without
// panicking, and shows every field it does not understand.
func FuzzCalDetail(f *testing.F) {
	f.Add([]byte(`{"coeffs":[-1.5,250],"points":[{"volts":0.006,"value":0},{"volts":0.806,"value":200}],"operator":"A","unit":"mmHg"}`))
	f.Add([]byte(`{"coeffs":"x","points":[1,2],"operator":3,"unit":null}`))
	f.Add([]byte(`{"coeffs":[1e308,1e308,1e308],"points":[{"volts":1e308,"value":-1e308}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var fields map[string]any
		if json.Unmarshal(data, &fields) != nil {
			return
		}
		pts, res, op, rest := calDetail(fields, "mmHg")
		if pts == "" || res == "" || op == "" {
			t.Errorf("empty cell: %q %q %q", pts, res, op)
		}
		for k := range fields {
			if k != "points" && k != "coeffs" && k != "operator" && k != "unit" && !strings.Contains(rest, k+": ") {
				t.Errorf("field %q not shown: %q", k, rest)
			}
		}
	})
}

// Step paths and names in a record are whatever its file says: the
// summary of repeated criteria takes any of them apart without panicking.
func FuzzSummarizeCriteria(f *testing.F) {
	f.Add("2[17].1", "hour [#17]", "3[2].1[4]", "hold [flow=2 L/min] [#4]")
	f.Add("[", "]", "[[1]]", " [")
	f.Fuzz(func(t *testing.T, p1, n1, p2, n2 string) {
		v, lo := 1.0, 0.0
		cs := []runlog.CriterionResult{
			{Step: p1, StepName: n1, Measure: "m", Value: &v, Lo: &lo, Verdict: runlog.VerdictPass},
			{Step: p2, StepName: n2, Measure: "m", Value: &v, Lo: &lo, Verdict: runlog.VerdictFail},
			{Step: p1, StepName: n1, Measure: "m", Verdict: runlog.VerdictNoData},
		}
		table, appendix, _ := summarizeCriteria(criteriaRows(cs, nil))
		if len(table) == 0 || len(table) > 3 || len(appendix) > 3 || len(appendix) == 1 {
			t.Errorf("%d rows, %d in the appendix", len(table), len(appendix))
		}
		if figs := critTrends(criteriaRows(cs, nil)); len(figs) > 2 {
			t.Errorf("%d trend plots of at most 2 criteria evaluated more than once", len(figs))
		}
		var s eventSummary // the timeline holds back and counts a loop's middle iterations by the same paths
		for _, p := range []string{p1, p2, p1, p2} {
			s.classify(&runlog.Event{Kind: runlog.KindStepStart, Step: p})
		}
		s.finish()
		if len(s.Timeline)+s.IterationsLeftOut != s.TimelineTotal || s.TimelineTotal != 4 {
			t.Errorf("timeline of %d events: %d listed, %d left out", s.TimelineTotal, len(s.Timeline), s.IterationsLeftOut)
		}
	})
}
