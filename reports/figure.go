package reports

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/mockloop/mockloop/runlog"
)

// A figure is a plot in data units, drawn by both the HTML (as SVG) and the
// PDF (as vector paths) renderers, so the two show the same thing.
type figure struct {
	Title          string
	XLabel, YLabel string
	X0, X1         float64 // x range, in x units
	Y0, Y1         float64
	XTicks, YTicks []tick
	Series         []series
	Marks          []mark // vertical lines, e.g. step starts
	Dots           []dot  // marked points, e.g. the failed iterations of a criterion
}

// dot is a marked point in data units.
type dot struct {
	X, Y  float64
	Color rgb
}

// tick is an axis tick in data units with its label.
type tick struct {
	V     float64
	Label string
}

// mark is a labelled vertical line at x.
type mark struct {
	X     float64
	Label string
}

// rgb is a colour.
type rgb struct{ R, G, B uint8 }

// hex returns the colour as CSS writes it.
func (c rgb) hex() string {
	const digits = "0123456789abcdef"
	b := []byte{'#', 0, 0, 0, 0, 0, 0}
	for i, v := range []uint8{c.R, c.G, c.B} {
		b[1+2*i], b[2+2*i] = digits[v>>4], digits[v&15]
	}
	return string(b)
}

// palette gives each channel (by layout index) its colour, the same in every
// plot of a report.
var palette = []rgb{
	{0x1f, 0x77, 0xb4}, {0xd6, 0x27, 0x28}, {0x2c, 0xa0, 0x2c}, {0xff, 0x7f, 0x0e}, {0x94, 0x67, 0xbd},
	{0x8c, 0x56, 0x4b}, {0xe3, 0x77, 0xc2}, {0x7f, 0x7f, 0x7f}, {0xbc, 0xbd, 0x22}, {0x17, 0xbe, 0xcf},
}

// channelColor returns the colour of the channel at layout index i.
func channelColor(i int) rgb { return palette[i%len(palette)] }

// pt is a point in data units.
type pt struct{ X, Y float64 }

// bandPt is an envelope column in data units: the range [Lo, Hi] at X.
type bandPt struct{ X, Lo, Hi float64 }

// series is one channel of a figure: polylines, and envelope bands (filled
// between minimum and maximum). Each is split into segments at gaps in the
// data.
type series struct {
	Name  string
	Color rgb
	Lines [][]pt
	Bands [][]bandPt
}

// chanGroup is channels plotted together: those of one unit.
type chanGroup struct {
	Title, Unit string
	Cols        []int // layout indices
}

// channelGroups groups the layout's channels by unit: pressures first, flows
// second, then the other units in layout order. Channels without a unit
// each get a plot of their own, since they need not measure alike.
func channelGroups(layout []runlog.Channel) []chanGroup {
	var gs []chanGroup
	idx := map[string]int{}
	for i, c := range layout {
		if c.Unit == "" {
			gs = append(gs, chanGroup{Title: c.Name, Cols: []int{i}})
			continue
		}
		if g, ok := idx[c.Unit]; ok {
			gs[g].Cols = append(gs[g].Cols, i)
			continue
		}
		idx[c.Unit] = len(gs)
		gs = append(gs, chanGroup{Unit: c.Unit, Cols: []int{i}})
	}
	rank := func(g chanGroup) int {
		switch g.Unit {
		case "mmHg":
			return 0
		case "L/min":
			return 1
		}
		return 2
	}
	// Stable: pressures, flows, the rest in layout order.
	var out []chanGroup
	for r := range 3 {
		for _, g := range gs {
			if rank(g) == r {
				out = append(out, g)
			}
		}
	}
	for i := range out {
		g := &out[i]
		switch {
		case g.Unit == "mmHg":
			g.Title = "Pressures"
		case g.Unit == "L/min":
			g.Title = "Flows"
		case g.Title == "":
			var names []string
			for _, c := range g.Cols {
				names = append(names, layout[c].Name)
			}
			g.Title = strings.Join(names, ", ")
		}
	}
	return out
}

// hemodynamic returns the groups a waveform shows: pressures and flows, or
// the first group if the layout has neither.
func hemodynamic(gs []chanGroup) []chanGroup {
	var out []chanGroup
	for _, g := range gs {
		if g.Unit == "mmHg" || g.Unit == "L/min" {
			out = append(out, g)
		}
	}
	if len(out) == 0 && len(gs) > 0 {
		out = gs[:1]
	}
	return out
}

