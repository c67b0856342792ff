package fidelity

import (
	"fmt"
	"io"

	"github.com/mockloop/mockloop/reports"
)

// WritePDF writes the report as PDF with the V&V reports' machinery: the
// same sections as the HTML, a table per group.
func (r *Report) WritePDF(w io.Writer) error {
	v, title := "fail", fmt.Sprintf("%d of %d cases fail", r.Failed(), len(r.Results))
	if r.Pass() {
		v, title = "pass", fmt.Sprintf("all %d cases pass", len(r.Results))
	}
	date := r.Date.Format("2006-01-02 15:04 UTC")
	d := reports.NewDocument(r.Date, "Simulator credibility report — mockloop "+r.Version+" — "+title, "mockloop fidelity",
		"Simulator credibility report — mockloop "+r.Version, title, v, "Generated "+date+" by mockloop fidelity")
	d.Heading("Simulator credibility report", 0)
	d.KeyValues([][2]string{{"Verdict", title}, {"Software", "mockloop " + r.Version}, {"Date", date}})
	d.Heading("Context of use", 0)
	d.Para(ContextOfUse)
	d.Heading("Model risk", 0)
	d.Para(ModelRisk)
	d.Heading("What the model leaves out", 0)
	d.Para(leftOutText())
	d.Heading("Code verification", 0)
	d.Para(CodeVerification)
	cols := []reports.Column{{Title: "case", Width: 54}, {Title: "published", Width: 28, Right: true}, {Title: "simulated", Width: 20, Right: true},
		{Title: "error", Width: 18, Right: true}, {Title: "tolerance", Width: 20, Right: true}, {Title: "verdict", Width: 13},
		{Title: "source", Width: reports.TextWidth - 153}}
	for _, g := range r.Groups() {
		d.Heading(g.Title, reports.BarPlotHeight(len(g.Results)))
		d.BarPlot(barRows(g.Results))
		var rows [][]reports.Cell
		for _, x := range g.Results {
			verdict := "pass"
			if !x.Pass {
				verdict = "fail"
			}
			rows = append(rows, []reports.Cell{{Text: x.ID + "\n" + x.What}, {Text: x.PublishedText()}, {Text: x.SimulatedText()},
				{Text: x.ErrorText()}, {Text: x.ToleranceText()}, {Text: verdict, Verdict: verdict}, {Text: x.Source}})
		}
		d.Table(cols, rows)
		for _, n := range g.Notes() {
			d.Para(n)
		}
	}
	return d.Write(w)
}

// Failed counts the failed cases.
func (r *Report) Failed() int {
	n := 0
	for _, x := range r.Results {
		if !x.Pass {
			n++
		}
	}
	return n
}
