package ads131m08_test

import (
	"fmt"
	"log"
	"time"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/daq/ads131m08"
	"github.com/mockloop/mockloop/sim"
)

// The driver configures an emulated ADS131M08 on an emulated SPI port and
// reads one frame of its eight channels. Read waits for the data-ready pin
// on the run clock; on a virtual clock that wait moves time to the next
// conversion at once. On the bench the port and pin come from periph's
// spireg and gpioreg, and nothing else changes.
func Example() {
	clk := clock.NewVirtual(time.Date(2026, 11, 20, 23, 15, 2, 0, time.UTC))
	chip, err := sim.NewADS131M08(sim.ADS131M08Config{
		Clock: clk,
		Port:  "SPI0.0",
		// Each input is a constant: 0.1 V on channel 0, 0.2 V on 1, ...
		FrontEnd: sim.FrontEndFunc(func(now time.Duration, dst *[8]float64) {
			for ch := range dst {
				dst[ch] = 0.1 * float64(ch+1)
			}
		}),
	})
	if err != nil {
		log.Fatal(err)
	}
	adc, err := ads131m08.New(chip, chip.DRDY(), &ads131m08.Opts{Clock: clk, DataRate: 1000})
	if err != nil {
		log.Fatal(err)
	}
	defer adc.Close()
	var v [8]float64
	if err := adc.Read(v[:]); err != nil {
		log.Fatal(err)
	}
	fmt.Println(adc.Channels(), "channels at", adc.DataRate(), "SPS, period", adc.Period())
	fmt.Printf("conversion %d at %v: ch0 %.6f V, ch7 %.6f V\n", adc.Conversion(), clk.Now(), v[0], v[7])
	// Output:
	// 8 channels at 1000 SPS, period 1ms
	// conversion 0 at 1ms: ch0 0.100000 V, ch7 0.800000 V
}
