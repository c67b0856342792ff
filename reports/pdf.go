package reports

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/go-pdf/fpdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/gomono"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/sfnt"
)

// The PDF is made with github.com/go-pdf/fpdf, a pure-Go generator with no
// dependencies (it runs on the Raspberry Pi at the end of every run), and
// the Go fonts, embedded as subsets so that mmHg·s/ml, °C, ± and ≤ render in
// any viewer and on paper. Plots are vector paths.

// Page geometry, in mm (A4 portrait).
const (
	pdfPageW   = 210.0
	pdfPageH   = 297.0
	pdfLeft    = 15.0
	pdfRight   = 15.0
	pdfTop     = 22.0 // below the running header
	pdfBottom  = 16.0 // above the footer
	pdfTextW   = pdfPageW - pdfLeft - pdfRight
	pdfBody    = 8.5 // font sizes, pt
	pdfSmall   = 7.2
	pdfHeading = 12.0
	pdfPad     = 1.0 // cell padding, mm
	pdfMaxRows = 40  // text lines a table cell shows at most
)

// Font families as registered with fpdf.
const (
	fontSans = "gosans"
	fontMono = "gomono"
)

// glyphs knows which runes a font has, so that text is never drawn with a
// glyph the font lacks (an empty box in print).
type glyphs struct {
	once sync.Once
	ttf  []byte
	f    *sfnt.Font
	mu   sync.Mutex
	has  map[rune]bool
}

var (
	sansGlyphs = &glyphs{ttf: goregular.TTF}
	monoGlyphs = &glyphs{ttf: gomono.TTF}
)

// clean returns s with every rune the font lacks replaced: a look-alike
// where there is one, else '?'. Control characters become spaces.
func (g *glyphs) clean(s string) string {
	g.once.Do(func() {
		g.f, _ = sfnt.Parse(g.ttf)
		g.has = map[rune]bool{}
	})
	ok := true
	for _, r := range s {
		if r < 0x20 || r > 0x7e { // not printable ASCII, which every font has
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	var buf sfnt.Buffer
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n':
			return r // kept: split lines at it
		case r == '\t' || r == '\r':
			return ' '
		case r < 0x20 || r == 0x7f:
			return -1
		case r < 0x7f:
			return r
		}
		has, seen := g.has[r]
		if !seen {
			i, err := g.f.GlyphIndex(&buf, r)
			has = err == nil && i != 0 && r <= 0xffff
			g.has[r] = has
		}
		if has {
			return r
		}
		switch r {
		case '\u2009', '\u202f', '\u00a0':
			return ' '
		case '\u2212':
			return '-'
		case '\u2691':
			return '!'
		}
		return '?'
	}, s)
}

// pdfDoc draws the report on an fpdf document, handling page breaks itself
// so that table rows and plots are never split across pages.
type pdfDoc struct {
	f       *fpdf.Fpdf
	v       *view
	page    pageText
	section string // the current section's title, repeated on continuation pages
}

// pageText is what every page's header and footer say: the document on
// the left, its identity and verdict on the right (coloured by verdict),
// and the footer's origin.
type pageText struct {
	left, right, verdict, foot string
	// alert, if set, replaces left, in red: INTEGRITY FAILED.
	alert string
	// dev, if set, replaces foot, in red: DEVELOPMENT BUILD.
	dev string
}

// WritePDF writes the report as PDF for signature: A4, the content of the
// HTML report, with a header carrying the run id and outcome and a footer
// with "page N of M" on every page.
func (r *Report) WritePDF(w io.Writer) error {
	v := r.view()
	d := newPDFDoc(r.Generated, "V&V report "+v.RunID+" — "+v.Protocol+" — "+v.OutcomeTitle, "mockloop run "+v.RunID, pageText{
		left:    "V&V report — protocol " + v.Protocol,
		right:   "Run " + v.RunID + " — " + v.OutcomeTitle,
		verdict: v.Outcome,
		foot:    "Generated " + v.Generated + " by mockloop from " + v.Source,
	})
	if len(v.IntegrityFailed) > 0 {
		d.page.alert = integrityFailed + " (see section " + fmt.Sprint(v.Sec.Integrity) + ")" // short: half the header's width
	}
	d.page.dev = v.DevBuild
	d.v = v
	d.render()
	return d.output(w)
}

