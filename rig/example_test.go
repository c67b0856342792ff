package rig_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/rig"
)

// A short protocol runs on the simulated rig on virtual time: the same
// engine, drivers and record as on the bench, with the bench's chips
// emulated, as fast as the CPU allows and the same on every run.
func ExampleRun() {
	cfg, err := rig.LoadConfig("../configs/rigs/sim-loop-only.yaml")
	if err != nil {
		log.Fatal(err)
	}
	src := []byte(`protocol: 1
name: afterload-step
steps:
  - name: baseline
    set: {loop.preset: healthy}
    hold: 10 s
    criteria:
      - {measure: mean(aop), over: last 5 s, between: [80 mmHg, 120 mmHg]}
  - name: afterload doubled
    set: {loop.resistance: 2 mmHg·s/ml}
    hold: 10 s
    criteria:
      - {measure: mean(aop), over: last 5 s, min: 105 mmHg}
`)
	p, err := protocols.Parse("afterload-step.yaml", src, cfg.Info())
	if err != nil {
		log.Fatal(err)
	}
	runs, err := os.MkdirTemp("", "runs")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(runs)

	res, _, err := rig.Run(context.Background(), cfg, p, rig.Options{
		RunsDir:        runs,
		ProtocolFile:   "afterload-step.yaml",
		ProtocolSource: src,
		Epoch:          time.Date(2026, 11, 20, 23, 15, 2, 0, time.UTC),
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Outcome, res.Frames, "frames")
	for _, s := range res.Steps {
		aop := s.Channels["aop"]
		fmt.Printf("step %s %q: %s, mean aop %.1f %s\n", s.Path, s.Name, s.Outcome, aop.Mean, aop.Unit)
	}
	for _, c := range res.Criteria {
		fmt.Printf("%s %s: %.1f %s, %s\n", c.Measure, c.Over, *c.Value, c.Unit, c.Verdict)
	}
	// Output:
	// pass 20000 frames
	// step 1 "baseline": pass, mean aop 100.4 mmHg
	// step 2 "afterload doubled": pass, mean aop 112.7 mmHg
	// mean(aop) last 5 s: 100.5 mmHg, pass
	// mean(aop) last 5 s: 113.2 mmHg, pass
}
