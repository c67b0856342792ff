package sim_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"periph.io/x/devices/v3/pca9685"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/pumpctl"
	"github.com/mockloop/mockloop/pumpctl/mcp4725"
	"github.com/mockloop/mockloop/sim"
	"github.com/mockloop/mockloop/units"
)

// biventricular is Simaan's left heart with a right heart and a pulmonary
// circuit closing the loop (sim.yaml's right-sided constants): the systemic
// resistance drains into the right atrium, the pulmonary veins into the
// left atrium.
func biventricular() sim.NetworkSpec {
	spec := sim.SimaanNetwork()
	for i := range spec.Links {
		if spec.Links[i].Name == "systemic" {
			spec.Links[i].To = "ra"
		}
	}
	spec.Nodes = append(spec.Nodes,
		sim.NodeSpec{Name: "ra", C: 4, V0: 20, Volume: 20 + 4*4},
		sim.NodeSpec{Name: sim.NodeRV, V0: 10, P0: 0.216, Lambda: 0.023, Drive: 0.4, Volume: 120},
		sim.NodeSpec{Name: "pa", C: 2.7, V0: 100, Volume: 100 + 2.7*15})
	spec.Links = append(spec.Links,
		sim.LinkSpec{Name: "tricuspid", Kind: sim.Valve, From: "ra", To: sim.NodeRV, R: 0.0237},
		sim.LinkSpec{Name: "pulmonary_valve", Kind: sim.Valve, From: sim.NodeRV, To: "pa", R: 0.0055},
		sim.LinkSpec{Name: sim.LinkPulmonary, Kind: sim.Resistor, From: "pa", To: "la", R: 0.08})
	return spec
}

// rightHeartBench is the bench with the RV drive's MCP4725 at 0x61 (5 V =
// 100 % of the LV drive) and the pulmonary valve on PCA9685 channel 2
// (open 0.02 mmHg·s/ml), as sim.yaml has them.
func rightHeartBench(clk clock.Clock, spec sim.NetworkSpec) sim.BenchConfig {
	return sim.BenchConfig{
		Clock: clk, Network: &spec,
		Thermal: sim.DefaultThermal(), Temperature: 37, Volume: 2000,
		SPIPort: "SPI0.0", DRDYPin: "GPIO25", I2CBus: "I2C1",
		DACAddr: 0x60, DACVref: 5, DriveFullScale: 5,
		PWMAddr: pca9685.I2CAddr, ValveChannel: 0, ValveROpen: 0.3,
		RVDrive:        &sim.RVDriveConfig{Addr: 0x61, Vref: 5, FullScale: 100},
		PulmonaryValve: &sim.ValveConfig{Channel: 2, ROpen: 0.02},
		SlowADCAddr:    0x48,
	}
}

