package runlog_test

import (
	"fmt"
	"log"
	"os"
	"time"

	"github.com/mockloop/mockloop/clock"
	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/runlog"
)

// A run is created, fed blocks and events, closed with its result, and read
// back.
func Example() {
	runs, err := os.MkdirTemp("", "runs")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(runs)

	epoch := time.Date(2026, 11, 20, 23, 15, 2, 0, time.UTC)
	rec, err := runlog.Create(runs, runlog.Manifest{
		RunID:        "20261120T231502Z-7f3a9c", // runlog.NewRunID(epoch) in a real run
		Rig:          "sim",
		Protocol:     runlog.ProtocolRef{Name: "baseline", File: "baseline.yaml"},
		Layout:       []runlog.Channel{{Name: "aop", Unit: "mmHg"}, {Name: "q_ao", Unit: "L/min"}},
		SampleRateHz: 1000,
		Clock:        runlog.ClockVirtual,
		Epoch:        epoch,
	}, []byte("name: baseline\n"), []byte("name: sim\n"), clock.NewReal())
	if err != nil {
		log.Fatal(err)
	}

	b := daq.NewBlock(2, 10)
	for i := range 3 {
		v := b.Append(time.Duration(i) * time.Millisecond)
		v[0], v[1] = 80+float64(i), 4.5
	}
	if err := rec.AppendBlock(b); err != nil {
		log.Fatal(err)
	}
	if err := rec.Event(runlog.NewEvent(runlog.KindSetpoint, "", "loop.heart_rate = 80 bpm", runlog.SetpointData{Param: "loop.heart_rate", Value: runlog.SetpointValue{Num: 80}})); err != nil {
		log.Fatal(err)
	}
	if err := rec.Close(runlog.Result{Outcome: runlog.OutcomePass, DurationS: 0.003}); err != nil {
		log.Fatal(err)
	}

	run, err := runlog.Open(rec.Dir())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(run.Manifest.State, run.Result.Outcome, run.Result.Frames)
	st, err := run.Frames(func(t time.Duration, v []float64) error {
		fmt.Println(t, v)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("intact:", st.Intact())
	evs, err := run.ReadEvents()
	if err != nil {
		log.Fatal(err)
	}
	var sp runlog.SetpointData
	if err := evs[0].Decode(&sp); err != nil {
		log.Fatal(err)
	}
	fmt.Println(evs[0].Kind, sp.Param, sp.Value.Num)
	// Output:
	// closed pass 3
	// 0s [80 4.5]
	// 1ms [81 4.5]
	// 2ms [82 4.5]
	// intact: true
	// setpoint loop.heart_rate 80
}
