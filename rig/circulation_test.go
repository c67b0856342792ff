package rig

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/sim"
)

// loopOnlyWithout returns sim-loop-only.yaml without its circulation
// section, and the line the section started on.
func loopOnlyWithout(t *testing.T) (string, int) {
	t.Helper()
	data, err := os.ReadFile("../configs/rigs/sim-loop-only.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src := string(data)
	i := strings.Index(src, "\ncirculation:\n")
	if i < 0 {
		t.Fatal("sim-loop-only.yaml has no circulation section")
	}
	return src[:i+1], strings.Count(src[:i+1], "\n") + 1
}

// TestLoopOnlyRigIsSimaansNetwork: sim-loop-only.yaml declares Simaan's
// left heart as a network and the simulated bench runs that network
// (sim.TestNetworkIsSimaansLoop holds it to Loop; the rig's tests on this
// config hold it to the paper).
func TestLoopOnlyRigIsSimaansNetwork(t *testing.T) {
	cfg, err := LoadConfig("../configs/rigs/sim-loop-only.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Sim.Circulation
	if c == nil || len(c.Nodes) != 4 || len(c.Links) != 4 {
		t.Fatalf("circulation %+v", c)
	}
	want := sim.SimaanNetwork()
	for i, n := range want.Nodes {
		if got := c.Nodes[i]; got != n {
			t.Errorf("node %d: %+v, want Simaan's %+v", i, got, n)
		}
	}
	for i, l := range want.Links {
		if got := c.Links[i]; got.Name != l.Name || got.Kind != l.Kind || got.From != l.From || got.To != l.To || got.R != l.R || got.L != l.L {
			t.Errorf("link %d: %+v, want Simaan's %+v", i, got, l)
		}
	}
	buses, bench, err := simBuses(cfg, clock.NewVirtual(time.Time{}))
	if err != nil {
		t.Fatal(err)
	}
	defer buses.close()
	if bench.Loop().Network() == nil {
		t.Error("the bench does not run the config's circulation")
	}
}

// TestCirculationConfigErrors: each mistake in a circulation section is
// reported at its file:line:column.
func TestCirculationConfigErrors(t *testing.T) {
	base, line := loopOnlyWithout(t)
	good := `circulation:
  nodes:
    la: {compliance: 4.4 ml/mmHg, pressure: 5 mmHg}
    lv: {unstressed: 10 ml, emin: 0.06 mmHg/ml, drive: 1, volume: 140 ml}
    aorta: {compliance: 0.08 ml/mmHg, pressure: 90 mmHg}
  links:
    mitral: {kind: valve, from: la, to: lv, resistance: 0.005 mmHg·s/ml}
    aortic: {kind: valve, from: lv, to: aorta, resistance: 0.001 mmHg·s/ml}
    systemic: {kind: resistance, from: aorta, to: la, resistance: 1 mmHg·s/ml}
`
	if _, err := ParseConfig("rig.yaml", []byte(base+good)); err != nil {
		t.Fatalf("a minimal circulation refused: %v", err)
	}
	for _, c := range []struct {
		name, from, to, want string
	}{
		{"compliance in a wrong unit", "compliance: 4.4 ml/mmHg,", "compliance: 4.4 mmHg/ml,", ":3:22: node la compliance: "},
		{"unknown node key", "drive: 1,", "drvie: 1,", `:4:49: unknown key "drvie" in node lv; did you mean drive?`},
		{"a chamber without a passive law", "emin: 0.06 mmHg/ml, ", "", ":4:5: sim: node lv: a chamber needs a passive law"},
		{"a chamber given a pressure", "volume: 140 ml", "pressure: 5 mmHg", ":4:5: node lv: a chamber starts from a volume"},
		{"link to an unknown node", "to: aorta, resistance: 0.001", "to: aorat, resistance: 0.001", `:8:13: link aortic: no node "aorat"; did you mean aorta?`},
		{"unknown kind", "kind: valve, from: la", "kind: diode, from: la", `:7:20: link mitral: kind "diode" is not one of`},
		{"valve without resistance", "to: lv, resistance: 0.005 mmHg·s/ml", "to: lv", ":7:5: link mitral: a valve needs a resistance above 0"},
		{"no systemic link", "systemic: {", "veins: {", ":2:3: circulation: sim: the network needs a resistance named systemic"},
		{"a pump without a DUT", "{kind: valve, from: lv, to: aorta, resistance: 0.001 mmHg·s/ml}", "{kind: pump, from: lv, to: aorta}", ":8:5: link aortic: a pump link needs the rig's simulated DUT"},
		{"negative volume", "volume: 140 ml", "volume: -140 ml", ":4:5: sim: node lv: volume -140 must be finite and ≥ 0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := strings.Replace(good, c.from, c.to, 1)
			if src == good {
				t.Fatalf("%q not in the section", c.from)
			}
			_, err := ParseConfig("rig.yaml", []byte(base+src))
			if err == nil {
				t.Fatal("accepted")
			}
			// c.want's line is the section's; the file's is line-1 more.
			parts := strings.SplitN(c.want, ":", 3)
			rel, _ := strconv.Atoi(parts[1])
			want := "rig.yaml:" + strconv.Itoa(line-1+rel) + ":" + parts[2]
			if !strings.Contains(err.Error(), want) {
				t.Errorf("got\n%v\nwant %q", err, want)
			}
		})
	}
}
