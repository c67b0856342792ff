package ads1115_test

import (
	"fmt"
	"log"
	"time"

	"periph.io/x/devices/v3/ads1x15"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/daq/ads1115"
	"github.com/mockloop/mockloop/sim"
)

// The driver converts two single-ended inputs of an emulated ADS1115 on an
// emulated I²C bus. Poll never waits: it starts a conversion, or collects
// one that the chip has finished, so the caller polls once per sample
// period of its own loop — here 1 ms of virtual time.
func Example() {
	clk := clock.NewVirtual(time.Date(2026, 11, 20, 23, 15, 2, 0, time.UTC))
	bus := sim.NewI2CBus("I2C1")
	// AIN0 is a temperature sensor at 1.5 V, AIN1 a level sensor at 0.75 V.
	chip := sim.NewADS1115(clk, func(now time.Duration, input int) float64 {
		return []float64{1.5, 0.75, 0, 0}[input]
	})
	if err := bus.Attach(ads1115.MinAddr, chip); err != nil {
		log.Fatal(err)
	}
	adc, err := ads1115.New(bus, ads1115.Opts{Inputs: []ads1115.Input{
		{Channel: ads1x15.Channel0, FullScale: 2.048},
		{Channel: ads1x15.Channel1, FullScale: 2.048},
	}})
	if err != nil {
		log.Fatal(err)
	}
	v := make([]float64, adc.Channels())
	for range 5 {
		if err := adc.Poll(v); err != nil {
			log.Fatal(err)
		}
		clk.Advance(time.Millisecond)
	}
	fmt.Println(adc)
	fmt.Printf("AIN0 %.4f V, AIN1 %.4f V\n", v[0], v[1])
	// Output:
	// ads1115 on I2C1(72)
	// AIN0 1.5000 V, AIN1 0.7500 V
}
