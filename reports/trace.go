package reports

import (
	"fmt"
	"strings"

	"github.com/mockloop/mockloop/runlog"
)

// alwaysStep is the step path the engine gives always-invariants.
const alwaysStep = "always"

// critRow is one evaluated criterion as the criteria table shows it.
type critRow struct {
	N        int    // 1-based, in evaluation order
	ReqID    string // requirement id, may be empty
	Name     string // criterion name, may be empty
	Label    string // ReqID, else Name, else "-"
	InCat    bool   // ReqID is in the protocol's catalogue
	Step     string // "2 afterload doubled", "always (whole run)"
	Path     string // step path as recorded
	StepName string
	Measure  string // with the window: "mean(aop) over last 10 s"
	Value    string // with unit, "-" without data
	Limits   string
	Verdict  string // pass, fail, warn, no-data
	OnFail   string
	Reason   string
	Iter     int // k for the k-th evaluation of the same criterion in a repeated step; 1 otherwise
	Repeats  bool
	c        *runlog.CriterionResult

	// Timed says StartS and EndS are known: the start and end of the
	// step execution the criterion was evaluated in, on the run clock
	// (timeCriteria).
	Timed        bool
	StartS, EndS float64

	// Summary marks a row summarising every evaluation of a criterion
	// evaluated more than once (summarizeCriteria): its Value says how
	// they went.
	Summary bool
}

// stepLabel is how the reports name the step of a criterion.
func stepLabel(path, name string) string {
	switch path {
	case "":
		return "run"
	case alwaysStep:
		return "always (whole run)"
	}
	if name == "" {
		return path
	}
	return path + " " + name
}

// critKey identifies the same criterion across repeated executions of its
// step.
func critKey(c *runlog.CriterionResult) string {
	return strings.Join([]string{c.Step, c.StepName, c.ID, c.Name, c.Measure, c.Over, c.Limits}, "\x00")
}

// criteriaRows makes the rows of the criteria table, in evaluation order.
func criteriaRows(cs []runlog.CriterionResult, catalogue map[string]bool) []critRow {
	rows := make([]critRow, len(cs))
	seen := map[string]int{}
	for i := range cs {
		c := &cs[i]
		key := critKey(c)
		seen[key]++
		label := c.ID
		if label == "" {
			label = orDash(c.Name)
		}
		measure := c.Measure
		if c.Over != "" {
			measure += " over " + c.Over
		}
		value := "-"
		if c.Value != nil {
			value = withUnit(valueText(*c.Value, c.Lo, c.Hi), c.Unit)
		}
		rows[i] = critRow{
			N: i + 1, ReqID: c.ID, Name: c.Name, Label: label, InCat: c.ID != "" && catalogue[c.ID],
			Step: stepLabel(c.Step, c.StepName), Path: c.Step, StepName: c.StepName,
			Measure: measure, Value: value, Limits: orDash(c.Limits), Verdict: string(c.Verdict),
			OnFail: c.OnFail, Reason: c.Reason, Iter: seen[key], c: c,
		}
	}
	for i := range rows {
		rows[i].Repeats = seen[critKey(rows[i].c)] > 1
	}
	return rows
}

// traceCrit is one criterion under a requirement of the traceability
// matrix: every evaluation of it, counted by verdict.
type traceCrit struct {
	Step    string
	Measure string
	Limits  string
	Evals   int
	Counts  string // "3 pass, 1 fail"
	Verdict string // the worst verdict of its evaluations
	Rows    string // criteria table row numbers: "4, 9, 14"
}

// traceReq is one row of the traceability matrix.
type traceReq struct {
	ID       string
	Text     string
	Criteria []traceCrit
	Status   string // "pass", "pass with warnings", "fail", "no data", "not tested"
	Flag     string // why this row needs attention, or ""
}

// traceView is the traceability matrix: the protocol's catalogue, then the
// criteria that trace to no catalogue entry.
type traceView struct {
	NoCatalogue bool       // the protocol declares no requirements
	Reqs        []traceReq // catalogue order
	Unknown     []traceReq // ids used by criteria but not in the catalogue
	Untraced    []traceReq // one row with the criteria that have no id
	Flags       int        // rows flagged
}

