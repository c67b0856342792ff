package protocols_test

import (
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/rig"
	"github.com/mockloop/mockloop/units"
)

// A protocol file is parsed against the rig it will run on, as `mockloop
// validate` does: a protocol that parses can be run on that rig. The rig
// tells the language what it provides through a RigInfo; here it is the
// simulated rig's config.
func ExampleParse() {
	cfg, err := rig.LoadConfig("../configs/rigs/sim.yaml")
	if err != nil {
		log.Fatal(err)
	}
	src, err := os.ReadFile("../configs/protocols/demo.yaml")
	if err != nil {
		log.Fatal(err)
	}
	p, err := protocols.Parse("demo.yaml", src, cfg.Info())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d steps, %d requirements\n", p.Name, len(p.Steps), len(p.Requirements))
	for i, s := range p.Steps {
		fmt.Printf("%d %q hold %s", i+1, s.Title(), units.FormatDuration(s.Hold))
		for _, sp := range s.Set {
			fmt.Printf(", %s = %s", sp.Param, sp.Value)
		}
		fmt.Printf("; criteria: %d\n", len(s.Criteria))
	}
	// Output:
	// demo: 5 steps, 8 requirements
	// 1 "healthy baseline, pump at P2" hold 30 s, loop.preset = healthy, dut.level = P2; criteria: 2
	// 2 "afterload doubled" hold 30 s, loop.resistance = 2 mmHg·s/ml; criteria: 2
	// 3 "heart failure" hold 40 s, loop.preset = heart_failure; criteria: 2
	// 4 "heart failure at P8" hold 40 s, dut.level = P8; criteria: 2
	// 5 "pump stopped" hold 20 s, dut.mode = stop; criteria: 1
}

// Every mistake in a file is reported at once, each at its file:line:col,
// so that an engineer fixes the file in one pass.
func ExampleParse_errors() {
	src := []byte(`protocol: 1
name: afterload
steps:
  - set: {loop.resistance: 2 mmHg}
    hold: 30 s
  - set: {loop.preset: healthy}
    hold: 10
    criteria:
      - {measure: mean(aop), over: last 10 s, min: 80 L/min}
`)
	cfg, err := rig.LoadConfig("../configs/rigs/sim.yaml")
	if err != nil {
		log.Fatal(err)
	}
	_, err = protocols.Parse("afterload.yaml", src, cfg.Info())
	var list protocols.ErrorList
	if errors.As(err, &list) {
		fmt.Println(len(list), "mistakes; the first at line", list[0].Pos.Line)
	}
	fmt.Println(err)
	// Output:
	// 3 mistakes; the first at line 4
	// afterload.yaml:4:28: loop.resistance: "2 mmHg" is a pressure, expected a resistance, e.g. 1 mmHg·s/ml
	// afterload.yaml:7:11: hold: "10" needs a time unit, e.g. 30 s
	// afterload.yaml:9:52: min: "80 L/min" is a flow, expected a pressure, e.g. 80 mmHg
}
