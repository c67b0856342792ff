package rig

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/mockloop/mockloop/dut"
	"github.com/mockloop/mockloop/runlog"
)

// dutLog decides which frames of the DUT link become dut.tx and dut.rx
// events, and counts them all for the dut.summary events. On the wall
// clock it keeps every frame; on virtual time the frames of an exchange
// that changed nothing (a STATUS whose reply differs from the last in its
// readings only, a PING answered OK) are counted and left out:
// runlog.DUTSummaryData says exactly which are kept, and why.
//
// An exchange's frames wait in pending until its reply says whether they
// are worth keeping; frames that are kept whatever it says (an ALARM, a
// dropped line) wait with them, so that the record keeps the line's order.
// It is guarded by the dutLink's mu.
type dutLog struct {
	whole bool   // keep every frame
	link  string // runlog.DUTLink*

	pending []pendingFrame
	seq     uint16 // of the pending request
	verb    string
	keep    bool // the pending exchange is kept whole

	lastStatus, lastTLM string // their fields that are not readings; "" none yet

	// n counts since the last step summary, total since the link was
	// opened; stats is the driver's at the last step summary.
	n, total     dutCounts
	opened, from time.Duration
	stats        dut.Stats
}

// pendingFrame is a frame of the link (f), or another event of the DUT's
// (ev, when frame is false), waiting for its exchange's reply. A frame's
// event is made only if it is kept: most are not.
type pendingFrame struct {
	f     dut.FrameEvent
	ev    runlog.Event
	keep  bool // kept whatever the exchange's reply says
	frame bool
}

// dutCounts are the counts a dut.summary has from the rig's side of the
// link; the driver's Stats have the rest.
type dutCounts struct {
	exchanges               map[string]int64
	frames, logged, retries int64
	naks                    int64
}

func (c *dutCounts) add(o dutCounts) {
	for k, v := range o.exchanges {
		c.exchanges[k] += v
	}
	c.frames, c.logged, c.retries, c.naks = c.frames+o.frames, c.logged+o.logged, c.retries+o.retries, c.naks+o.naks
}

func newDUTLog(whole bool, link string, at time.Duration) *dutLog {
	return &dutLog{whole: whole, link: link, opened: at, from: at,
		n: dutCounts{exchanges: map[string]int64{}}, total: dutCounts{exchanges: map[string]int64{}}}
}

// readingFields are the fields of STATUS and TLM that the frames record as
// channels (dut.rpm, dut.current, dut.power, dut.purge), and TLM's time:
// a change in them alone is no change of the device's state.
var readingFields = []string{"t", "rpm", "cur", "pwr", "purge"}

// state is what of a reply's fields is the device's state: those that are
// not readings, as written.
func state(f dut.Frame) string {
	var b strings.Builder
	for _, a := range f.Args {
		k, _, _ := strings.Cut(a, "=")
		if !slices.Contains(readingFields, k) {
			b.WriteString(a)
			b.WriteByte(' ')
		}
	}
	return f.Verb + " " + b.String()
}

// frame takes one frame of the link and returns the events to record now
// (appended to out).
func (l *dutLog) frame(f dut.FrameEvent, out []runlog.Event) []runlog.Event {
	l.n.frames++
	switch {
	case f.Dir == dut.Sent && f.Attempt == 0:
		l.n.exchanges[f.Frame.Verb]++
	case f.Dir == dut.Sent:
		l.n.retries++
	case f.Err == nil && f.Frame.Seq != 0 && f.Frame.Verb == "ERR":
		l.n.naks++
	}
	p := pendingFrame{f: f, frame: true}
	if l.whole {
		return l.emit(out, p)
	}
	switch {
	case f.Dir == dut.Sent && f.Attempt == 0:
		out = l.abandon(out)
		l.seq, l.verb, l.keep = f.Frame.Seq, f.Frame.Verb, f.Frame.Verb != "STATUS" && f.Frame.Verb != "PING"
		l.pending = append(l.pending, p)
	case f.Dir == dut.Sent: // a retry
		l.keep = true
		l.pending = append(l.pending, p)
	case f.Err != nil:
		return l.add(out, p)
	case f.Frame.Seq == 0:
		keep := true
		if f.Frame.Verb == "TLM" {
			s := state(f.Frame)
			keep, l.lastTLM = s != l.lastTLM, s
		}
		if keep {
			return l.add(out, p)
		}
	case len(l.pending) == 0 || f.Frame.Seq != l.seq: // answers no outstanding request
		return l.add(out, p)
	default: // the reply
		s := state(f.Frame)
		switch {
		case f.Frame.Verb == "ERR":
			l.keep = true
		case l.verb == "STATUS":
			l.keep = l.keep || s != l.lastStatus
			l.lastStatus = s
		case l.verb == "PING":
			l.keep = l.keep || len(f.Frame.Args) > 0
		}
		l.pending = append(l.pending, p)
		return l.settle(out)
	}
	return out
}

// add keeps p, a frame or another event of the DUT's (an alarm that rose,
// addEvent): at once, or after the frames pending before it.
func (l *dutLog) add(out []runlog.Event, p pendingFrame) []runlog.Event {
	if len(l.pending) == 0 {
		return l.emit(out, p)
	}
	p.keep = true
	l.pending = append(l.pending, p)
	return out
}

