package dut_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/dut"
	"github.com/mockloop/mockloop/dut/dutsim"
)

// A simulated pump controller on a pseudo-terminal, commanded through the
// serial library as a real one would be, on a virtual clock.
func Example() {
	ctx := context.Background()
	clk := clock.NewVirtual(time.Unix(0, 0))
	srv, err := dutsim.Serve(ctx, dutsim.Config{Clock: clk})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	d, err := dut.Dial(ctx, dut.Config{Path: srv.Name(), Clock: clk})
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	fmt.Println(d.Identity().Model)

	if err := d.SetMode(ctx, dut.ModeLevel); err != nil {
		log.Fatal(err)
	}
	rpm, err := d.SetLevel(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("P2 target:", rpm)

	// One virtual second later the pump has ramped 10,000 rpm.
	clk.Advance(time.Second)
	st, err := d.Status(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("status:", st.RPM, st.TargetRPM, st.Alarms)

	// SPEED is refused in LEVEL mode.
	err = d.SetSpeed(ctx, 1000)
	fmt.Println(err)
	// Output:
	// dutsim-impella
	// P2 target: 35000
	// status: 10000 35000 none
	// dut: device refused: error 3 (not allowed in this mode)
}
