package verdict_test

import (
	"strings"
	"testing"

	"github.com/mockloop/mockloop/runlog"
)

// TestConditionsAndSweepsOnTheRig: language 1.1's conditions and sweeps of
// several parameters on the simulated rig (sim.yaml, its Impella CP): an
// until on two measures joined by and (a flag's count among them) ends its
// step when both hold, one joined by or when either does; a `when` with
// comparisons, and, not and parentheses applies to the iterations it
// selects; a two-parameter sweep runs its product, first key outermost,
// and a zipped one its pairs; and the record recomputes to the same
// verdicts, with no integrity failure.
func TestConditionsAndSweepsOnTheRig(t *testing.T) {
	src := []byte(`protocol: 1
name: conditions
steps:
  - name: hypovolaemia at P2
    set: {loop.preset: hypovolemia, dut.level: P2}
    until:
      condition: mean(aop, 3 s) > 10 mmHg and count(dut.alarms.suction, 3 s) == 0
      timeout: 1 min
  - name: suction at P9
    set: {dut.level: P9}
    until:
      condition: (count(dut.alarms.suction, 2 s) >= 1 or mean(aop, 2 s) > 400 mmHg) and not fraction(dut.alarms.suction, 2 s) < 1 %
      timeout: 1 min
  - name: grid
    sweep: {loop.preset: [healthy, heart_failure], dut.speed: [20000 rpm, 30000 rpm, 40000 rpm]}
    steps:
      - hold: 2 s
        criteria:
          - name: middle speed in failure
            when: "loop.preset == heart_failure and (dut.speed >= 25000 rpm and not dut.speed > 35000 rpm)"
            measure: mean(flow_dut)
            min: 0.5 L/min
          - name: every
            measure: mean(aop)
            min: 1 mmHg
  - name: pairs
    sweep: {dut.speed: [10000 rpm, 30000 rpm], loop.heart_rate: [60 bpm, 90 bpm], zip: true}
    steps:
      - hold: 2 s
        criteria:
          - {name: fast pair, when: dut.speed > 20000 rpm and loop.heart_rate != 60 bpm, measure: heart_rate(aop), min: 1 bpm}
  - name: stop
    set: {dut.mode: stop}
    hold: 1 s
`)
	res, dir := runOn(t, "sim.yaml", "", src)
	if res.Outcome != runlog.OutcomePass {
		t.Errorf("outcome %s: %+v", res.Outcome, res.Criteria)
	}
	run, err := runlog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := run.ReadEvents()
	if err != nil {
		t.Fatal(err)
	}
	var met []runlog.UntilMetData
	var grid []string
	for _, ev := range evs {
		switch ev.Kind {
		case runlog.KindUntilMet:
			var d runlog.UntilMetData
			if err := ev.Decode(&d); err != nil {
				t.Fatal(err)
			}
			met = append(met, d)
		case runlog.KindStepStart:
			if strings.HasPrefix(ev.Step, "3[") || strings.HasPrefix(ev.Step, "4[") {
				grid = append(grid, ev.Step+" "+ev.Msg)
			}
		}
	}
	if len(met) != 2 || met[0].AfterS < 3 || met[1].AfterS < 2 {
		t.Fatalf("until.met %+v: want both untils met, each after a full window", met)
	}
	// each measure's value as the condition was met: MAP above 10 mmHg and
	// no suction at P2; at P9 a suction alarm, set for part of the window
	if v := met[0].Values; len(v) != 2 || v[0] <= 10 || v[1] != 0 {
		t.Errorf("hypovolaemia at P2 met with %v", v)
	}
	if v := met[1].Values; len(v) != 3 || v[0] < 1 && v[1] <= 400 || v[2] < 1 {
		t.Errorf("suction at P9 met with %v", v)
	}
	want := []string{
		"3[1].1 hold 2 s [loop.preset=healthy, dut.speed=20000 rpm]", "3[2].1 hold 2 s [loop.preset=healthy, dut.speed=30000 rpm]",
		"3[3].1 hold 2 s [loop.preset=healthy, dut.speed=40000 rpm]", "3[4].1 hold 2 s [loop.preset=heart_failure, dut.speed=20000 rpm]",
		"3[5].1 hold 2 s [loop.preset=heart_failure, dut.speed=30000 rpm]", "3[6].1 hold 2 s [loop.preset=heart_failure, dut.speed=40000 rpm]",
		"4[1].1 hold 2 s [dut.speed=10000 rpm, loop.heart_rate=60 bpm]", "4[2].1 hold 2 s [dut.speed=30000 rpm, loop.heart_rate=90 bpm]",
	}
	if strings.Join(grid, "\n") != strings.Join(want, "\n") {
		t.Errorf("iterations:\n%s\nwant\n%s", strings.Join(grid, "\n"), strings.Join(want, "\n"))
	}
	judged := map[string][]string{}
	for _, c := range res.Criteria {
		judged[c.Name] = append(judged[c.Name], c.Step)
	}
	if got := strings.Join(judged["middle speed in failure"], " "); got != "3[5].1" {
		t.Errorf("when judged the middle speed in failure at %q, want 3[5].1", got)
	}
	if got := len(judged["every"]); got != 6 {
		t.Errorf("every iteration's criterion judged %d times, want 6", got)
	}
	if got := strings.Join(judged["fast pair"], " "); got != "4[2].1" {
		t.Errorf("fast pair judged at %q", got)
	}
	agrees(t, dir, res)
}
