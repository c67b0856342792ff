package verdict

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/units"
)

// fuzzProtocol has every part of a protocol the events walk reads:
// nested, repeated and swept steps, when, relative_to, until, always.
const fuzzProtocol = `protocol: 1
name: fuzz
always:
  - {id: A-1, channel: aop, max: 200 mmHg}
steps:
  - name: one
    set: {loop.preset: healthy}
    hold: 2 s
    criteria:
      - {id: C1, measure: mean(aop), over: last 1 s, min: 10 mmHg}
      - {id: C2, measure: map(aop), min: 10 mmHg}
  - repeat: {count: 2}
    steps:
      - hold: 1 s
        criteria:
          - {id: C3, measure: mean(aop), relative_to: one, between: [-50 %, 50 %]}
  - sweep: {loop.heart_rate: [60 bpm, 80 bpm]}
    steps:
      - until: {condition: "mean(aop, 1 s) >= 500 mmHg", timeout: 1 s}
        criteria:
          - {id: W-1, when: loop.heart_rate == 80 bpm, measure: stroke_volume(flow), min: 1 ml}
`

// FuzzEventsAndRigCopy feeds what a user can edit in a record and
// Recompute reads as text: events.jsonl (step windows, setpoints,
// timeouts, resumes) and rig.yaml (beat channels, presets). Whatever they
// hold, reading and judging them ends without a panic.
func FuzzEventsAndRigCopy(f *testing.F) {
	info := protocols.RigInfo{Name: "fuzz", Channels: map[string]units.Dimension{"aop": units.Pressure, "flow": units.Flow},
		Params: map[string]protocols.Range{}, Presets: []string{"healthy"}, BeatChannels: []string{"aop"}}
	for name := range protocols.Params {
		info.Params[name] = protocols.Range{}
	}
	proto, err := protocols.Parse("fuzz.yaml", []byte(fuzzProtocol), info)
	if err != nil {
		f.Fatal(err)
	}
	layout := []runlog.Channel{{Name: "aop", Unit: "mmHg"}, {Name: "flow", Unit: "L/min"}}
	f.Add([]byte(`{"t":0,"kind":"setpoint","msg":"loop.preset = healthy"}
{"t":0,"kind":"step.start","step":"1","msg":"one"}
{"t":2,"kind":"step.end","step":"1","msg":"pass"}
{"t":2,"kind":"step.start","step":"2","msg":"repeat"}
{"t":2,"kind":"step.start","step":"2[1].1","msg":"hold [#1]"}
{"t":3,"kind":"step.end","step":"2[1].1","msg":"pass"}
{"t":3,"kind":"run.resumed","data":{"completed_steps":1}}
{"t":4,"kind":"setpoint","msg":"loop.heart_rate = 80 bpm","data":{"param":"loop.heart_rate","value":80}}
{"t":4,"kind":"step.start","step":"3[2].1","msg":"until"}
{"t":5,"kind":"until.timeout","step":"3[2].1"}
{"t":5,"kind":"criterion","step":"3[2].1"}
{"t":5,"kind":"step.end","step":"3[2].1","msg":"aborted"}
{"t":6,"kind":"run.end","msg":"fail"}
`), []byte("beats: [aop]\npresets: {healthy: {}}\n"))
	f.Add([]byte(`{"t":1,"kind":"step.start","step":"9[1].7"}
{"t":0,"kind":"step.end","step":"1.1.1.1"}
{"t":-1,"kind":"run.resumed","data":{"completed_steps":-3}}
{"t":1e300,"kind":"step.start","step":"[.]"}
`), []byte("beats: {x: 1}\npresets: [a]\n"))
	f.Fuzz(func(t *testing.T, events, rigCopy []byte) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "rig.yaml"), rigCopy, 0o644)
		rc := readRigCopy(dir)
		var evs []runlog.Event
		for line := range bytes.Lines(events) {
			var ev runlog.Event
			if json.Unmarshal(line, &ev) == nil {
				evs = append(evs, ev)
			}
		}
		w := &walk{proto: proto, layout: layout, rate: 1000, params: map[string]runlog.SetpointValue{}, flow: primaryFlow(layout)}
		if len(rc.beats) > 0 {
			w.firstBeat = rc.beats[0]
		}
		if err := w.events(evs); err != nil {
			return
		}
		got := w.judge()
		if len(got.Tol) != len(got.Criteria) {
			t.Errorf("%d tolerances for %d criteria", len(got.Tol), len(got.Criteria))
		}
	})
}