// newPDFDoc starts an A4 document with the Go fonts, the margins, the
// running header and footer of page, and title and subject as metadata.
func newPDFDoc(generated time.Time, title, subject string, page pageText) *pdfDoc {
	f := fpdf.New("P", "mm", "A4", "")
	f.AliasNbPages("{nb}") // before the fonts: fpdf keeps the digits in the subsets then
	f.AddUTF8FontFromBytes(fontSans, "", goregular.TTF)
	f.AddUTF8FontFromBytes(fontSans, "B", gobold.TTF)
	f.AddUTF8FontFromBytes(fontMono, "", gomono.TTF)
	f.SetMargins(pdfLeft, pdfTop, pdfRight)
	f.SetAutoPageBreak(false, pdfBottom)
	f.SetCatalogSort(true)
	f.SetCreationDate(generated)
	f.SetModificationDate(generated)
	f.SetTitle(sansGlyphs.clean(title), true)
	f.SetSubject(sansGlyphs.clean(subject), true)
	f.SetCreator("mockloop reports", true)
	d := &pdfDoc{f: f, page: page}
	f.SetHeaderFunc(d.header)
	f.SetFooterFunc(d.footer)
	return d
}

// output writes the document to w.
func (d *pdfDoc) output(w io.Writer) error {
	if err := d.f.Error(); err != nil {
		return fmt.Errorf("reports: pdf: %w", err)
	}
	if err := d.f.Output(w); err != nil {
		return fmt.Errorf("reports: pdf: %w", err)
	}
	return nil
}

// header draws the running header: what the page belongs to.
func (d *pdfDoc) header() {
	f := d.f
	f.SetY(9)
	f.SetX(pdfLeft)
	d.font(false, pdfSmall+0.8)
	f.SetTextColor(60, 60, 70)
	left := d.page.left
	if d.page.alert != "" {
		left = d.page.alert
		d.font(true, pdfSmall+0.8)
		c := outcomeColor("fail")
		f.SetTextColor(int(c.R), int(c.G), int(c.B))
	}
	f.CellFormat(pdfTextW/2, 5, d.text(left), "", 0, "L", false, 0, "")
	d.font(true, pdfSmall+0.8)
	c := outcomeColor(d.page.verdict)
	f.SetTextColor(int(c.R), int(c.G), int(c.B))
	f.CellFormat(pdfTextW/2, 5, d.text(d.page.right), "", 0, "R", false, 0, "")
	f.SetDrawColor(50, 50, 70)
	f.SetLineWidth(0.4)
	f.Line(pdfLeft, 15, pdfPageW-pdfRight, 15)
	f.SetTextColor(0, 0, 0)
	f.SetY(pdfTop)
	if d.section != "" && f.PageNo() > 1 {
		d.font(true, pdfBody)
		f.SetTextColor(90, 90, 100)
		f.CellFormat(pdfTextW, 5, d.text(d.section+" (continued)"), "", 1, "L", false, 0, "")
		f.SetTextColor(0, 0, 0)
		f.SetY(f.GetY() + 1)
	}
}

// footer draws the page number, as "page N of M".
func (d *pdfDoc) footer() {
	f := d.f
	f.SetY(pdfPageH - 11)
	f.SetDrawColor(180, 180, 190)
	f.SetLineWidth(0.2)
	f.Line(pdfLeft, pdfPageH-12, pdfPageW-pdfRight, pdfPageH-12)
	d.font(false, pdfSmall)
	f.SetTextColor(80, 80, 90)
	foot := d.page.foot
	if d.page.dev != "" {
		foot = d.page.dev
		d.font(true, pdfSmall)
		c := outcomeColor("fail")
		f.SetTextColor(int(c.R), int(c.G), int(c.B))
	}
	f.CellFormat(pdfTextW*3/4, 5, d.text(foot), "", 0, "L", false, 0, "") // the notice is long; the page number short
	d.font(false, pdfSmall)
	f.SetTextColor(80, 80, 90)
	f.CellFormat(pdfTextW/4, 5, fmt.Sprintf("Page %d of {nb}", f.PageNo()), "", 0, "R", false, 0, "")
	f.SetTextColor(0, 0, 0)
}

// outcomeColor is the colour of an outcome or verdict.
func outcomeColor(o string) rgb {
	switch verdictClass(o) {
	case "ok":
		return rgb{0x1e, 0x7d, 0x32}
	case "bad":
		return rgb{0xb3, 0x26, 0x1e}
	case "warn":
		return rgb{0xa8, 0x64, 0x00}
	}
	return rgb{0x55, 0x55, 0x55}
}

// font sets the sans font, bold or regular, at size pt.
func (d *pdfDoc) font(bold bool, size float64) {
	style := ""
	if bold {
		style = "B"
	}
	d.f.SetFont(fontSans, style, size)
}

// text cleans s for the sans font.
func (d *pdfDoc) text(s string) string { return sansGlyphs.clean(s) }

// need starts a new page unless h mm fit above the bottom margin.
func (d *pdfDoc) need(h float64) {
	if d.f.GetY()+h > pdfPageH-pdfBottom {
		d.f.AddPage()
	}
}

// split wraps text to lines of at most w mm in the current font, breaking
// at newlines first (fpdf's SplitText breaks a line with a newline at its
// last space instead).
func (d *pdfDoc) split(text string, w float64) []string {
	var out []string
	for part := range strings.SplitSeq(text, "\n") {
		if part == "" {
			out = append(out, "")
			continue
		}
		out = append(out, d.f.SplitText(part, w)...)
	}
	return out
}

