package testtool

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// The checks of a self-contained HTML page in headless Chromium (the V&V
// report, the fidelity report): what the page logs, what it requests over
// the network, and what its DOM references outside itself.

// Chromium opens page in headless Chromium with what keeps the browser
// itself quiet, logging to stderr and recording a net log. It returns
// stdout, stderr and the net log's path.
func Chromium(t *testing.T, bin, dir, page string, args ...string) (stdout, stderr []byte, netlog string) {
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

// ConsoleErrors returns the page's console messages from Chromium's log:
// a page without script logs none unless something went wrong (a CSP
// violation, a failed load).
func ConsoleErrors(stderr []byte) []string {
	var out []string
	for l := range strings.Lines(string(stderr)) {
		if strings.Contains(l, "CONSOLE") || strings.Contains(l, "Uncaught") {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return out
}

// PageRequests returns the URLs the page requested over the network, from
// Chromium's net log: requests whose isolation key or site is the page's
// file:// origin. (Chromium's own requests, such as update checks, have
// no such key and are not the page's doing.)
func PageRequests(t *testing.T, netlog string) []string {
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

// DOMProblems returns every reference of the DOM to something outside the
// page: fetching elements, fetching attributes other than #fragments, any
// attribute with a URL, CSS url() and @import, meta refresh; and a missing
// Content-Security-Policy.
func DOMProblems(dom []byte) []string {
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

// SelfContained opens page in headless Chromium and fails t for each
// console error, network request and reference outside the page; it
// returns the rendered DOM.
func SelfContained(t *testing.T, bin, dir, page string) []byte {
	t.Helper()
	dom, stderr, netlog := Chromium(t, bin, dir, page, "--dump-dom")
	for _, p := range ConsoleErrors(stderr) {
		t.Errorf("console: %s", p)
	}
	for _, p := range PageRequests(t, netlog) {
		t.Errorf("network request from the page: %s", p)
	}
	for _, p := range DOMProblems(dom) {
		t.Errorf("DOM: %s", p)
	}
	return dom
}
