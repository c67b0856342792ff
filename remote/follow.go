package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/mockloop/mockloop/internal/termtext"
	"github.com/mockloop/mockloop/serve"
	"github.com/mockloop/mockloop/units"
)

// ErrWaitExpired is Follow's error when the entry waited in the queue
// longer than FollowOptions.Wait; the entry is still queued (Cancel it).
var ErrWaitExpired = errors.New("remote: gave up waiting in the queue")

// FollowOptions say how to follow an entry.
type FollowOptions struct {
	// Wait bounds the time the entry may wait in the queue before it
	// starts (0: as long as it takes). A run that has started is followed
	// to its end however long it lasts.
	Wait time.Duration
	// Interval is the time between two looks at the entry; 0 is 1 s.
	Interval time.Duration
	// Observe, when set, is given the entry at each look.
	Observe func(Entry)
}

// Ended reports whether an entry is in a final state.
func Ended(s serve.EntryState) bool {
	return s == serve.EntryDone || s == serve.EntryCancelled || s == serve.EntryFailed
}

// Follow watches an entry (by queue id or run id) until it ends, and
// returns it: polling, so that a dropped connection costs one look, which
// is retried (Config.Outage). It never changes the entry; ctx's end stops
// the following only.
func (c *Client) Follow(ctx context.Context, id string, opt FollowOptions) (Entry, error) {
	start := time.Now()
	every := opt.Interval
	if every <= 0 {
		every = time.Second
	}
	for {
		e, err := c.Entry(ctx, id)
		if err != nil {
			return e, err
		}
		if opt.Observe != nil {
			opt.Observe(e)
		}
		if Ended(e.State) {
			return e, nil
		}
		if opt.Wait > 0 && e.State == serve.EntryQueued && time.Since(start) > opt.Wait {
			return e, ErrWaitExpired
		}
		select {
		case <-ctx.Done():
			return e, ctx.Err()
		case <-time.After(every):
		}
	}
}

// Progress prints what a follower sees, as `mockloop run` prints a local
// run's progress (one line per top-level step, and a periodic line): the
// place in the queue while waiting, the run's start, its steps. Every text
// from the server is escaped (termtext) before it reaches a terminal.
type Progress struct {
	W     io.Writer
	Every time.Duration // the periodic line; 0 is one a minute

	pos      int
	state    serve.EntryState
	errText  string
	step     string
	started  time.Time
	lastLine time.Time
	prompt   string
}

// Observe prints what changed since the last look at the entry.
func (p *Progress) Observe(e Entry) {
	if p.W == nil {
		return
	}
	esc := termtext.Escape
	now := time.Now()
	pos := -1
	if e.Position != nil {
		pos = *e.Position
	}
	if e.State == serve.EntryQueued && (pos != p.pos || p.state != e.State) {
		fmt.Fprintf(p.W, "queued %s: position %d on the queue (0 = next)\n", esc(e.ID), pos)
	}
	if e.State == serve.EntryQueued && e.Error != "" && e.Error != p.errText {
		fmt.Fprintf(p.W, "%s\n", esc(e.Error))
	}
	if e.State == serve.EntryRunning && p.state != serve.EntryRunning && e.RunID != nil {
		p.started, p.lastLine = now, now
		fmt.Fprintf(p.W, "run %s of protocol %s started\n", esc(*e.RunID), esc(e.Protocol))
	}
	if e.State == serve.EntryRunning && e.Step != nil {
		step := fmt.Sprintf("step %v/%v %q", e.Step["index"], e.Step["total"], fmt.Sprint(e.Step["title"]))
		if step != p.step {
			p.step, p.lastLine = step, now
			at, _ := e.Step["t"].(float64)
			fmt.Fprintf(p.W, "%s at %s\n", esc(step), units.FormatDuration(time.Duration(at*float64(time.Second))))
		}
	}
	every := p.Every
	if every <= 0 {
		every = time.Minute
	}
	if e.State == serve.EntryRunning && now.Sub(p.lastLine) >= every {
		p.lastLine = now
		fmt.Fprintf(p.W, "running for %s: %s\n", now.Sub(p.started).Truncate(time.Second), esc(p.step))
	}
	p.prompted(e)
	p.pos, p.state, p.errText = pos, e.State, e.Error
}

// prompted says once that the run asks a question, which is answered at
// the bench view: the hook for issue 19's prompts (an entry's "prompt").
func (p *Progress) prompted(e Entry) {
	text := string(e.Prompt)
	if text == "" || text == "null" || text == p.prompt {
		return
	}
	p.prompt = text
	fmt.Fprintf(p.W, "the run asks: %s — answer it at the bench view\n", termtext.Escape(text))
}