// lineH is the height of a text line at size pt.
func lineH(size float64) float64 { return size * 0.3528 * 1.25 }

// heading starts a numbered section, on a new page if little room is left.
func (d *pdfDoc) heading(title string) {
	d.section = ""
	d.need(30)
	f := d.f
	f.SetY(f.GetY() + 3)
	d.font(true, pdfHeading)
	f.Bookmark(d.text(title), 0, -1)
	f.CellFormat(pdfTextW, 7, d.text(title), "", 1, "L", false, 0, "")
	f.SetDrawColor(200, 200, 215)
	f.SetLineWidth(0.5)
	f.Line(pdfLeft, f.GetY(), pdfPageW-pdfRight, f.GetY())
	f.SetY(f.GetY() + 2)
	d.section = title
}

// subheading is a heading within a section, kept on a page with the
// first keep mm of what follows it.
func (d *pdfDoc) subheading(title string, keep float64) {
	d.need(8 + keep)
	d.f.SetY(d.f.GetY() + 1.5)
	d.font(true, pdfBody+1)
	d.f.CellFormat(pdfTextW, 6, d.text(title), "", 1, "L", false, 0, "")
}

// para writes a wrapped paragraph; flag sets it in the colour of trouble.
func (d *pdfDoc) para(s string, flag bool) {
	f := d.f
	d.font(flag, pdfBody)
	if flag {
		c := outcomeColor("fail")
		f.SetTextColor(int(c.R), int(c.G), int(c.B))
		s = "! " + s
	} else {
		f.SetTextColor(60, 60, 60)
	}
	lh := lineH(pdfBody)
	for _, l := range d.split(d.text(s), pdfTextW) {
		d.need(lh)
		f.SetX(pdfLeft)
		f.CellFormat(pdfTextW, lh, l, "", 1, "L", false, 0, "")
	}
	f.SetTextColor(0, 0, 0)
	f.SetY(f.GetY() + 1)
}

// pdfCol is a table column: title, width in mm, alignment ("L", "R").
type pdfCol struct {
	Title string
	W     float64
	Align string
}

// pdfCell is a table cell.
type pdfCell struct {
	Text  string
	Bold  bool
	Mono  bool
	Color *rgb
}

// cell makes a plain cell.
func cell(s string) pdfCell { return pdfCell{Text: s} }

// table draws a table, breaking pages between rows and repeating the
// header row on each new page. A cell shows at most pdfMaxRows lines.
func (d *pdfDoc) table(cols []pdfCol, rows [][]pdfCell, size float64) {
	f := d.f
	lh := lineH(size)
	drawHeader := func() {
		h := 0.0
		lines, sizes := make([][]string, len(cols)), make([]float64, len(cols))
		for i, c := range cols {
			lines[i], sizes[i] = d.cellLines(d.text(c.Title), c.W-2*pdfPad, false, true, size)
			h = max(h, float64(len(lines[i]))*lh+2*pdfPad)
		}
		x, y := pdfLeft, f.GetY()
		f.SetFillColor(0xee, 0xf0, 0xf5)
		f.SetDrawColor(0xc8, 0xc8, 0xd0)
		f.SetLineWidth(0.2)
		for i, c := range cols {
			f.Rect(x, y, c.W, h, "FD")
			d.font(true, sizes[i])
			for k, l := range lines[i] {
				f.SetXY(x+pdfPad, y+pdfPad+float64(k)*lh)
				f.CellFormat(c.W-2*pdfPad, lh, l, "", 0, c.Align, false, 0, "")
			}
			x += c.W
		}
		f.SetXY(pdfLeft, y+h)
	}
	header := false
	for _, c := range cols {
		header = header || c.Title != ""
	}
	if !header { // a key-value table: no header row
		drawHeader = func() {}
	}
	d.need(3 * lh)
	drawHeader()
	for _, row := range rows {
		lines, sizes := make([][]string, len(cols)), make([]float64, len(cols))
		h := 0.0
		for i, c := range cols {
			if i >= len(row) {
				continue
			}
			cl := row[i]
			text := d.text(cl.Text)
			if cl.Mono {
				text = monoGlyphs.clean(cl.Text)
			}
			lines[i], sizes[i] = d.cellLines(text, c.W-2*pdfPad, cl.Mono, cl.Bold, size)
			if len(lines[i]) > pdfMaxRows {
				lines[i] = append(lines[i][:pdfMaxRows-1], "…")
			}
			h = max(h, float64(len(lines[i]))*lh+2*pdfPad)
		}
		h = max(h, lh+2*pdfPad)
		if f.GetY()+h > pdfPageH-pdfBottom {
			f.AddPage()
			drawHeader()
		}
		x, y := pdfLeft, f.GetY()
		f.SetDrawColor(0xc8, 0xc8, 0xd0)
		f.SetLineWidth(0.2)
		for i, c := range cols {
			f.Rect(x, y, c.W, h, "D")
			if i < len(row) {
				cl := row[i]
				d.cellFont(cl.Mono, cl.Bold, sizes[i])
				if cl.Color != nil {
					f.SetTextColor(int(cl.Color.R), int(cl.Color.G), int(cl.Color.B))
				}
				for k, l := range lines[i] {
					f.SetXY(x+pdfPad, y+pdfPad+float64(k)*lh)
					f.CellFormat(c.W-2*pdfPad, lh, l, "", 0, c.Align, false, 0, "")
				}
				f.SetTextColor(0, 0, 0)
			}
			x += c.W
		}
		f.SetXY(pdfLeft, y+h)
	}
	f.SetY(f.GetY() + 2)
}