// verdictRank orders verdicts from best to worst, for the worst of a set.
func verdictRank(v string) int {
	switch v {
	case string(runlog.VerdictPass), string(runlog.VerdictSuperseded): // superseded: a later attempt's verdict counts
		return 0
	case string(runlog.VerdictWarn), string(runlog.VerdictMarginal):
		return 1
	case string(runlog.VerdictNoData):
		return 2
	case string(runlog.VerdictFail):
		return 3
	}
	return 4
}

// traceability builds the matrix from the catalogue and the criteria rows.
func traceability(cat []runlog.Requirement, rows []critRow) traceView {
	tv := traceView{NoCatalogue: len(cat) == 0}
	byID := map[string][]*critRow{}
	var ids []string // ids in first-use order
	var noID []*critRow
	for i := range rows {
		r := &rows[i]
		if r.ReqID == "" {
			noID = append(noID, r)
			continue
		}
		if _, ok := byID[r.ReqID]; !ok {
			ids = append(ids, r.ReqID)
		}
		byID[r.ReqID] = append(byID[r.ReqID], r)
	}
	inCat := map[string]bool{}
	for _, q := range cat {
		inCat[q.ID] = true
		tr := traceReq{ID: q.ID, Text: q.Text, Criteria: groupCrit(byID[q.ID])}
		tr.Status = reqStatus(tr.Criteria)
		if len(tr.Criteria) == 0 {
			tr.Flag = "no criterion evaluated this requirement"
		}
		tv.Reqs = append(tv.Reqs, tr)
	}
	for _, id := range ids {
		if inCat[id] {
			continue
		}
		tr := traceReq{ID: id, Criteria: groupCrit(byID[id]), Flag: "not in the protocol's requirements catalogue"}
		tr.Status = reqStatus(tr.Criteria)
		tv.Unknown = append(tv.Unknown, tr)
	}
	if len(noID) > 0 {
		tr := traceReq{Criteria: groupCrit(noID), Flag: "criteria without a requirement id"}
		tr.Status = reqStatus(tr.Criteria)
		tv.Untraced = append(tv.Untraced, tr)
	}
	for _, set := range [][]traceReq{tv.Reqs, tv.Unknown, tv.Untraced} {
		for _, r := range set {
			if r.Flag != "" {
				tv.Flags++
			}
		}
	}
	return tv
}

// groupCrit is the traceability rows of the criteria (groupRows: every
// iteration of a loop is the same criterion), in order of first
// evaluation: their evaluations counted by verdict in the order the
// verdicts first came, the worst verdict, and the row numbers.
func groupCrit(rows []*critRow) []traceCrit {
	var out []traceCrit
	for _, g := range groupRows(rows) {
		r := g.rows[0]
		p, n, _ := written(r.c.Step, r.c.StepName)
		label := stepLabel(p, n)
		if r.ReqID != "" && r.Name != "" {
			label += " — " + r.Name
		} else if r.ReqID == "" {
			label += " — " + r.Label
		}
		var parts, nums []string
		seen := map[string]bool{}
		for _, e := range g.rows {
			if !seen[e.Verdict] {
				seen[e.Verdict] = true
				parts = append(parts, fmt.Sprintf("%d %s", g.counts[e.Verdict], e.Verdict))
			}
			nums = append(nums, fmt.Sprint(e.N))
		}
		out = append(out, traceCrit{Step: label, Measure: r.Measure, Limits: r.Limits, Evals: len(g.rows),
			Counts: strings.Join(parts, ", "), Verdict: g.verdict, Rows: compactNums(nums)})
	}
	return out
}

// compactNums lists row numbers, eliding the middle of long lists: a
// criterion of a step repeated for 24 h has thousands.
func compactNums(nums []string) string {
	if len(nums) > 8 {
		return strings.Join(nums[:3], ", ") + fmt.Sprintf(", … (%d more) …, ", len(nums)-6) + strings.Join(nums[len(nums)-3:], ", ")
	}
	return strings.Join(nums, ", ")
}

// reqStatus is a requirement's status from its criteria's worst verdicts.
func reqStatus(cs []traceCrit) string {
	if len(cs) == 0 {
		return "not tested"
	}
	worst := 0
	for _, c := range cs {
		worst = max(worst, verdictRank(c.Verdict))
	}
	switch worst {
	case 0:
		return "pass"
	case 1:
		return "pass with warnings"
	case 2:
		return "no data"
	case 3:
		return "fail"
	}
	return "unknown verdict"
}
