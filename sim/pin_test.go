package sim_test

import (
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/sim"
)

func TestPinOutput(t *testing.T) {
	p := sim.NewPin("GPIO17", 17, clock.NewVirtual(time.Time{}))
	var got []gpio.Level
	p.OnOut(func(l gpio.Level) { got = append(got, l) })
	if err := p.Out(gpio.High); err != nil {
		t.Fatal(err)
	}
	if err := p.Out(gpio.Low); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != gpio.High || got[1] != gpio.Low {
		t.Errorf("OnOut saw %v, want [High Low]", got)
	}
	if p.Read() != gpio.Low || p.Func() != gpio.OUT_LOW {
		t.Errorf("output pin reads %s, function %s", p.Read(), p.Func())
	}
	if err := p.Drive(gpio.High); err == nil {
		t.Error("driving an output from outside accepted")
	}
	if err := p.PWM(gpio.DutyHalf, 0); err == nil {
		t.Error("PWM accepted")
	}
}

func TestPinInputEdges(t *testing.T) {
	clk := clock.NewVirtual(time.Time{})
	p := sim.NewPin("GPIO27", 27, clk) // the e-stop: pulled up, pressed to ground
	if err := p.In(gpio.PullUp, gpio.FallingEdge); err != nil {
		t.Fatal(err)
	}
	if p.Read() != gpio.High {
		t.Fatal("pulled-up input does not read high")
	}
	if p.WaitForEdge(0) {
		t.Fatal("edge without a change")
	}
	_ = p.Drive(gpio.Low)
	if p.Read() != gpio.Low {
		t.Fatal("driven low, reads high")
	}
	before := clk.Now()
	if !p.WaitForEdge(time.Second) || clk.Now() != before {
		t.Fatal("a falling edge that happened was not reported at once")
	}
	// No further edge: the wait takes the whole timeout of virtual time.
	if p.WaitForEdge(time.Second) {
		t.Fatal("edge reported twice")
	}
	if d := clk.Now() - before; d != time.Second {
		t.Errorf("timed-out wait advanced the clock by %v, want 1s", d)
	}
	// Released, the pull-up brings it back high: a rising edge, not waited for.
	p.Release()
	if p.Read() != gpio.High || p.WaitForEdge(0) {
		t.Error("release: level or edge wrong")
	}
	// In forgets edges.
	_ = p.Drive(gpio.Low)
	_ = p.In(gpio.PullNoChange, gpio.BothEdges)
	if p.WaitForEdge(0) {
		t.Error("In did not forget an earlier edge")
	}
	_ = p.Drive(gpio.High)
	if !p.WaitForEdge(0) {
		t.Error("rising edge not seen with BothEdges")
	}
	_ = p.Drive(gpio.Low)
	if !p.WaitForEdge(0) {
		t.Error("falling edge not seen with BothEdges")
	}
	_ = p.In(gpio.PullNoChange, gpio.RisingEdge)
	_ = p.Drive(gpio.High)
	_ = p.Drive(gpio.Low)
	if !p.WaitForEdge(0) || p.WaitForEdge(0) {
		t.Error("RisingEdge: want the rise reported once and the fall not at all")
	}
	if err := p.In(gpio.PullDown, gpio.NoEdge); err != nil || p.WaitForEdge(time.Second) {
		t.Error("NoEdge: WaitForEdge must return false")
	}
}

func TestPinWaitOnRealClock(t *testing.T) {
	p := sim.NewPin("GPIO22", 22, clock.NewReal())
	_ = p.In(gpio.PullDown, gpio.RisingEdge)
	go func() {
		time.Sleep(20 * time.Millisecond)
		_ = p.Drive(gpio.High)
	}()
	start := time.Now()
	if !p.WaitForEdge(5 * time.Second) {
		t.Fatal("edge driven from another goroutine not seen")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("woken after %v: the Drive did not end the wait", d)
	}
	// Without end: returns when driven, even on a virtual clock.
	v := sim.NewPin("GPIO23", 23, clock.NewVirtual(time.Time{}))
	_ = v.In(gpio.PullUp, gpio.FallingEdge)
	go func() {
		time.Sleep(10 * time.Millisecond)
		_ = v.Drive(gpio.Low)
	}()
	if !v.WaitForEdge(-1) {
		t.Fatal("endless wait ended without an edge")
	}
}

func TestDRDYPinIsTheChips(t *testing.T) {
	adc, err := sim.NewADS131M08(sim.ADS131M08Config{Clock: clock.NewVirtual(time.Time{})})
	if err != nil {
		t.Fatal(err)
	}
	p := adc.DRDY()
	if p.Out(gpio.Low) == nil || p.Drive(gpio.Low) == nil {
		t.Error("the host or a test could drive the chip's output")
	}
	var _ gpio.PinIO = p
}