// kvTable draws a two-column table of labelled values.
func (d *pdfDoc) kvTable(kvs []kv) {
	var rows [][]pdfCell
	for _, e := range kvs {
		c := pdfCell{Text: e.V, Mono: e.Mono}
		if e.Flag {
			c.Color, c.Bold = colorPtr(outcomeColor("fail")), true
		}
		rows = append(rows, []pdfCell{{Text: e.K, Bold: true}, c})
	}
	d.table([]pdfCol{{"", 42, "L"}, {"", pdfTextW - 42, "L"}}, rows, pdfBody)
}

func colorPtr(c rgb) *rgb { return &c }

// verdictCell is a cell coloured by its verdict.
func verdictCell(s, verdict string) pdfCell {
	return pdfCell{Text: s, Bold: true, Color: colorPtr(outcomeColor(verdict))}
}

// render draws the whole report, section by section in the order of the
// HTML report.
func (d *pdfDoc) render() {
	d.title()
	d.identity()
	d.heading("2. Outcome")
	d.kvTable(d.v.Summary)
	d.criteria()
	d.traceability()
	d.plots()
	d.stepStats()
	d.beatStats()
	d.events()
	d.heading(fmt.Sprintf("%d. Record integrity", d.v.Sec.Integrity))
	d.kvTable(d.v.Integrity)
	d.signatures()
	d.criteriaAppendix()
}

// title draws the first page's title, the outcome and the report's notes.
func (d *pdfDoc) title() {
	v := d.v
	f := d.f
	f.AddPage()
	d.font(true, 16)
	f.CellFormat(pdfTextW, 9, d.text("V&V report — protocol "+v.Protocol), "", 1, "L", false, 0, "")
	d.font(true, 13)
	c := outcomeColor(v.Outcome)
	f.SetTextColor(int(c.R), int(c.G), int(c.B))
	f.CellFormat(pdfTextW, 7, d.text("Outcome: "+v.OutcomeTitle), "", 1, "L", false, 0, "")
	f.SetTextColor(0, 0, 0)
	if v.AbortReason != "" {
		d.para("Reason: "+v.AbortReason, true)
	}
	if len(v.IntegrityFailed) > 0 {
		d.para(integrityFailed+": the run record is not as it was sealed; what this report shows cannot be trusted. "+strings.Join(v.IntegrityFailed, "; "), true)
	}
	if v.DevBuild != "" {
		d.para(v.DevBuild+": this build is not a tagged release.", true)
	}
	d.para("Generated "+v.Generated+" from "+v.Source+" by mockloop. Times t are seconds on the run's clock since its epoch.", false)
	for _, n := range v.Notes {
		d.para(n, true)
	}
}

// identity draws section 1: the run's identity and the calibration records
// in force.
func (d *pdfDoc) identity() {
	v := d.v
	d.heading("1. Run identity")
	d.kvTable(v.Identity)
	d.subheading("Calibration records in force", 20)
	if len(v.Calibration) == 0 {
		d.para("The manifest lists no calibration records.", true)
		return
	}
	var rows [][]pdfCell
	for _, c := range v.Calibration {
		due := cell(c.Due)
		if c.Overdue {
			due = verdictCell(c.Due+" (overdue)", "fail")
		}
		rows = append(rows, calCells(c, due))
	}
	d.table(calCols, rows, pdfSmall)
}

// criteria draws section 3: every evaluated criterion.
func (d *pdfDoc) criteria() {
	d.heading("3. Acceptance criteria")
	if len(d.v.Criteria) == 0 {
		d.para("No criterion was evaluated.", true)
		return
	}
	var rows [][]pdfCell
	for _, c := range d.v.Criteria {
		rows = append(rows, criterionCells(c))
	}
	d.table(critCols, rows, pdfSmall)
	if len(d.v.CriteriaAppendix) > 0 || len(d.v.AppendixNotes) > 0 {
		d.para(critSummaryNote, false)
	}
	if len(d.v.CritTrends) > 0 {
		d.subheading(critTrendsTitle, pdfCritFigH)
		d.figureGrid(d.v.CritTrends, 2, pdfCritFigH)
	}
}

