package rig

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/units"
)

// Latencies summarises the wake-ups of one loop over a qualification.
type Latencies struct {
	P50, P99, P999, Max time.Duration
	// Missed counts the cycles the loop did not serve: conversions lost,
	// or deadlines passed by a whole period.
	Missed, Cycles int64
}

// TimingResult is a bench computer's qualification (`mockloop timing`).
type TimingResult struct {
	Rig      string
	Rate     float64 // Hz
	Each     time.Duration
	Realtime clock.Realtime
	// Loop is the rig's sampling loop: for each conversion, how late its
	// data-ready was seen (above the least of the last 64: the chip does
	// not stamp its conversions, see ads131m08.Dev.Latency), and the
	// conversions lost.
	Loop Latencies
	// Bare is a bare absolute-deadline loop on the same thread, at the
	// same rate and priority: how late each wake-up came.
	Bare Latencies
}

// Ratio is the loop's p99 over the bare loop's: what the sampling loop
// adds to what the computer gives any loop.
func (r *TimingResult) Ratio() float64 {
	return float64(r.Loop.P99) / float64(max(r.Bare.P99, time.Microsecond))
}

// MeetsGoal reports whether the computer qualifies: the loop's p99 within
// 1.2 × the bare loop's, and no cycle missed per 10⁶.
func (r *TimingResult) MeetsGoal() bool {
	return r.Ratio() <= 1.2 && float64(r.Loop.Missed)*1e6 <= float64(r.Loop.Cycles) && float64(r.Bare.Missed)*1e6 <= float64(r.Bare.Cycles)
}

// Timing qualifies the computer the rig runs on, as cyclictest does a
// kernel: for each seconds it runs the rig's sampling loop on the wall
// clock (the ADC's data-ready paces it, as in a run: the emulated one on a
// simulated rig, the chip on hardware), then a bare loop sleeping to
// absolute deadlines at the sample rate, both on one locked thread at the
// priority given (0: normal scheduling). Nothing moves: the plant stays in
// its safe state, and the DUT is not opened.
func Timing(ctx context.Context, cfg *Config, each time.Duration, priority int) (*TimingResult, error) {
	// It opens the bench and drives it to its safe state: never under a
	// run.
	lock, err := holdBenchFor(cfg, "timing")
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	c := *cfg
	c.DUT = nil
	cals := map[string]daq.Calibration{}
	for name, in := range c.Inputs {
		cals[name] = in.Nominal
	}
	clk := clock.NewReal()
	pl, err := newPlant(&c, clk, cals)
	if err != nil {
		return nil, err
	}
	defer pl.Close()
	p := pl.(*busPlant)
	defer p.Safe()

	rt, release := clock.LockRealtime(priority, c.Realtime.LockMemory)
	defer release()
	res := &TimingResult{Rig: c.Name, Rate: c.SampleRate, Each: each, Realtime: rt}
	period := p.adc.Period()
	n := int(each/period) + 16
	lat := make([]time.Duration, 0, n) // nothing allocated while measuring

	frame := make([]float64, len(p.layout))
	last, _ := p.Read(frame)
	lastRead := clk.Now()
	for end := lastRead + each; clk.Now() < end; {
		if err := clk.SleepUntil(ctx, adcWake(lastRead, period)); err != nil {
			return nil, err
		}
		conv, err := p.Read(frame)
		if conv > last {
			lastRead = clk.Now()
			res.Loop.Missed += conv - last - 1
			res.Loop.Cycles += conv - last
			last = conv
		}
		if err == nil && len(lat) < cap(lat) {
			lat = append(lat, p.adc.Latency())
		}
	}
	res.Loop.summarise(lat)

	lat = lat[:0]
	next := clk.Now()
	for end := next + each; next < end; {
		next += period
		if err := clk.SleepUntil(ctx, next); err != nil {
			return nil, err
		}
		late := clk.Now() - next
		res.Bare.Cycles++
		if late >= period { // the deadlines it slept through
			skipped := int64(late / period)
			res.Bare.Missed += skipped
			res.Bare.Cycles += skipped
			next += time.Duration(skipped) * period
		}
		if len(lat) < cap(lat) {
			lat = append(lat, late)
		}
	}
	res.Bare.summarise(lat)
	return res, nil
}

func (l *Latencies) summarise(lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	q := func(f float64) time.Duration { return lat[min(len(lat)-1, int(math.Ceil(f*float64(len(lat))))-1)] }
	l.P50, l.P99, l.P999, l.Max = q(0.5), q(0.99), q(0.999), lat[len(lat)-1]
}

// String is the qualification as a table, with the verdict.
func (r *TimingResult) String() string {
	us := func(d time.Duration) string { return fmt.Sprintf("%.1f µs", float64(d)/1e3) }
	row := func(name string, l Latencies) string {
		return fmt.Sprintf("%-5s %10s %10s %10s %10s %8d %10d\n", name, us(l.P50), us(l.P99), us(l.P999), us(l.Max), l.Missed, l.Cycles)
	}
	verdict := "meets the goal"
	if !r.MeetsGoal() {
		verdict = "does NOT meet the goal"
	}
	return fmt.Sprintf("rig %s at %g Hz, %s each loop, %s\n", r.Rig, r.Rate, units.FormatDuration(r.Each), r.Realtime) +
		fmt.Sprintf("%-5s %10s %10s %10s %10s %8s %10s\n", "", "p50", "p99", "p99.9", "max", "missed", "cycles") +
		row("loop", r.Loop) + row("bare", r.Bare) +
		fmt.Sprintf("loop p99 / bare p99 = %.2f (goal ≤ 1.2), missed per 10⁶ cycles: loop %.1f, bare %.1f (goal 0): %s\n",
			r.Ratio(), perMillion(r.Loop), perMillion(r.Bare), verdict)
}

func perMillion(l Latencies) float64 {
	if l.Cycles == 0 {
		return 0
	}
	return float64(l.Missed) * 1e6 / float64(l.Cycles)
}