// addEvent keeps ev, an event of the DUT's that is not a frame.
func (l *dutLog) addEvent(out []runlog.Event, ev runlog.Event) []runlog.Event {
	return l.add(out, pendingFrame{ev: ev})
}

// abandon ends a pending exchange that got no reply: kept whole, the
// evidence of a request left unanswered.
func (l *dutLog) abandon(out []runlog.Event) []runlog.Event {
	if len(l.pending) > 0 {
		l.keep = true
	}
	return l.settle(out)
}

// settle ends the pending exchange: its frames are kept if it is kept,
// else those that are kept anyway.
func (l *dutLog) settle(out []runlog.Event) []runlog.Event {
	for _, p := range l.pending {
		if l.keep || p.keep {
			out = l.emit(out, p)
		}
	}
	clear(l.pending)
	l.pending = l.pending[:0]
	return out
}

func (l *dutLog) emit(out []runlog.Event, p pendingFrame) []runlog.Event {
	if !p.frame {
		return append(out, p.ev)
	}
	l.n.logged++
	return append(out, frameEvent(p.f))
}

// summary is the dut.summary event of the counts since the last step
// summary (run false, which starts the next count), or of the whole run
// since the link was opened (run true), at now; st is the driver's
// counters.
func (l *dutLog) summary(run bool, now time.Duration, st dut.Stats) runlog.Event {
	c, from, since, scope := l.n, l.from, l.stats, "step"
	if run {
		c = dutCounts{exchanges: map[string]int64{}}
		c.add(l.total)
		c.add(l.n)
		from, since, scope = l.opened, dut.Stats{}, "run"
	} else {
		l.total.add(l.n)
		l.n, l.from, l.stats = dutCounts{exchanges: map[string]int64{}}, now, st
	}
	logged := runlog.DUTLoggedChanges
	if l.whole {
		logged = runlog.DUTLoggedAll
	}
	n := func(a, b uint64) int64 { return int64(a - b) }
	d := runlog.DUTSummaryData{Scope: scope, FromS: from.Seconds(), Link: l.link, Logged: logged,
		Exchanges: c.exchanges, Frames: c.frames, FramesLogged: c.logged, Retries: c.retries,
		TLM: n(st.TLMFrames, since.TLMFrames), Alarms: n(st.AlarmFrames, since.AlarmFrames),
		Reconnects: n(st.Reconnects, since.Reconnects),
		Errors: runlog.DUTErrors{NAK: c.naks, NoReply: n(st.NoReply, since.NoReply),
			BadCRC: n(st.BadCRC, since.BadCRC), BadSyntax: n(st.BadSyntax, since.BadSyntax),
			TooLong: n(st.TooLong, since.TooLong), SeqMismatch: n(st.SeqMismatch, since.SeqMismatch),
			Unexpected: n(st.Unexpected, since.Unexpected), LinkLost: n(st.LinkLost, since.LinkLost)}}
	return runlog.NewEvent(runlog.KindDUTSummary, "", summaryText(d), d)
}

// summaryText says a dut.summary in words: "DUT link in-process, changes
// logged: 6003 exchanges (STATUS 6000, HELLO 1, LEVEL 1, MODE 1), 12006
// frames, 8 of them logged; no errors".
func summaryText(d runlog.DUTSummaryData) string {
	var total int64
	verbs := slices.Collect(maps.Keys(d.Exchanges))
	slices.SortFunc(verbs, func(a, b string) int {
		if c := cmp.Compare(d.Exchanges[b], d.Exchanges[a]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	by := make([]string, len(verbs))
	for i, v := range verbs {
		total += d.Exchanges[v]
		by[i] = fmt.Sprintf("%s %d", v, d.Exchanges[v])
	}
	msg := fmt.Sprintf("DUT link %s, %s logged: %d exchanges", d.Link, d.Logged, total)
	if len(by) > 0 {
		msg += " (" + strings.Join(by, ", ") + ")"
	}
	msg += fmt.Sprintf(", %d frames, %d of them logged", d.Frames, d.FramesLogged)
	e := d.Errors
	var errs []string
	for _, c := range []struct {
		name string
		n    int64
	}{{"no reply", e.NoReply}, {"NAK", e.NAK}, {"bad CRC", e.BadCRC}, {"bad syntax", e.BadSyntax}, {"too long", e.TooLong},
		{"reply to no request", e.SeqMismatch}, {"unexpected", e.Unexpected}, {"link lost", e.LinkLost}} {
		if c.n > 0 {
			errs = append(errs, fmt.Sprintf("%s %d", c.name, c.n))
		}
	}
	if len(errs) == 0 {
		msg += "; no errors"
	} else {
		msg += "; errors: " + strings.Join(errs, ", ")
	}
	if d.Retries > 0 {
		msg += fmt.Sprintf("; %d retries", d.Retries)
	}
	if d.Reconnects > 0 {
		msg += fmt.Sprintf("; %d reconnects", d.Reconnects)
	}
	return msg
}