// pdfCritFigH is the height of a criterion's trend plot, mm: two to a
// row, eight to a page.
const pdfCritFigH = 52.0

// critCols are the columns of the criteria table and its appendix.
// Value is the widest: a summarised criterion's value tells how its
// iterations went.
var critCols = []pdfCol{{"#", 7, "R"}, {"Requirement", 27, "L"}, {"Step", 27, "L"}, {"Measure", 30, "L"}, {"Value", 38, "R"}, {"Limits", 30, "L"}, {"Verdict", 21, "L"}}

// criterionCells is a criterion's row of the criteria table; a criterion
// without a requirement id, or with one not in the catalogue, is flagged.
func criterionCells(c critRow) []pdfCell {
	req := c.ReqID
	if req == "" {
		req = "(no id) " + c.Name
	} else {
		if !c.InCat {
			req += " (not in catalogue)"
		}
		if c.Name != "" {
			req += " — " + c.Name
		}
	}
	step := c.Step
	if c.Repeats {
		step += fmt.Sprintf(" #%d", c.Iter)
	}
	verdict := strings.ToUpper(c.Verdict)
	if c.Verdict != "pass" && c.OnFail != "fail" && c.OnFail != "" {
		verdict += " (on_fail: " + c.OnFail + ")"
	}
	if c.Reason != "" {
		verdict += ": " + c.Reason
	}
	reqCell := cell(req)
	if c.ReqID == "" || !c.InCat {
		reqCell.Color = colorPtr(outcomeColor("fail"))
	}
	return []pdfCell{cell(fmt.Sprint(c.N)), reqCell, cell(step), cell(c.Measure), cell(c.Value), cell(c.Limits), verdictCell(verdict, c.Verdict)}
}

// traceability draws section 4: requirement → criteria → verdicts, the
// requirements of the catalogue first, then the unknown and the untraced.
func (d *pdfDoc) traceability() {
	v := d.v
	d.heading("4. Traceability matrix")
	if v.Trace.NoCatalogue {
		d.para("The protocol declares no requirements catalogue: no requirement can be traced.", true)
	}
	var rows [][]pdfCell
	for _, set := range [][]traceReq{v.Trace.Reqs, v.Trace.Unknown, v.Trace.Untraced} {
		for _, q := range set {
			rows = append(rows, traceCells(q)...)
		}
	}
	d.table([]pdfCol{{"Requirement", 52, "L"}, {"Status", 19, "L"}, {"Criterion (step, measure)", 47, "L"}, {"Limits", 28, "L"}, {"Evaluations", 20, "L"}, {"Rows", 14, "L"}}, rows, pdfSmall)
	d.para("Rows refers to the numbers (#) of the criteria table. A requirement passes when every evaluation of every criterion tracing to it passes.", false)
}

// traceCells are a requirement's rows of the traceability matrix: one per
// criterion tracing to it (the requirement and its status on the first
// only), or one saying it has none.
func traceCells(q traceReq) [][]pdfCell {
	req := strings.TrimSpace(q.ID + " " + q.Text)
	if q.Flag != "" {
		req += " — ! " + q.Flag
	}
	reqCell := pdfCell{Text: req}
	if q.Flag != "" {
		reqCell.Color = colorPtr(outcomeColor("fail"))
	}
	status := verdictCell(strings.ToUpper(q.Status), q.Status)
	var rows [][]pdfCell
	if len(q.Criteria) == 0 {
		rows = append(rows, []pdfCell{reqCell, status, cell("-"), cell(""), cell(""), cell("")})
	}
	for i, c := range q.Criteria {
		first, st := reqCell, status
		if i > 0 {
			first, st = cell(""), cell("")
		}
		rows = append(rows, []pdfCell{first, st, cell(c.Step + ": " + c.Measure), cell(c.Limits), verdictCell(c.Counts, c.Verdict), cell(c.Rows)})
	}
	return rows
}

// plots draws section 5: the waveforms of the end of each step, then the
// trends of the whole run.
func (d *pdfDoc) plots() {
	v := d.v
	f := d.f
	d.heading("5. Plots")
	d.subheading("Waveforms at the end of each step", pdfFigH+16)
	if v.WaveNote != "" {
		d.para(v.WaveNote, false)
	}
	if len(v.Waves) == 0 {
		d.para("No step has frames to show.", false)
	}
	for _, w := range v.Waves {
		d.need(8 + pdfFigH)
		d.font(true, pdfBody)
		f.CellFormat(pdfTextW, 6, d.text(w.Title), "", 1, "L", false, 0, "")
		if len(w.Figures) == 0 {
			d.para("No frames in this window.", false)
		}
		for _, fig := range w.Figures {
			d.figure(fig)
		}
	}
	d.subheading("Trends over the whole run", pdfFigH+12)
	if len(v.Trends) == 0 {
		d.para("The record has no frames.", true)
		return
	}
	d.para(v.TrendNote, false)
	for _, fig := range v.Trends {
		d.figure(fig)
	}
}

