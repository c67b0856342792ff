package mcp4725_test

import (
	"fmt"
	"log"
	"time"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/pumpctl/mcp4725"
	"github.com/mockloop/mockloop/sim"
)

// The driver sets the LV drive on an emulated MCP4725, powered at 5 V, on an
// emulated I²C bus, and reads the chip back. On the bench the bus is
// /dev/i2c-1 (periph's i2creg.Open) and nothing else changes.
func Example() {
	clk := clock.NewVirtual(time.Date(2026, 11, 20, 23, 15, 2, 0, time.UTC))
	bus := sim.NewI2CBus("I2C1")
	chip := sim.NewMCP4725(clk, 5.0, nil)
	if err := bus.Attach(0x60, chip); err != nil {
		log.Fatal(err)
	}
	dac, err := mcp4725.New(bus, "lv_drive", mcp4725.Opts{Addr: 0x60, Vref: 5.0})
	if err != nil {
		log.Fatal(err)
	}
	if err := dac.SetVolts(2.5); err != nil {
		log.Fatal(err)
	}
	st, err := dac.Read()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(dac)
	fmt.Printf("code %d (%s), output %.4f V\n", st.Code, st.PowerDown, chip.Volts())
	// Output:
	// mcp4725 lv_drive on I2C1(96)
	// code 2048 (normal), output 2.5000 V
}
