package runlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// BeatsFile is the name of the beats file of a run record: one Beat per
// line as a JSON object, in the order the beats ended,
//
//	{"t":0.8,"start":0,"channel":"aop","systolic":121.2,"diastolic":79.8,
//	 "mean":94.1,"pulse_pressure":41.4,"heart_rate":75.1,"stroke_volume":70.2}
//
// Records made before beats were detected have none; reports use it when it
// is there and never require it.
const BeatsFile = "beats.jsonl"

// Beat is one detected cardiac cycle on a pressure channel (beats.jsonl).
// Times are run clock seconds; pressures are in the channel's unit (mmHg),
// heart rate in bpm, stroke volume in ml. StrokeVolume is the primary flow
// channel integrated over the beat; it is left out when the rig integrates
// none. Read back, a pressure or rate the line does not have (or has as
// null) is NaN: a missing value must not read as zero.
type Beat struct {
	T             float64  `json:"t"` // end of the beat
	Start         float64  `json:"start"`
	Channel       string   `json:"channel"`
	Systolic      float64  `json:"systolic"`
	Diastolic     float64  `json:"diastolic"`
	Mean          float64  `json:"mean"`
	PulsePressure float64  `json:"pulse_pressure"`
	HeartRate     float64  `json:"heart_rate"`
	StrokeVolume  *float64 `json:"stroke_volume,omitempty"`
}

// UnmarshalJSON implements json.Unmarshaler, reading missing values as NaN.
func (b *Beat) UnmarshalJSON(data []byte) error {
	var w struct {
		T             float64  `json:"t"`
		Start         float64  `json:"start"`
		Channel       string   `json:"channel"`
		Systolic      *float64 `json:"systolic"`
		Diastolic     *float64 `json:"diastolic"`
		Mean          *float64 `json:"mean"`
		PulsePressure *float64 `json:"pulse_pressure"`
		HeartRate     *float64 `json:"heart_rate"`
		StrokeVolume  *float64 `json:"stroke_volume"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*b = Beat{T: w.T, Start: w.Start, Channel: w.Channel, Systolic: orNaN(w.Systolic), Diastolic: orNaN(w.Diastolic),
		Mean: orNaN(w.Mean), PulsePressure: orNaN(w.PulsePressure), HeartRate: orNaN(w.HeartRate), StrokeVolume: w.StrokeVolume}
	return nil
}

// EachBeat calls fn with the beats of the run record in dir, in file order,
// reading beats.jsonl line by line (a long run has hundreds of thousands).
// b is reused from call to call. An unfinished last line is left out; a
// complete line that is not a beat (not JSON, or without a channel) is
// skipped and counted in malformed, and empty lines are skipped. Without a
// beats file the error wraps fs.ErrNotExist. An error of fn ends the
// reading and is returned.
func EachBeat(dir string, fn func(b *Beat) error) (malformed int, err error) {
	f, size, err := OpenFile(filepath.Join(dir, BeatsFile))
	if err != nil {
		return 0, fmt.Errorf("runlog: beats: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(io.LimitReader(f, size), 256<<10)
	var b Beat
	for {
		line, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return malformed, nil // a last line without newline is unfinished
		}
		if err != nil {
			return malformed, fmt.Errorf("runlog: beats: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			continue
		}
		b = Beat{}
		if json.Unmarshal(line, &b) != nil || b.Channel == "" {
			malformed++
			continue
		}
		if err := fn(&b); err != nil {
			return malformed, err
		}
	}
}

// ReadBeats returns the beats of the run (beats.jsonl), in order; a run
// without beats has none. An unfinished last line is left out, and so are
// lines that are not beats, which the error then counts.
func (r *Run) ReadBeats() ([]Beat, error) {
	var beats []Beat
	bad, err := EachBeat(r.Dir, func(b *Beat) error {
		beats = append(beats, *b)
		return nil
	})
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if bad > 0 {
		return beats, fmt.Errorf("runlog: %s: %d malformed lines", filepath.Join(r.Dir, BeatsFile), bad)
	}
	return beats, nil
}
