package reports

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mockloop/mockloop/internal/testtool"
)

// TestHTMLInChromium opens the HTML report of recorded runs in headless
// Chromium and checks that it renders without console errors (the page's
// Content-Security-Policy would report any fetch as one), that the page
// asks for nothing over the network (Chromium's net log), that its DOM
// references nothing outside itself, that text from the record is escaped,
// and that the plots are visible in a screenshot. A control page with an
// external image and a script shows that each check can fail.
func TestHTMLInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: drives headless Chromium")
	}
	bin := testtool.Need(t, "chromium", "chromium")
	dir := t.TempDir()

	t.Run("control", func(t *testing.T) {
		page := filepath.Join(dir, "control.html")
		os.WriteFile(page, []byte(`<!DOCTYPE html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'">
<title>control</title><style>body { background: url(https://cdn.example.invalid/bg.png) }</style></head>
<body><img src="http://example.invalid/x.png"><script>console.error("boom")</script></body></html>`), 0o644)
		dom, stderr, _ := testtool.Chromium(t, bin, dir, page, "--dump-dom")
		if p := testtool.ConsoleErrors(stderr); len(p) == 0 {
			t.Error("console check missed the control page's CSP violations")
		}
		if p := testtool.DOMProblems(dom); len(p) < 3 {
			t.Errorf("DOM check found %d problems in the control page, want img, script and url(): %q", len(p), p)
		}
		page2 := filepath.Join(dir, "control2.html") // without CSP the request is made
		os.WriteFile(page2, []byte(`<!DOCTYPE html><html><head><title>c</title></head><body><img src="http://example.invalid/x.png"></body></html>`), 0o644)
		_, _, netlog := testtool.Chromium(t, bin, dir, page2, "--dump-dom")
		if p := testtool.PageRequests(t, netlog); len(p) == 0 {
			t.Error("net log check missed the control page's request")
		}
	})

	for _, name := range []string{"pass", "aborted", "interrupted"} {
		t.Run(name, func(t *testing.T) {
			r, err := Load(fixtureRun(t, name))
			if err != nil {
				t.Fatal(err)
			}
			page := filepath.Join(dir, name+".html")
			var b bytes.Buffer
			if err := r.WriteHTML(&b); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(page, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}

			dom := testtool.SelfContained(t, bin, dir, page)
			text := string(dom)
			id := r.run.Manifest.RunID
			if !strings.Contains(text, id) || !strings.Contains(text, strings.ToUpper(r.outcome())) {
				t.Errorf("rendered page lacks run id %s or outcome %s", id, r.outcome())
			}
			if n := strings.Count(text, "<svg"); n != countFigures(r) || n == 0 {
				t.Errorf("%d plots rendered, report has %d", n, countFigures(r))
			}
			if name == "aborted" { // the record's text is shown as text, never as markup
				if !strings.Contains(text, "&lt;img src=http://evil.example/x.png onerror=alert(1)&gt;") {
					t.Error("a DUT reply with markup is not shown escaped")
				}
			}

			shot := filepath.Join(dir, name+".png")
			testtool.Chromium(t, bin, dir, page, "--screenshot="+shot, "--window-size=1280,9000", "--hide-scrollbars")
			counts, err := colourPixels(shot, map[string]rgb{"lvp": palette[0], "aop": palette[1], "flow_ao": palette[3]})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("pixels of channel colours in the screenshot: %v", counts)
			for ch, n := range counts {
				// Beyond its legend swatches (10×10 px per plot), a channel's
				// lines must colour at least 1000 pixels.
				if legend := 100 * plotsWith(r, ch); n < legend+1000 {
					t.Errorf("plot of %s barely visible: %d pixels of its colour in the screenshot, %d of them legends", ch, n, legend)
				}
			}
		})
	}
}

// countFigures is the number of plots in a report.
func countFigures(r *Report) int {
	n := len(r.trends) + len(critTrends(r.crit))
	for _, w := range r.waves {
		n += len(w.Figures)
	}
	return n
}

// plotsWith is the number of plots of a report that show channel ch.
func plotsWith(r *Report, ch string) int {
	figs := slices.Clone(r.trends)
	for _, w := range r.waves {
		figs = append(figs, w.Figures...)
	}
	n := 0
	for _, f := range figs {
		for _, s := range f.Series {
			if s.Name == ch {
				n++
			}
		}
	}
	return n
}

// colourPixels counts the pixels of a PNG near each colour.
func colourPixels(file string, colours map[string]rgb) (map[string]int, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return nil, err
	}
	counts := map[string]int{}
	for k := range colours {
		counts[k] = 0
	}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			for k, c := range colours {
				if near(r>>8, c.R) && near(g>>8, c.G) && near(bl>>8, c.B) {
					counts[k]++
				}
			}
		}
	}
	return counts, nil
}

func near(v uint32, c uint8) bool {
	d := int(v) - int(c)
	return d > -28 && d < 28
}