// stepStats draws section 6: per-step channel statistics.
func (d *pdfDoc) stepStats() {
	v := d.v
	d.heading("6. Step statistics")
	if v.Steps.Note != "" {
		d.para(v.Steps.Note, false)
	}
	if v.Steps.Computed {
		d.para("The run's result has no step statistics; they were computed from the frames for this report.", false)
	}
	if len(v.Steps.Rows) == 0 {
		d.para("No step was executed.", false)
		return
	}
	var rows [][]pdfCell
	for _, s := range v.Steps.Rows {
		oc := cell(s.Outcome)
		if s.Outcome != "" {
			oc = verdictCell(s.Outcome, s.Outcome)
		}
		rows = append(rows, []pdfCell{{Text: s.Step, Bold: true}, cell(s.Span), oc, cell(s.Channel), cell(s.Unit), cell(s.N), cell(s.Mean), cell(s.Min), cell(s.Max), cell(s.Std)})
	}
	d.table([]pdfCol{{"Step", 38, "L"}, {"Span", 27, "L"}, {"Outcome", 15, "L"}, {"Channel", 20, "L"}, {"Unit", 11, "L"}, {"n", 14, "R"}, {"Mean", 14, "R"}, {"Min", 13, "R"}, {"Max", 14, "R"}, {"Std", 14, "R"}}, rows, pdfSmall)
}

// beatStats draws the beat statistics, a section only when the run has
// beats.jsonl.
func (d *pdfDoc) beatStats() {
	b := d.v.Beats
	if b == nil {
		return
	}
	d.heading(fmt.Sprintf("%d. Beat statistics", d.v.Sec.Beats))
	if len(b.Rows) == 0 {
		d.para("beats.jsonl has no beats: none were detected.", false)
		return
	}
	d.para(fmt.Sprintf("Mean ± standard deviation over the detected beats (%d in beats.jsonl), per channel and step (executions of a step pooled) and over the whole run.", b.Beats), false)
	cols := []pdfCol{{"Channel", 14, "L"}, {"Step", 37, "L"}, {"Beats", 13, "R"}}
	for _, h := range b.Headers {
		cols = append(cols, pdfCol{h, (pdfTextW - 64) / float64(len(b.Headers)), "R"})
	}
	var rows [][]pdfCell
	for _, br := range b.Rows {
		row := []pdfCell{cell(br.Channel), {Text: br.Step, Bold: br.Total}, cell(br.Beats)}
		for _, c := range br.Cells {
			row = append(row, cell(c))
		}
		rows = append(rows, row)
	}
	d.table(cols, rows, pdfSmall)
}

// events draws the events and faults: the notable events, the count of
// each kind, and the timeline.
func (d *pdfDoc) events() {
	ev := d.v.Events
	d.heading(fmt.Sprintf("%d. Events and faults", d.v.Sec.Events))
	if ev.Missing {
		d.para("The record has no events.jsonl.", true)
	}
	d.audit(ev)
	d.notableEvents(ev)
	d.subheading("Event counts", 15)
	var rows [][]pdfCell
	for _, c := range ev.Counts {
		shown := "above"
		switch c.Class {
		case classCounted:
			shown = "counted only (DUT traffic)"
		case classCriteria:
			shown = "in the criteria table"
		case classTimeline:
			shown = "in the timeline"
		}
		rows = append(rows, []pdfCell{cell(c.Kind), cell(fmt.Sprint(c.Count)), cell(shown)})
	}
	d.table([]pdfCol{{"Kind", 60, "L"}, {"Count", 30, "R"}, {"Shown", pdfTextW - 90, "L"}}, rows, pdfSmall)
	d.timeline(ev)
}

// notableEvents draws the safety trips, faults, acquisition problems and
// operator actions, with their data.
func (d *pdfDoc) notableEvents(ev eventSummary) {
	d.subheading("Safety trips, faults, acquisition problems and operator actions", 15)
	if len(ev.Notable) == 0 {
		d.para("None.", false)
		return
	}
	var rows [][]pdfCell
	for _, e := range ev.Notable {
		rows = append(rows, []pdfCell{cell(e.T), {Text: e.Kind, Bold: true}, cell(e.Step), cell(e.Msg), {Text: e.Data, Mono: true}})
	}
	d.table([]pdfCol{{"t [s]", 16, "R"}, {"Kind", 22, "L"}, {"Step", 10, "L"}, {"Message", 72, "L"}, {"Data", 60, "L"}}, rows, pdfSmall)
	if ev.NotableTotal > len(ev.Notable) {
		d.para(fmt.Sprintf("Only the first %d of %d are listed; events.jsonl has all.", len(ev.Notable), ev.NotableTotal), true)
	}
}

