package fidelity

import (
	_ "embed"
	"html/template"
	"io"
	"math"
	"strings"

	"github.com/mockloop/mockloop/reports"
)

//go:embed fidelity.html.tmpl
var htmlSource string

var htmlTmpl = template.Must(template.New("fidelity").Parse(htmlSource))

// htmlGroup is a group's table and plot.
type htmlGroup struct {
	Group
	Plot *plot
}

// WriteHTML writes the report as one self-contained page: no script, no
// request (its Content-Security-Policy forbids any), the plots inline SVG.
func (r *Report) WriteHTML(w io.Writer) error {
	var groups []htmlGroup
	for _, g := range r.Groups() {
		groups = append(groups, htmlGroup{Group: g, Plot: plotOf(g.Results)})
	}
	return htmlTmpl.Execute(w, map[string]any{
		"R": r, "Groups": groups, "Failed": r.Failed(), "Date": r.Date.Format("2006-01-02 15:04 UTC"),
		"Context": ContextOfUse, "Risk": ModelRisk, "LeftOut": LeftOut, "Verification": CodeVerification,
	})
}

// Group is a group of results, as the report shows them.
type Group struct {
	Title   string
	Results []Result
}

// Groups returns the results by group, in the report's order.
func (r *Report) Groups() []Group {
	var out []Group
	for _, title := range Groups() {
		g := Group{Title: title}
		for _, x := range r.Results {
			if x.Group == title {
				g.Results = append(g.Results, x)
			}
		}
		if len(g.Results) > 0 {
			out = append(out, g)
		}
	}
	return out
}

// Notes are the group's rigs and methods, the notes of its runs and its
// tolerances' reasons, each once, in the order of its cases.
func (g Group) Notes() []string {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, x := range g.Results {
		add("Rig " + x.Rig + ": " + x.Method + ".")
		if x.Tol.Why != "" {
			add("Tolerance: " + x.Tol.Why + ".")
		}
		if x.Note != "" {
			add(x.ID + ": " + x.Note + ".")
		}
	}
	return out
}

// plot is a group's plot: per case, the accepted interval as a bar on a
// scale of its own, the published figure as a tick and the simulated
// value as a dot.
type plot struct {
	W, H int
	Rows []plotRow
}

type plotRow struct {
	Y                  int
	Label, Value       string
	X0, BarW, Pub, Sim float64 // px; Pub < 0: a range
	Open               bool    // the bar runs off the scale
	Pass, HasSim       bool
	LoText, HiText     string
	TextY, Y2          int
	LabelW, End        int
	TrackX0, TrackX1   int
}

// Plot geometry, px.
const (
	plotW      = 960
	plotLabelW = 330
	plotRowH   = 20
	plotScaleW = 480
)

// barRows lays out the plot of results: per case, on a scale of its own
// (scale), the accepted interval, the published figure and the simulated
// value as fractions of the row's width — the HTML's and the PDF's plot.
func barRows(rs []Result) []reports.BarRow {
	var out []reports.BarRow
	for _, r := range rs {
		lo, hi := r.Accepted()
		a, b := scale(lo, hi, r.Simulated)
		x := func(v float64) float64 { return math.Round(math.Max(0, math.Min(1, (v-a)/(b-a)))*1000) / 1000 }
		row := reports.BarRow{Label: r.ID, Value: num(r.Simulated, r.Unit), Lo: x(lo), Hi: x(hi), Tick: -1, Dot: -1,
			Open: math.IsInf(lo, -1) || math.IsInf(hi, 1), Pass: r.Pass}
		if !r.Published.IsRange() {
			row.Tick = x(r.Published.Value)
		}
		if !math.IsNaN(r.Simulated) {
			row.Dot = x(r.Simulated)
		}
		out = append(out, row)
	}
	return out
}

// plotOf is the HTML's plot of results, in px.
func plotOf(rs []Result) *plot {
	p := &plot{W: plotW, H: len(rs)*plotRowH + 24}
	px := func(f float64) float64 { return plotLabelW + f*plotScaleW }
	for i, b := range barRows(rs) {
		row := plotRow{
			Y: 12 + i*plotRowH, Label: b.Label, Value: b.Value, X0: px(b.Lo), BarW: (b.Hi - b.Lo) * plotScaleW, Pub: -1,
			Open: b.Open, Pass: b.Pass, HasSim: b.Dot >= 0,
			LabelW: plotLabelW - 8, End: plotLabelW + plotScaleW + 8, TrackX0: plotLabelW, TrackX1: plotLabelW + plotScaleW,
		}
		row.TextY, row.Y2 = row.Y+10, row.Y+14
		if b.Tick >= 0 {
			row.Pub = px(b.Tick)
		}
		if b.Dot >= 0 {
			row.Sim = px(b.Dot)
		}
		p.Rows = append(p.Rows, row)
	}
	return p
}

// scale is the extent a case's row shows: its accepted interval and its
// simulated value with a margin; an open side reaches half the interval's
// bound beyond it (or 1).
func scale(lo, hi, sim float64) (a, b float64) {
	if math.IsInf(lo, -1) {
		lo = hi - math.Max(math.Abs(hi)/2, 1)
	}
	if math.IsInf(hi, 1) {
		hi = lo + math.Max(math.Abs(lo)/2, 1)
	}
	a, b = lo, hi
	if !math.IsNaN(sim) {
		a, b = math.Min(a, sim), math.Max(b, sim)
	}
	m := (b - a) * 0.15
	if m == 0 {
		m = 1
	}
	return a - m, b + m
}

// leftOutText joins LeftOut for the PDF.
func leftOutText() string { return "– " + strings.Join(LeftOut, "\n– ") }
