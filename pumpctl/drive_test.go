package pumpctl

import (
	"errors"
	"math"
	"testing"

	"github.com/mockloop/mockloop/units"
)

type fakeOut struct {
	volts, duty float64
	safe        int
	fail        bool
}

func (f *fakeOut) Name() string { return "fake" }
func (f *fakeOut) Safe() error  { f.safe++; f.volts, f.duty = 0, 0; return nil }
func (f *fakeOut) SetVolts(v float64) error {
	if f.fail {
		return errors.New("nack")
	}
	f.volts = v
	return nil
}
func (f *fakeOut) SetDuty(d float64) error { f.duty = d; return nil }

func TestPumpDriveScales(t *testing.T) {
	out := &fakeOut{}
	d := &PumpDrive{Out: out, FullScale: 5, Vref: 5, Dim: units.Elastance}
	if err := d.Set(1.94); err != nil || math.Abs(out.volts-1.94) > 1e-12 {
		t.Errorf("1.94 mmHg/ml → %g V (%v)", out.volts, err)
	}
	d.FullScale = 4
	d.Set(2)
	if math.Abs(out.volts-2.5) > 1e-12 {
		t.Errorf("2 of 4 mmHg/ml full scale at 5 V → %g V, want 2.5", out.volts)
	}
	for _, e := range []float64{-0.1, 4.01, math.NaN()} {
		if err := d.Set(e); err == nil {
			t.Errorf("%g accepted", e)
		}
	}
	out.fail = true
	if err := d.Set(1); err == nil {
		t.Error("DAC failure not reported")
	}
	if d.Safe(); out.safe != 1 || out.volts != 0 {
		t.Error("safe state not reached")
	}
	// The RV drive: a share of the LV drive's waveform, 100 % at Vref.
	rv := &PumpDrive{Out: &fakeOut{}, FullScale: 100, Vref: 5, Dim: units.Percent}
	if err := rv.Set(40); err != nil || rv.Out.(*fakeOut).volts != 2 {
		t.Errorf("40 %% of 100 %% at 5 V → %g V (%v), want 2", rv.Out.(*fakeOut).volts, err)
	}
	if err := rv.Set(120); err == nil || err.Error() != "pumpctl: fake 120 % is outside the drive's 0..100 %" {
		t.Errorf("120 %%: %v", err)
	}
}

func TestResistanceValveLaw(t *testing.T) {
	out := &fakeOut{}
	v := &ResistanceValve{Out: out, ROpen: 0.3, MaxDuty: 0.9}
	for _, r := range []float64{0.3, 0.5, 1, 2, 3, 29.9} {
		if err := v.SetResistance(r); err != nil {
			t.Fatalf("R %g: %v", r, err)
		}
		if got := v.Resistance(out.duty); math.Abs(got-r) > 1e-9*r {
			t.Errorf("R %g → duty %g → R %g", r, out.duty, got)
		}
	}
	if err := v.SetResistance(1); err != nil || math.Abs(out.duty-(1-math.Sqrt(0.3))) > 1e-12 {
		t.Errorf("1 mmHg·s/ml duty %g", out.duty)
	}
	for _, r := range []float64{0.2, 31, math.NaN()} {
		if err := v.SetResistance(r); err == nil {
			t.Errorf("R %g accepted", r)
		}
	}
}

func TestPreloadValveLaw(t *testing.T) {
	out := &fakeOut{}
	v := &PreloadValve{Out: out, Head: 30}
	for _, h := range []float64{0, 0.5, 12, 29.99, 30} {
		if err := v.SetHead(h); err != nil {
			t.Fatalf("head %g: %v", h, err)
		}
		if got := out.duty * v.Head; math.Abs(got-h) > 1e-12 {
			t.Errorf("head %g mmHg → duty %g → %g mmHg", h, out.duty, got)
		}
	}
	out.duty = 0.4
	for _, h := range []float64{-0.1, 30.01, math.NaN(), math.Inf(1)} {
		if err := v.SetHead(h); err == nil {
			t.Errorf("head %g accepted", h)
		}
	}
	if out.duty != 0.4 {
		t.Errorf("a refused head moved the valve to duty %g", out.duty)
	}
	if v.Safe(); out.safe != 1 || out.duty != 0 {
		t.Error("safe state not reached")
	}
}