// timeline draws the events of the timeline: step starts and ends and the
// like.
func (d *pdfDoc) timeline(ev eventSummary) {
	d.subheading("Timeline", 15)
	if len(ev.Timeline) == 0 {
		d.para("None.", false)
		return
	}
	var rows [][]pdfCell
	for _, e := range ev.Timeline {
		rows = append(rows, []pdfCell{cell(e.T), cell(e.Kind), cell(e.Step), cell(e.Msg)})
	}
	d.table([]pdfCol{{"t [s]", 18, "R"}, {"Kind", 22, "L"}, {"Step", 12, "L"}, {"Message", pdfTextW - 52, "L"}}, rows, pdfSmall)
	if n := ev.TimelineNote(); n != "" {
		d.para(n, false)
	}
}

// signatures draws the signature block, kept on one page.
func (d *pdfDoc) signatures() {
	d.heading(fmt.Sprintf("%d. Signatures", d.v.Sec.Signatures))
	if d.eSignatures() {
		return
	}
	d.need(40)
	sig := [][]pdfCell{{cell("Performed by\n\n\n")}, {cell("Reviewed by (quality)\n\n\n")}, {cell("Approved by\n\n\n")}}
	for i := range sig {
		sig[i] = append(sig[i], cell(""), cell(""), cell(""))
	}
	d.table([]pdfCol{{"Role", 40, "L"}, {"Name", 50, "L"}, {"Signature", 60, "L"}, {"Date", 30, "L"}}, sig, pdfBody)
}

// Plot geometry in the PDF, mm.
const (
	pdfFigH   = 62.0
	pdfFigL   = 15.0 // left of the plot area, from the text margin
	pdfFigR   = 4.0
	pdfFigTop = 7.0
	pdfFigBot = 10.0
)

// figure draws a plot across the text width.
func (d *pdfDoc) figure(fg *figure) {
	d.need(pdfFigH + 2)
	y0 := d.f.GetY()
	d.drawFigure(fg, pdfLeft, y0, pdfTextW, pdfFigH)
	d.f.SetY(y0 + pdfFigH + 1)
}

// figureGrid draws plots compactly, cols to a row, each h mm high: the
// trends of the criteria, several to a page.
func (d *pdfDoc) figureGrid(figs []*figure, cols int, h float64) {
	w := pdfTextW / float64(cols)
	for i := 0; i < len(figs); i += cols {
		d.need(h + 2)
		y0 := d.f.GetY()
		for j := i; j < min(i+cols, len(figs)); j++ {
			d.drawFigure(figs[j], pdfLeft+float64(j-i)*w, y0, w, h)
		}
		d.f.SetY(y0 + h + 1)
	}
}

// figBox maps a figure's data units to the page: the plot area's edges
// and the mapping functions.
type figBox struct {
	L, R, T, B float64
	x, y       func(float64) float64
}

// drawFigure draws a plot as vector graphics in the box of width w and
// height h at (x0, y0): grid, ticks, envelope bands (filled,
// translucent), lines, dots, vertical marks, legend.
func (d *pdfDoc) drawFigure(fg *figure, x0, y0, w, h float64) {
	b := figBox{L: x0 + pdfFigL, R: x0 + w - pdfFigR, T: y0 + pdfFigTop, B: y0 + h - pdfFigBot}
	b.x = func(v float64) float64 { return b.L + (v-fg.X0)/(fg.X1-fg.X0)*(b.R-b.L) }
	b.y = func(v float64) float64 { return b.B - (v-fg.Y0)/(fg.Y1-fg.Y0)*(b.B-b.T) }
	d.figureLegend(fg, b, x0, y0)
	d.figureAxes(fg, b, x0)
	d.f.ClipRect(b.L, b.T, b.R-b.L, b.B-b.T, false)
	d.figureMarks(fg, b)
	d.figureData(fg, b)
	d.f.ClipEnd()
}