// TestRightHeartActuatorsActOnThePhysicsThroughTheirChips: the RV drive's
// DAC code reaches the rv chamber's drive and the pulmonary valve's PWM
// duty the pulmonary resistance, through the emulated MCP4725 and PCA9685
// driven by the real drivers; a weaker RV lowers the pulmonary arterial
// pressure and raises the right atrium's, a higher pulmonary resistance
// raises the pulmonary arterial pressure.
func TestRightHeartActuatorsActOnThePhysicsThroughTheirChips(t *testing.T) {
	clk := clock.NewVirtual(time.Unix(0, 0))
	b, err := sim.NewBench(rightHeartBench(clk, biventricular()))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	dac, err := mcp4725.New(b.I2C(), "rv_drive", mcp4725.Opts{Addr: 0x61, Vref: 5})
	if err != nil {
		t.Fatal(err)
	}
	rv := &pumpctl.PumpDrive{Out: dac, FullScale: 100, Vref: 5, Dim: units.Percent}
	pwm, err := pca9685.NewI2C(b.I2C(), pca9685.I2CAddr)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pumpctl.NewValve("pulmonary_valve", pwm, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	pv := &pumpctl.ResistanceValve{Out: out, ROpen: 0.02, MaxDuty: 0.9}
	lv, err := mcp4725.New(b.I2C(), "lv_drive", mcp4725.Opts{Addr: 0x60, Vref: 5})
	if err != nil {
		t.Fatal(err)
	}
	w, err := pumpctl.NewCardiacWaveform(75, 2, 0.06)
	if err != nil {
		t.Fatal(err)
	}
	// beat drives the LV through its DAC for d and returns the mean
	// pulmonary arterial and right atrial pressures over the last 4.8 s.
	beat := func(d time.Duration) (pap, rap float64) {
		t.Helper()
		n := 0
		for end := clk.Now() + d; clk.Now() < end; {
			a, _ := w.Advance(time.Millisecond)
			if err := lv.SetVolts(a); err != nil { // 5 mmHg/ml at 5 V
				t.Fatal(err)
			}
			clk.Advance(time.Millisecond)
			b.Pump(clk.Now()) // advances the physics to now
			if end-clk.Now() < 4800*time.Millisecond {
				s := b.State()
				pap, rap, n = pap+s.PAP, rap+s.RAP, n+1
			}
		}
		return pap / float64(n), rap / float64(n)
	}
	set := func(drive, r float64) {
		t.Helper()
		if err := rv.Set(drive); err != nil {
			t.Fatal(err)
		}
		if err := pv.SetResistance(r); err != nil {
			t.Fatal(err)
		}
		st, err := dac.Read()
		if err != nil {
			t.Fatal(err)
		}
		if want := int(math.Round(drive / 100 * 4096)); int(st.Code) != want {
			t.Errorf("RV drive %g %%: the DAC's register holds %d, want %d", drive, st.Code, want)
		}
		if got, _ := b.Loop().Drive(sim.NodeRV); math.Abs(got-float64(st.Code)/4096) > 1e-12 {
			t.Errorf("RV drive %g %%: code %d, the rv chamber's drive %g, want %g", drive, st.Code, got, float64(st.Code)/4096)
		}
		if got, _ := b.Loop().Resistance(sim.LinkPulmonary); math.Abs(got-pv.Resistance(out.Duty())) > 1e-12 || math.Abs(got-r) > 0.002*r {
			t.Errorf("pulmonary resistance %g: duty %g gave the link %g mmHg·s/ml", r, out.Duty(), got)
		}
	}
	set(40, 0.08)
	pap0, rap0 := beat(20 * time.Second)
	set(5, 0.08)
	pap1, rap1 := beat(20 * time.Second)
	set(5, 0.3)
	pap2, _ := beat(20 * time.Second)
	t.Logf("RV 40 %%: mean PAP %.1f, RAP %.1f mmHg; RV 5 %%: %.1f, %.1f; and PVR 0.3: mean PAP %.1f", pap0, rap0, pap1, rap1, pap2)
	if !(pap1 < pap0-2) || !(rap1 > rap0+2) {
		t.Errorf("the RV's drive from 40 %% to 5 %%: mean PAP %.1f → %.1f, RAP %.1f → %.1f mmHg; want PAP down and RAP up by 2 mmHg or more", pap0, pap1, rap0, rap1)
	}
	if !(pap2 > pap1+1) {
		t.Errorf("pulmonary resistance 0.08 → 0.3 mmHg·s/ml: mean PAP %.1f → %.1f mmHg, want up by 1 mmHg or more", pap1, pap2)
	}
}

// TestRightHeartActuatorsNeedTheirPlaceInTheCirculation: a bench refuses an
// RV drive without an rv chamber, a pulmonary valve without a pulmonary
// resistance or on a channel another valve has, and an RV drive at the LV
// drive's address.
func TestRightHeartActuatorsNeedTheirPlaceInTheCirculation(t *testing.T) {
	clk := clock.NewVirtual(time.Unix(0, 0))
	for _, c := range []struct {
		name string
		edit func(*sim.BenchConfig)
		want string
	}{
		{"no rv", func(bc *sim.BenchConfig) { n := sim.SimaanNetwork(); bc.Network, bc.PulmonaryValve = &n, nil },
			"the RV drive needs a circulation with a chamber rv"},
		{"no pulmonary", func(bc *sim.BenchConfig) { n := sim.SimaanNetwork(); bc.Network, bc.RVDrive = &n, nil },
			"the pulmonary valve needs a circulation with a resistance pulmonary"},
		{"left heart loop", func(bc *sim.BenchConfig) {
			bc.Network, bc.Loop, bc.Initial, bc.PulmonaryValve = nil, sim.SimaanNormal(), sim.SimaanInitial(), nil
		}, "the RV drive needs a circulation with a chamber rv"},
		{"channel taken", func(bc *sim.BenchConfig) { bc.PulmonaryValve.Channel = 0 },
			"pulmonary valve on PCA9685 channel 0: not a free channel"},
		{"preload's channel", func(bc *sim.BenchConfig) {
			bc.Preload = &sim.PreloadConfig{Channel: 2, Head: 30, Line: 0.2}
		}, "not a free channel"},
		{"no full scale", func(bc *sim.BenchConfig) { bc.RVDrive.FullScale = 0 }, "full scale"},
		{"valve shut open", func(bc *sim.BenchConfig) { bc.PulmonaryValve.ROpen = math.NaN() }, "must be finite and > 0"},
		{"address taken", func(bc *sim.BenchConfig) { bc.RVDrive.Addr = 0x60 }, "address 0x0060 already taken"},
	} {
		t.Run(c.name, func(t *testing.T) {
			bc := rightHeartBench(clk, biventricular())
			c.edit(&bc)
			b, err := sim.NewBench(bc)
			if err == nil {
				b.Close()
				t.Fatalf("bench built, want %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("%v, want %q", err, c.want)
			}
		})
	}
}
