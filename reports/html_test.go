package reports

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

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
		dom, stderr, _ := runChromium(t, bin, dir, page, "--dump-dom")
		if p := consoleErrors(stderr); len(p) == 0 {
			t.Error("console check missed the control page's CSP violations")
		}
		if p := domProblems(dom); len(p) < 3 {
			t.Errorf("DOM check found %d problems in the control page, want img, script and url(): %q", len(p), p)
		}
		page2 := filepath.Join(dir, "control2.html") // without CSP the request is made
		os.WriteFile(page2, []byte(`<!DOCTYPE html><html><head><title>c</title></head><body><img src="http://example.invalid/x.png"></body></html>`), 0o644)
		_, _, netlog := runChromium(t, bin, dir, page2, "--dump-dom")
		if p := pageRequests(t, netlog); len(p) == 0 {
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

			dom, stderr, netlog := runChromium(t, bin, dir, page, "--dump-dom")
			for _, p := range consoleErrors(stderr) {
				t.Errorf("console: %s", p)
			}
			for _, p := range pageRequests(t, netlog) {
				t.Errorf("network request from the page: %s", p)
			}
			for _, p := range domProblems(dom) {
				t.Errorf("DOM: %s", p)
			}
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
			runChromium(t, bin, dir, page, "--screenshot="+shot, "--window-size=1280,9000", "--hide-scrollbars")
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
	n := len(r.trends)
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

// runChromium opens page in headless Chromium with what keeps the browser
// itself quiet, logging to stderr and recording a net log. It returns
// stdout, stderr and the net log's path.
func runChromium(t *testing.T, bin, dir, page string, args ...string) (stdout, stderr []byte, netlog string) {
	t.Helper()
	profile, err := os.MkdirTemp(dir, "profile")
	if err != nil {
		t.Fatal(err)
	}
	netlog = filepath.Join(profile, "netlog.json")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	full := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=" + profile,
		"--enable-logging=stderr", "--v=0", "--log-net-log=" + netlog}, args...)
	cmd := exec.CommandContext(ctx, bin, append(full, "file://"+page)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, errb.Bytes())
	}
	return out.Bytes(), errb.Bytes(), netlog
}

// consoleErrors returns the page's console messages from Chromium's log:
// a page without script logs none unless something went wrong (a CSP
// violation, a failed load).
func consoleErrors(stderr []byte) []string {
	var out []string
	for l := range strings.Lines(string(stderr)) {
		if strings.Contains(l, "CONSOLE") || strings.Contains(l, "Uncaught") {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return out
}

// pageRequests returns the URLs the page requested over the network, from
// Chromium's net log: requests whose isolation key or site is the page's
// file:// origin. (Chromium's own requests, such as update checks, have
// no such key and are not the page's doing.)
func pageRequests(t *testing.T, netlog string) []string {
	t.Helper()
	b, err := os.ReadFile(netlog)
	if err != nil {
		t.Fatalf("net log: %v", err)
	}
	var log struct {
		Events []struct {
			Params map[string]any `json:"params"`
		} `json:"events"`
	}
	if err := json.Unmarshal(b, &log); err != nil {
		t.Fatalf("net log: %v", err)
	}
	seen := map[string]bool{}
	var out []string
	for _, e := range log.Events {
		url, _ := e.Params["url"].(string)
		if url == "" || strings.HasPrefix(url, "file:") || strings.HasPrefix(url, "data:") {
			continue
		}
		nik, _ := e.Params["network_isolation_key"].(string)
		site, _ := e.Params["site_for_cookies"].(string)
		if (strings.Contains(nik, "file://") || strings.Contains(site, "file://")) && !seen[url] {
			seen[url] = true
			out = append(out, url)
		}
	}
	return out
}

// fetchAttrs are the attributes by which HTML or SVG makes a browser load
// something.
var fetchAttrs = map[string]bool{"src": true, "href": true, "srcset": true, "action": true, "formaction": true,
	"poster": true, "data": true, "background": true, "cite": true, "longdesc": true, "ping": true,
	"manifest": true, "icon": true, "codebase": true, "archive": true, "lowsrc": true, "dynsrc": true}

// fetchElems are elements that load or run something.
var fetchElems = map[string]bool{"script": true, "img": true, "iframe": true, "frame": true, "object": true,
	"embed": true, "link": true, "base": true, "audio": true, "video": true, "source": true, "track": true,
	"image": true, "use": true, "feimage": true, "form": true, "applet": true, "portal": true}

// domProblems returns every reference of the DOM to something outside the
// page: fetching elements, fetching attributes other than #fragments, any
// attribute with a URL, CSS url() and @import, meta refresh; and a missing
// Content-Security-Policy.
func domProblems(dom []byte) []string {
	doc, err := html.Parse(bytes.NewReader(dom))
	if err != nil {
		return []string{"parse: " + err.Error()}
	}
	var out []string
	csp := false
	cssRef := func(where, css string) {
		low := strings.ToLower(css)
		for _, pat := range []string{"url(", "@import", "image-set("} {
			for i := strings.Index(low, pat); i >= 0; i = indexFrom(low, pat, i+1) {
				rest := strings.TrimLeft(low[i+len(pat):], ` "'`)
				if pat != "url(" || !strings.HasPrefix(rest, "#") {
					out = append(out, fmt.Sprintf("%s: CSS %s…", where, strings.TrimSpace(css[i:min(len(css), i+60)])))
				}
			}
		}
	}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			name := strings.ToLower(n.Data)
			if fetchElems[name] {
				out = append(out, "element <"+name+">")
			}
			httpEquiv, content := "", ""
			for _, a := range n.Attr {
				key, val := strings.ToLower(a.Key), strings.TrimSpace(a.Val)
				lv := strings.ToLower(val)
				switch {
				case fetchAttrs[key] && !strings.HasPrefix(val, "#"):
					out = append(out, fmt.Sprintf("<%s %s=%q>", name, a.Key, val))
				case strings.Contains(lv, "http://") || strings.Contains(lv, "https://"):
					out = append(out, fmt.Sprintf("<%s %s=%q>: a URL", name, a.Key, val))
				case key == "style":
					cssRef("<"+name+" style>", val)
				case strings.HasPrefix(key, "on"):
					out = append(out, fmt.Sprintf("<%s %s>: an event handler", name, a.Key))
				}
				switch key {
				case "http-equiv":
					httpEquiv = lv
				case "content":
					content = val
				}
			}
			if name == "meta" && httpEquiv == "refresh" {
				out = append(out, "meta refresh")
			}
			if name == "meta" && httpEquiv == "content-security-policy" && strings.Contains(content, "default-src 'none'") {
				csp = true
			}
			if name == "style" && n.FirstChild != nil {
				cssRef("<style>", n.FirstChild.Data)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if !csp {
		out = append(out, "no Content-Security-Policy with default-src 'none'")
	}
	return out
}

func indexFrom(s, sub string, from int) int {
	if from >= len(s) {
		return -1
	}
	i := strings.Index(s[from:], sub)
	if i < 0 {
		return -1
	}
	return from + i
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
