package rig

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/internal/termtext"
	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/units"
)

// progress reports a run as it goes. On a terminal it redraws one status
// line — step i/N, run time elapsed and planned, the latest key channels —
// at most five times a second of wall time; elsewhere (CI, systemd) it
// writes one line per top-level step and one per minute of run time, so a
// log of a day-long run stays readable.
type progress struct {
	w        io.Writer
	live     bool
	wall     clock.Clock // throttles redraws; never the run's clock
	lastDraw time.Duration
	ticks    int
	planned  time.Duration
	keys     []int
	names    []string
	step     string
	nextLog  time.Duration
	drawn    bool
}

// redraw is the least wall time between two redraws of the live line.
const redraw = 200 * time.Millisecond

func newProgress(w io.Writer, live bool, p *protocols.Protocol, e *engine) *progress {
	if w == nil {
		return nil
	}
	pr := &progress{w: w, live: live, wall: clock.NewReal(), planned: planned(p.Steps), nextLog: time.Minute, lastDraw: -redraw}
	for _, k := range e.cfg.Keys.Progress {
		if j := e.layout.Index(k); j >= 0 {
			pr.keys, pr.names = append(pr.keys, j), append(pr.names, termtext.Escape(k))
		}
	}
	return pr
}

// planned is the protocol's duration as written: until steps count with
// their timeout, so it is an upper bound for them.
func planned(steps []*protocols.Step) time.Duration {
	var d time.Duration
	for _, s := range steps {
		var ramp time.Duration
		for _, r := range s.Ramp {
			ramp = max(ramp, r.Over)
		}
		body := s.Hold
		switch {
		case s.Until != nil:
			body = s.Until.Timeout
		case s.Sweep != nil:
			body = time.Duration(len(s.Sweep.Iterations())) * planned(s.Steps)
		case s.Repeat != nil && s.Repeat.Count > 0:
			body = time.Duration(s.Repeat.Count) * planned(s.Steps)
		case s.Repeat != nil:
			body = s.Repeat.For
		case len(s.Steps) > 0:
			body = planned(s.Steps)
		}
		d += ramp + body
	}
	return d
}

// stepStarted notes a new top-level step.
func (p *progress) stepStarted(path string, total int, title string, at time.Duration) {
	if p == nil {
		return
	}
	p.step = fmt.Sprintf("step %s/%d %q", path, total, title)
	if p.live {
		p.clear()
	}
	fmt.Fprintf(p.w, "%s at %s\n", p.step, units.FormatDuration(at))
}

// frame is called for every frame; it must stay cheap.
func (p *progress) frame(at time.Duration, frame []float64) {
	if p == nil {
		return
	}
	if !p.live {
		if at >= p.nextLog {
			p.nextLog += time.Minute
			fmt.Fprintf(p.w, "%s of %s: %s, %s\n", units.FormatDuration(at.Truncate(time.Second)), units.FormatDuration(p.planned), p.step, p.values(frame))
		}
		return
	}
	if p.ticks++; p.ticks&255 != 0 {
		return
	}
	if now := p.wall.Now(); now-p.lastDraw >= redraw {
		p.lastDraw = now
		fmt.Fprintf(p.w, "\r\x1b[K%s  %s / %s  %s", p.step, units.FormatDuration(at.Truncate(time.Second)), units.FormatDuration(p.planned), p.values(frame))
		p.drawn = true
	}
}

func (p *progress) values(frame []float64) string {
	var b strings.Builder
	for i, j := range p.keys {
		if i > 0 {
			b.WriteString("  ")
		}
		fmt.Fprintf(&b, "%s %.4g", p.names[i], frame[j])
	}
	return b.String()
}

func (p *progress) clear() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
}

// line writes a line of its own (an abort, the end). It is escaped
// (termtext): an abort reason quotes a protocol's criterion or a device's
// alarm text, which must not reach the terminal as control characters.
func (p *progress) line(format string, args ...any) {
	if p == nil {
		return
	}
	if p.live {
		p.clear()
	}
	fmt.Fprintln(p.w, termtext.Escape(fmt.Sprintf(format, args...)))
}