// waveformFigure draws the channels of g from a fixed envelope at full
// detail: each column contributes its minimum and maximum in the order they
// occurred, so the polyline passes through every peak.
//
// Consecutive columns further apart than gap seconds are not joined: the
// data has a hole there (see gapOf).
func waveformFigure(title string, g chanGroup, env *envelope, layout []runlog.Channel, x0, x1, gap float64) *figure {
	f := &figure{Title: title, XLabel: "t [s]", YLabel: unitLabel(g.Unit)}
	for j, col := range env.cols {
		if !slices.Contains(g.Cols, col) {
			continue
		}
		s := series{Name: layout[col].Name, Color: channelColor(col)}
		var seg []pt
		prev := math.Inf(-1)
		for _, b := range env.buckets(j) {
			if b.T-prev > gap && len(seg) > 0 {
				s.Lines = append(s.Lines, seg)
				seg = nil
			}
			prev = b.T
			if b.Lo == b.Hi {
				seg = append(seg, pt{b.T, b.Lo})
			} else if b.LoT <= b.HiT {
				seg = append(seg, pt{b.T, b.Lo}, pt{b.T, b.Hi})
			} else {
				seg = append(seg, pt{b.T, b.Hi}, pt{b.T, b.Lo})
			}
		}
		if len(seg) > 0 {
			s.Lines = append(s.Lines, seg)
		}
		f.Series = append(f.Series, s)
	}
	f.frame(x0, x1)
	return f
}

// trendFigure draws the channels of g over the whole run from the growing
// envelope: the band between each column's minimum and maximum, and the
// line of its mean. xs is the number of seconds per x unit.
func trendFigure(g chanGroup, env *envelope, layout []runlog.Channel, x0, x1, gap, xs float64, xl string, marks []mark) *figure {
	f := &figure{Title: g.Title, XLabel: xl, YLabel: unitLabel(g.Unit), Marks: marks}
	for j, col := range env.cols {
		if !slices.Contains(g.Cols, col) {
			continue
		}
		s := series{Name: layout[col].Name, Color: channelColor(col)}
		var band []bandPt
		var line []pt
		prev := math.Inf(-1)
		flush := func() {
			if len(band) > 0 {
				s.Bands = append(s.Bands, band)
				s.Lines = append(s.Lines, line)
			}
			band, line = nil, nil
		}
		for _, b := range env.buckets(j) {
			if b.T-prev > gap {
				flush()
			}
			prev = b.T
			band = append(band, bandPt{b.T / xs, b.Lo, b.Hi})
			line = append(line, pt{b.T / xs, b.Mean})
		}
		flush()
		f.Series = append(f.Series, s)
	}
	f.frame(x0/xs, x1/xs)
	return f
}

// gapOf is the distance between columns of env beyond which a plot shows
// a hole in the data: more than one and a half columns, and more than
// two and a half frame periods (columns narrower than the frame period are
// empty between frames without a hole in the data).
func gapOf(env *envelope, rateHz float64) float64 {
	g := 1.5 * env.width()
	if rateHz > 0 {
		g = max(g, 2.5/rateHz)
	}
	return g
}

// frame sets the axes: x over [x0, x1], y over the data padded by 5 % and
// widened to whole ticks.
func (f *figure) frame(x0, x1 float64) {
	if !(x1 > x0) {
		x1 = x0 + 1
	}
	f.X0, f.X1 = x0, x1
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range f.Series {
		for _, seg := range s.Lines {
			for _, p := range seg {
				lo, hi = min(lo, p.Y), max(hi, p.Y)
			}
		}
		for _, seg := range s.Bands {
			for _, p := range seg {
				lo, hi = min(lo, p.Lo), max(hi, p.Hi)
			}
		}
	}
	for _, p := range f.Dots {
		lo, hi = min(lo, p.Y), max(hi, p.Y)
	}
	if math.IsInf(lo, 0) { // no data
		lo, hi = 0, 1
	}
	if hi-lo < 1e-9*max(1, math.Abs(hi)) {
		lo, hi = lo-1, hi+1
	}
	pad := 0.05 * (hi - lo)
	lo, hi = lo-pad, hi+pad
	step := niceStep((hi - lo) / 5)
	f.Y0, f.Y1 = math.Floor(lo/step)*step, math.Ceil(hi/step)*step
	f.YTicks = ticksIn(f.Y0, f.Y1, step)
	f.XTicks = ticksIn(x0, x1, niceStep((x1-x0)/8))
}

// niceStep rounds a tick step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if !(raw > 0) || math.IsInf(raw, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*p*(1+1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// ticksIn returns the multiples of step in [lo, hi] with their labels.
func ticksIn(lo, hi, step float64) []tick {
	dec := max(0, int(-math.Floor(math.Log10(step)+1e-9)))
	var ts []tick
	for k := math.Ceil(lo/step - 1e-9); k*step <= hi+step*1e-9 && len(ts) < 50; k++ {
		v := k * step
		s := strconv.FormatFloat(v, 'f', dec, 64)
		if s == "-0" || strings.TrimLeft(s, "-0.") == "" {
			s = "0"
		}
		ts = append(ts, tick{V: v, Label: s})
	}
	return ts
}

// timeAxis chooses the unit of a time axis spanning span seconds: its
// seconds per unit and label.
func timeAxis(span float64) (float64, string) {
	switch {
	case span <= 300:
		return 1, "t [s]"
	case span <= 3*3600:
		return 60, "t [min]"
	}
	return 3600, "t [h]"
}

// unitLabel labels a y axis with its unit.
func unitLabel(u string) string {
	if u == "" {
		return ""
	}
	return "[" + u + "]"
}
