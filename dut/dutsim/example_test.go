package dutsim_test

import (
	"fmt"

	"github.com/mockloop/mockloop/dut/dutsim"
)

func ExampleParseFaults() {
	f, err := dutsim.ParseFaults("drop=0.2,delay=150ms")
	fmt.Println(f.Drop, f.Delay, f, err)

	_, err = dutsim.ParseFaults("drop=20%")
	fmt.Println(err)
	// Output:
	// 0.2 150ms drop=0.2,delay=150ms <nil>
	// dutsim: fault "drop=20%": probability must be a number from 0 to 1
}
