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

// Heading starts a section.
func (x *Document) Heading(title string) { x.d.heading(title) }

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
