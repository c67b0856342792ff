package rig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/runlog"
)

// CalRecord is one calibration of one channel: how it was done, against
// what, when, until when it is valid, and the polynomial it produced
// (input volts → value in the channel's unit).
type CalRecord struct {
	Channel   string      `json:"channel"`
	Method    string      `json:"method"` // "zero", "two-point", "multi-point"
	Date      time.Time   `json:"date"`
	Due       *time.Time  `json:"due,omitempty"` // nil: no due date (a simulated transducer does not drift)
	Reference string      `json:"reference"`     // reference instrument, certificate, or "atmosphere"
	Operator  string      `json:"operator,omitempty"`
	Points    []daq.Point `json:"points"`
	Coeffs    []float64   `json:"coeffs"`
}

// Overdue reports whether the record's due date has passed at t.
func (r CalRecord) Overdue(t time.Time) bool { return r.Due != nil && t.After(*r.Due) }

// Calibrations is a rig's calibration file: every record ever made, oldest
// first. The newest record of a channel is the one in force.
type Calibrations struct {
	Rig     string      `json:"rig"`
	Records []CalRecord `json:"records"`
}

// InForce returns the newest record of each channel that has one.
func (c *Calibrations) InForce() map[string]CalRecord {
	m := map[string]CalRecord{}
	for _, r := range c.Records {
		if cur, ok := m[r.Channel]; !ok || !r.Date.Before(cur.Date) {
			m[r.Channel] = r
		}
	}
	return m
}

// LoadCalibrations reads the rig's calibration file. A rig without one, or
// whose file does not exist yet, has no records (nominal calibrations only).
func (c *Config) LoadCalibrations() (*Calibrations, error) {
	cals := &Calibrations{Rig: c.Name}
	path := c.CalibrationPath()
	if path == "" {
		return cals, nil
	}
	var data []byte
	var err error
	if c.FS != nil {
		data, err = fs.ReadFile(c.FS, filepath.ToSlash(filepath.Join("rigs", c.CalibrationFile)))
	} else {
		data, err = os.ReadFile(path)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return cals, nil
	}
	if err != nil {
		return nil, fmt.Errorf("rig: calibration: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(cals); err != nil {
		return nil, fmt.Errorf("rig: %s: %s", jsonPos(path, data, err), err)
	}
	for i, r := range cals.Records {
		in, ok := c.Inputs[r.Channel]
		switch {
		case !ok || (in.Kind != "adc" && in.Kind != "slow_adc"):
			return nil, fmt.Errorf("rig: %s: record %d is for %q, not a measured channel of rig %s", path, i+1, r.Channel, c.Name)
		case !(daq.Calibration{Coeffs: r.Coeffs}).Valid():
			return nil, fmt.Errorf("rig: %s: record %d (%s) has no valid coefficients", path, i+1, r.Channel)
		}
	}
	return cals, nil
}

// jsonPos turns a JSON decoding error's byte offset into file:line:col.
func jsonPos(path string, data []byte, err error) string {
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	if off < 0 || off > int64(len(data)) {
		return path
	}
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	col := int(off) - bytes.LastIndexByte(data[:off], '\n')
	return fmt.Sprintf("%s:%d:%d", path, line, col)
}

// SaveCalibrations appends records to the rig's calibration file,
// atomically (temporary file, fsync, rename): a crash leaves the old file
// or the new one, never half of it.
func (c *Config) SaveCalibrations(add ...CalRecord) error {
	path := c.CalibrationPath()
	if path == "" {
		return fmt.Errorf("rig: %s names no calibration file", c.File)
	}
	if c.FS != nil {
		return fmt.Errorf("rig: the built-in rig config cannot store calibrations; pass --rig with a config file")
	}
	cals, err := c.LoadCalibrations()
	if err != nil {
		return err
	}
	cals.Records = append(cals.Records, add...)
	data, err := json.MarshalIndent(cals, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".calibration-*")
	if err != nil {
		return fmt.Errorf("rig: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("rig: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("rig: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("rig: %w", err)
	}
	return os.Rename(tmp.Name(), path)
}

// channelCalibrations returns the calibration in force for every measured
// channel (the newest record, else the nominal one) and the manifest
// records that say so. With allowOverdue false, a record past its due date
// at t is an error naming every such channel.
func (c *Config) channelCalibrations(cals *Calibrations, t time.Time, allowOverdue bool) (map[string]daq.Calibration, []runlog.Calibration, error) {
	inForce := cals.InForce()
	out := map[string]daq.Calibration{}
	var recs []runlog.Calibration
	var overdue []string
	for _, ch := range c.Channels {
		in := c.Inputs[ch.Name]
		if in.Kind != "adc" && in.Kind != "slow_adc" {
			continue
		}
		r, ok := inForce[ch.Name]
		if !ok {
			out[ch.Name] = in.Nominal
			recs = append(recs, runlog.Calibration{Channel: ch.Name, Method: "nominal", Reference: "rig config " + c.File,
				Fields: map[string]any{"coeffs": in.Nominal.Coeffs, "points": in.NominalPoints}})
			continue
		}
		out[ch.Name] = daq.Calibration{Coeffs: r.Coeffs}
		mr := runlog.Calibration{Channel: ch.Name, Method: r.Method, Date: r.Date.UTC().Format(time.RFC3339), Reference: r.Reference,
			Fields: map[string]any{"coeffs": r.Coeffs, "points": r.Points, "operator": r.Operator, "unit": ch.Dim.Unit()}}
		if r.Due != nil {
			mr.Due = r.Due.UTC().Format(time.RFC3339)
		}
		if r.Overdue(t) {
			overdue = append(overdue, fmt.Sprintf("%s (due %s)", ch.Name, r.Due.Format("2006-01-02")))
			mr.Fields["overdue"] = true
		}
		recs = append(recs, mr)
	}
	if len(overdue) > 0 && !allowOverdue {
		slices.Sort(overdue)
		return nil, nil, fmt.Errorf("rig: %w: %v; recalibrate (mockloop calibrate) or run with --allow-overdue, which is recorded", ErrOverdue, overdue)
	}
	return out, recs, nil
}
