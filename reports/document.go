package reports

import (
	"io"
	"time"
)

// Document is a PDF in the V&V reports' style — A4, the Go fonts
// embedded, a running header and "page N of M" footer, headings,
// paragraphs and tables whose rows never split across pages — for a
// document that is not a run's report (package fidelity's credibility
// report). One home for the PDF machinery: the fidelity report uses this
// rather than a copy.
type Document struct{ d *pdfDoc }

// NewDocument starts a document: its title and subject (metadata), the
// header's left text, its right text coloured by verdict ("pass",
// "fail"), and the footer's text; its first page is begun.
func NewDocument(generated time.Time, title, subject, headLeft, headRight, verdict, foot string) *Document {
	d := newPDFDoc(generated, title, subject, pageText{left: headLeft, right: headRight, verdict: verdict, foot: foot})
	d.f.AddPage()
	return &Document{d}
}

// TextWidth is the width of the text area, mm: what table columns share.
const TextWidth = pdfTextW

// Heading starts a section, on a new page unless keep mm of what follows
// fit below it.
func (x *Document) Heading(title string, keep float64) {
	x.d.need(keep + 16)
	x.d.heading(title)
}

// Para writes a wrapped paragraph.
func (x *Document) Para(s string) { x.d.para(s, false) }

// KeyValues draws a two-column table of labelled values.
func (x *Document) KeyValues(kvs [][2]string) {
	var rows []kv
	for _, e := range kvs {
		rows = append(rows, kv{K: e[0], V: e[1]})
	}
	x.d.kvTable(rows)
}

// Column is a table column: its title, width in mm, right-aligned or not.
type Column struct {
	Title string
	Width float64
	Right bool
}

// Cell is a table cell: text, bold, and a verdict ("pass", "fail") that
// colours it when set.
type Cell struct {
	Text    string
	Bold    bool
	Verdict string
}

// Table draws a table at the small font size, repeating its header row
// on each new page.
func (x *Document) Table(cols []Column, rows [][]Cell) {
	pc := make([]pdfCol, len(cols))
	for i, c := range cols {
		pc[i] = pdfCol{Title: c.Title, W: c.Width, Align: "L"}
		if c.Right {
			pc[i].Align = "R"
		}
	}
	pr := make([][]pdfCell, len(rows))
	for i, row := range rows {
		for _, c := range row {
			cell := pdfCell{Text: c.Text, Bold: c.Bold}
			if c.Verdict != "" {
				cell = verdictCell(c.Text, c.Verdict)
			}
			pr[i] = append(pr[i], cell)
		}
	}
	x.d.table(pc, pr, pdfSmall)
}

// Write writes the document to w.
func (x *Document) Write(w io.Writer) error { return x.d.output(w) }

// BarRow is one row of a bar plot, on a scale of its own: a bar from Lo
// to Hi (pale when Open: it runs on beyond the scale), a tick at Tick
// and a dot at Dot — each a fraction of the row's width, a negative Tick
// or Dot for none — coloured by Pass, with a label before and a value
// after.
type BarRow struct {
	Label, Value string
	Lo, Hi       float64
	Open         bool
	Tick, Dot    float64
	Pass         bool
}

// Bar plot geometry, mm.
const (
	barRowH   = 4.2
	barLabelW = 62.0
	barW      = 85.0
)

// BarPlotHeight is the height of a bar plot of n rows, mm.
func BarPlotHeight(n int) float64 { return float64(n)*barRowH + 4 }

// BarPlot draws rows as a bar plot (package fidelity: each case's
// accepted range, published figure and simulated value), kept on a page.
func (x *Document) BarPlot(rows []BarRow) {
	d, f := x.d, x.d.f
	d.need(BarPlotHeight(len(rows)))
	y := f.GetY() + 1
	x0 := pdfLeft + barLabelW
	for _, r := range rows {
		d.font(false, pdfSmall-0.6)
		f.SetXY(pdfLeft, y)
		f.CellFormat(barLabelW-2, barRowH, d.text(r.Label), "", 0, "R", false, 0, "")
		f.SetDrawColor(0xe2, 0xe2, 0xea)
		f.SetLineWidth(0.2)
		f.Line(x0, y+barRowH/2, x0+barW, y+barRowH/2)
		if r.Open {
			f.SetFillColor(0xd7, 0xee, 0xd8)
		} else {
			f.SetFillColor(0xa5, 0xd6, 0xa7)
		}
		f.Rect(x0+r.Lo*barW, y+0.5, (r.Hi-r.Lo)*barW, barRowH-1, "F")
		if r.Tick >= 0 {
			f.SetDrawColor(0x1b, 0x1b, 0x1b)
			f.SetLineWidth(0.4)
			f.Line(x0+r.Tick*barW, y+0.3, x0+r.Tick*barW, y+barRowH-0.3)
		}
		if r.Dot >= 0 {
			c := outcomeColor("fail")
			if r.Pass {
				c = outcomeColor("pass")
			}
			f.SetFillColor(int(c.R), int(c.G), int(c.B))
			f.Circle(x0+r.Dot*barW, y+barRowH/2, 1.1, "F")
		}
		f.SetXY(x0+barW+2, y)
		f.CellFormat(pdfTextW-barLabelW-barW-2, barRowH, d.text(r.Value), "", 0, "L", false, 0, "")
		y += barRowH
	}
	f.SetY(y + 3)
}