// figureLegend draws a plot's title, its y label and its legend, right
// aligned; a title too long for the room the legend leaves is cut short.
func (d *pdfDoc) figureLegend(fg *figure, b figBox, x0, y0 float64) {
	f := d.f
	d.font(false, pdfSmall-0.5)
	f.SetXY(x0, y0)
	f.CellFormat(pdfFigL-2, 5, d.text(fg.YLabel), "", 0, "L", false, 0, "")
	lx := b.R
	for i := len(fg.Series) - 1; i >= 0; i-- {
		s := fg.Series[i]
		w := f.GetStringWidth(d.text(s.Name)) + 5
		lx -= w
		f.SetFillColor(int(s.Color.R), int(s.Color.G), int(s.Color.B))
		f.Rect(lx, y0+1.6, 2.4, 2.4, "F")
		f.SetXY(lx+2.8, y0)
		f.CellFormat(w-2.8, 5, d.text(s.Name), "", 0, "L", false, 0, "")
	}
	d.font(true, pdfBody)
	title, room := d.text(fg.Title), lx-b.L-2
	for f.GetStringWidth(title) > room && len([]rune(title)) > 2 {
		rs := []rune(strings.TrimSuffix(title, "…"))
		title = string(rs[:len(rs)-1]) + "…"
	}
	f.SetXY(b.L, y0)
	f.CellFormat(room, 5, title, "", 0, "L", false, 0, "")
}

// figureAxes draws the plot area, its grid, ticks and x label.
func (d *pdfDoc) figureAxes(fg *figure, b figBox, x0 float64) {
	f := d.f
	d.font(false, pdfSmall-0.5)
	f.SetFillColor(0xfb, 0xfb, 0xfd)
	f.SetDrawColor(0x99, 0x99, 0xaa)
	f.SetLineWidth(0.2)
	f.Rect(b.L, b.T, b.R-b.L, b.B-b.T, "FD")
	f.SetDrawColor(0xe2, 0xe2, 0xea)
	f.SetLineWidth(0.15)
	for _, t := range fg.YTicks {
		f.Line(b.L, b.y(t.V), b.R, b.y(t.V))
		f.SetXY(x0, b.y(t.V)-2)
		f.CellFormat(pdfFigL-1, 4, t.Label, "", 0, "R", false, 0, "")
	}
	for _, t := range fg.XTicks {
		f.Line(b.x(t.V), b.T, b.x(t.V), b.B)
		f.SetXY(b.x(t.V)-10, b.B+0.5)
		f.CellFormat(20, 4, t.Label, "", 0, "C", false, 0, "")
	}
	f.SetXY(b.R-60, b.B+4)
	f.CellFormat(60, 4, d.text(fg.XLabel), "", 0, "R", false, 0, "")
}

// figureMarks draws the vertical marks (step starts), dotted.
func (d *pdfDoc) figureMarks(fg *figure, b figBox) {
	f := d.f
	f.SetDrawColor(0x77, 0x77, 0x88)
	f.SetDashPattern([]float64{0.6, 0.9}, 0)
	for _, m := range fg.Marks {
		if m.X < fg.X0 || m.X > fg.X1 {
			continue
		}
		f.Line(b.x(m.X), b.T, b.x(m.X), b.B)
		f.SetXY(b.x(m.X)+0.3, b.T+0.2)
		f.CellFormat(8, 3, d.text(m.Label), "", 0, "L", false, 0, "")
	}
	f.SetDashPattern(nil, 0)
}

// figureData draws the series: bands, then lines, then dots on top.
func (d *pdfDoc) figureData(fg *figure, b figBox) {
	f := d.f
	for _, s := range fg.Series {
		if len(s.Bands) == 0 {
			continue
		}
		f.SetAlpha(0.28, "Normal")
		f.SetFillColor(int(s.Color.R), int(s.Color.G), int(s.Color.B))
		for _, band := range s.Bands {
			pts := make([]fpdf.PointType, 0, 2*len(band))
			for _, p := range band {
				pts = append(pts, fpdf.PointType{X: b.x(p.X), Y: b.y(p.Hi)})
			}
			for i := len(band) - 1; i >= 0; i-- {
				pts = append(pts, fpdf.PointType{X: b.x(band[i].X), Y: b.y(band[i].Lo)})
			}
			if len(band) == 1 { // a single column: give it a width
				pts = append(pts, fpdf.PointType{X: pts[0].X + 0.2, Y: pts[1].Y}, fpdf.PointType{X: pts[0].X + 0.2, Y: pts[0].Y})
			}
			f.Polygon(pts, "F")
		}
		f.SetAlpha(1, "Normal")
	}
	f.SetLineWidth(0.22)
	f.SetLineJoinStyle("round")
	for _, s := range fg.Series {
		f.SetDrawColor(int(s.Color.R), int(s.Color.G), int(s.Color.B))
		for _, line := range s.Lines {
			if len(line) == 0 {
				continue
			}
			f.MoveTo(b.x(line[0].X), b.y(line[0].Y))
			for _, p := range line[1:] {
				f.LineTo(b.x(p.X), b.y(p.Y))
			}
			if len(line) == 1 {
				f.LineTo(b.x(line[0].X)+0.2, b.y(line[0].Y))
			}
			f.DrawPath("D")
		}
	}
	for _, p := range fg.Dots {
		f.SetFillColor(int(p.Color.R), int(p.Color.G), int(p.Color.B))
		f.Circle(b.x(p.X), b.y(p.Y), 0.7, "F")
	}
}
