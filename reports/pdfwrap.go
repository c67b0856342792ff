package reports

import "strings"

// breakAfter are the characters after which a word too wide for its
// column may break: the joints of ids, channel names and paths
// ("REQ-HYDRAULIC-", "dut.alarms.", "speed_").
const breakAfter = "-._/"

// minFontShare is how far a table cell's font may shrink, as a share of
// the table's size, so that its longest word fits its column: below it
// the text would be unreadable, and a word still too long (a hash, an id
// without spaces) is broken after all.
const minFontShare = 0.6

// cellDrawn, when set (by tests), is told every table cell's text as
// drawn, with its number of lines.
var cellDrawn func(text string, lines int)

// cellFont sets the font of a table cell: monospace (a size smaller, as
// the monospace face runs wide) or sans, bold or not.
func (d *pdfDoc) cellFont(mono, bold bool, size float64) {
	if mono {
		d.f.SetFont(fontMono, "", size-0.6)
		return
	}
	d.font(bold, size)
}

// cellLines wraps a cell's text to its column's width w, between words
// only: fpdf's SplitText breaks inside a word that does not fit a line
// ("mmH/g", "Outcom/e" in narrow columns), so the cell's font shrinks
// first until its longest word fits, down to minFontShare of size; a word
// that still does not fit breaks after one of breakAfter, and only then
// anywhere. It returns the lines and the size to draw them in (the font
// is set to it).
func (d *pdfDoc) cellLines(text string, w float64, mono, bold bool, size float64) ([]string, float64) {
	longest := ""
	for _, word := range strings.Fields(text) {
		d.cellFont(mono, bold, size)
		if d.f.GetStringWidth(word) > d.f.GetStringWidth(longest) {
			longest = word
		}
	}
	s := size
	fit := w - 2*d.f.GetCellMargin() // SplitText keeps the cell margin free
	for ; s > size*minFontShare; s -= 0.25 {
		d.cellFont(mono, bold, s)
		if d.f.GetStringWidth(longest) <= fit {
			break
		}
	}
	d.cellFont(mono, bold, s)
	lines := d.wrap(text, fit)
	if cellDrawn != nil {
		cellDrawn(text, len(lines))
	}
	return lines, s
}

// wrap breaks text into lines no wider than fit mm in the current font:
// at newlines, then greedily between words; a word wider than a line
// breaks after one of breakAfter, or where it must.
func (d *pdfDoc) wrap(text string, fit float64) []string {
	width := d.f.GetStringWidth
	var out []string
	for para := range strings.SplitSeq(text, "\n") {
		line := ""
		add := func(piece, sep string) {
			switch {
			case line == "":
				line = piece
			case width(line+sep+piece) <= fit:
				line += sep + piece
			default:
				out = append(out, line)
				line = piece
			}
		}
		for _, word := range strings.Fields(para) {
			if width(word) <= fit {
				add(word, " ")
				continue
			}
			for i, piece := range splitAfterAny(word, breakAfter) {
				sep := ""
				if i == 0 {
					sep = " "
				}
				for width(piece) > fit && len([]rune(piece)) > 1 { // no joint to break at: break it
					head := d.f.SplitText(piece, fit+2*d.f.GetCellMargin())[0]
					if head == "" || head == piece {
						break
					}
					add(head, sep)
					piece, sep = strings.TrimPrefix(piece, head), ""
				}
				add(piece, sep)
			}
		}
		out = append(out, line)
	}
	return out
}

// splitAfterAny splits s after each of the characters in chars.
func splitAfterAny(s, chars string) []string {
	var out []string
	for len(s) > 0 {
		i := strings.IndexAny(s, chars)
		if i < 0 {
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	if s != "" {
		out = append(out, s)
	}
	return out
}
