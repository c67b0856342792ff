package reports

import (
	_ "embed" // the HTML template
	"fmt"
	"html/template"
	"io"
	"math"
	"strconv"
	"strings"
)

//go:embed report.html.tmpl
var htmlSource string

// htmlTemplate is the report's template. html/template escapes every value
// for its context (text, attribute), so nothing in a record — a protocol
// name, an event message, a DUT's reply — can inject markup.
var htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"svg":         svgOf,
	"svgsmall":    func(f *figure) *svgFig { return svgSized(f, svgSmallW, svgSmallH) },
	"trendstitle": func() string { return critTrendsTitle },
	"appxnote":    func() string { return appendixNote },
	"verdict":     verdictClass,
	"upper":       strings.ToUpper,
	"sumnote":     func() string { return critSummaryNote },
}).Parse(htmlSource))

// WriteHTML writes the report as one self-contained HTML file: inline CSS,
// inline SVG plots, no script, and a Content-Security-Policy that forbids
// the browser to fetch anything.
func (r *Report) WriteHTML(w io.Writer) error {
	if err := htmlTemplate.Execute(w, r.view()); err != nil {
		return fmt.Errorf("reports: html: %w", err)
	}
	return nil
}

// writeHTMLSection renders one named section of the HTML template (e.g.
// "criteria"), for golden tests of the tables people sign.
func (r *Report) writeHTMLSection(w io.Writer, name string) error {
	return htmlTemplate.ExecuteTemplate(w, name, r.view())
}

// verdictClass maps a verdict or outcome to its CSS class.
func verdictClass(v string) string {
	switch v {
	case "pass":
		return "ok"
	case "pass with warnings", "warn", "marginal":
		return "warn"
	case "fail", "aborted", "no-data", "no data", "not tested", "timeout":
		return "bad"
	}
	return "other"
}

// SVG geometry of a plot, in CSS pixels.
const (
	svgW      = 1000.0
	svgH      = 260.0
	svgLeft   = 62.0
	svgRight  = 24.0
	svgTop    = 30.0
	svgBottom = 38.0

	svgSmallW = 520.0 // a criterion's trend plot, two to a row
	svgSmallH = 210.0
)

// svgFig is a figure mapped to SVG coordinates, as the template draws it.
type svgFig struct {
	W, H           float64
	L, R, T, B     float64 // plot area edges
	PW, PH         float64 // plot area size
	Title          string
	XLabel, YLabel string
	XTicks, YTicks []svgTick
	Bands, Lines   []svgShape
	Marks          []svgTick
	Legend         []svgTick
	Dots           []svgDot
}

// svgDot is a marked point.
type svgDot struct {
	X, Y  float64
	Color string
}

// svgTick is a positioned label; Color only for legends.
type svgTick struct {
	P     float64
	Label string
	Color string
}

// svgShape is a polyline or polygon.
type svgShape struct {
	Color  string
	Points string
}

// svgOf maps a figure to SVG coordinates, across the page.
func svgOf(f *figure) *svgFig { return svgSized(f, svgW, svgH) }

// svgSized maps a figure to SVG coordinates in a plot w by h.
func svgSized(f *figure, w, h float64) *svgFig {
	s := &svgFig{W: w, H: h, L: svgLeft, R: w - svgRight, T: svgTop, B: h - svgBottom,
		Title: f.Title, XLabel: f.XLabel, YLabel: f.YLabel}
	s.PW, s.PH = s.R-s.L, s.B-s.T
	x := func(v float64) float64 { return s.L + (v-f.X0)/(f.X1-f.X0)*(s.R-s.L) }
	y := func(v float64) float64 { return s.B - (v-f.Y0)/(f.Y1-f.Y0)*(s.B-s.T) }
	for _, t := range f.XTicks {
		s.XTicks = append(s.XTicks, svgTick{P: round1(x(t.V)), Label: t.Label})
	}
	for _, t := range f.YTicks {
		s.YTicks = append(s.YTicks, svgTick{P: round1(y(t.V)), Label: t.Label})
	}
	for _, m := range f.Marks {
		if m.X >= f.X0 && m.X <= f.X1 {
			s.Marks = append(s.Marks, svgTick{P: round1(x(m.X)), Label: m.Label})
		}
	}
	var b strings.Builder
	coord := func(px, py float64) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatFloat(px, 'f', 1, 64))
		b.WriteByte(',')
		b.WriteString(strconv.FormatFloat(py, 'f', 1, 64))
	}
	lx := s.R
	for i := len(f.Series) - 1; i >= 0; i-- { // legend right-aligned, in series order
		sr := f.Series[i]
		lx -= 14 + 7*float64(len([]rune(sr.Name)))
		s.Legend = append([]svgTick{{P: round1(lx), Label: sr.Name, Color: sr.Color.hex()}}, s.Legend...)
	}
	for _, sr := range f.Series {
		for _, band := range sr.Bands {
			b.Reset()
			for _, p := range band {
				coord(x(p.X), y(p.Hi))
			}
			for i := len(band) - 1; i >= 0; i-- {
				coord(x(band[i].X), y(band[i].Lo))
			}
			s.Bands = append(s.Bands, svgShape{Color: sr.Color.hex(), Points: b.String()})
		}
	}
	for _, sr := range f.Series {
		for _, line := range sr.Lines {
			b.Reset()
			for _, p := range line {
				coord(x(p.X), y(p.Y))
			}
			if len(line) == 1 { // a lone point: a short stub, so it shows
				coord(x(line[0].X)+1, y(line[0].Y))
			}
			s.Lines = append(s.Lines, svgShape{Color: sr.Color.hex(), Points: b.String()})
		}
	}
	for _, d := range f.Dots {
		s.Dots = append(s.Dots, svgDot{X: round1(x(d.X)), Y: round1(y(d.Y)), Color: d.Color.hex()})
	}
	return s
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }
