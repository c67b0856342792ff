package rig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/daq/ads131m08"
	"github.com/mockloop/mockloop/internal/strictyaml"
	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/units"
)

// CalRecord is one calibration of one channel: how it was done, against
// what, when, until when it is valid, and the polynomial it produced
// (input volts → value in the channel's unit).
type CalRecord struct {
	Channel string `json:"channel"`
	// Input is the converter input the channel was on when the record was
	// made, e.g. "ADS131M08 SPI0.0 input 1" (the chip, its bus, the input;
	// SaveCalibrations fills it in): a record of a channel since moved to
	// another input is refused at load.
	Input     string      `json:"input"`
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
// Every record is checked (checkCalRecord): a file of another rig, or a
// record that is flat, clipped, of high order, off its own points or off
// the nominal by more than the channel's tolerance, is refused at its
// position.
func (c *Config) LoadCalibrations() (*Calibrations, error) {
	cals := &Calibrations{Rig: c.Name}
	path := c.CalibrationPath()
	if path == "" {
		return cals, nil
	}
	var data []byte
	var err error
	if c.FS != nil {
		data, err = strictyaml.ReadFS(c.FS, filepath.ToSlash(filepath.Join("rigs", c.CalibrationFile)))
	} else {
		data, err = strictyaml.ReadFile(path)
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
	if cals.Rig != c.Name {
		return nil, fmt.Errorf("rig: %s: the calibrations of rig %q, not of %s", lineCol(path, data, fieldOffset(data, 0, "rig")), cals.Rig, c.Name)
	}
	offs := recordOffsets(data)
	for i, r := range cals.Records {
		if field, err := c.checkCalRecord(r); err != nil {
			var off int64 = -1
			if i < len(offs) {
				off = fieldOffset(data, offs[i], field)
			}
			return nil, fmt.Errorf("rig: %s: record %d (%s) %v", lineCol(path, data, off), i+1, r.Channel, err)
		}
	}
	return cals, nil
}

// maxCalDegree is the highest polynomial a calibration may have: a cubic
// covers any transducer's non-linearity over its range, and a higher one
// swings wildly between and beyond its points.
const maxCalDegree = 3

// clipFraction of the converter's full scale is where a reading counts as
// clipped: the sensor's value is beyond what the converter shows.
const clipFraction = 0.99

// slowFullScale is the ADS1115's programmed full scale, ±4.096 V.
const slowFullScale = 4.096

// inputID names the converter input a measured channel is on, as its
// calibration records store it: the chip, its bus and address, the input.
func (c *Config) inputID(channel string) string {
	in := c.Inputs[channel]
	switch in.Kind {
	case "adc":
		return fmt.Sprintf("ADS131M08 %s input %d", c.Hardware.SPI, in.Index)
	case "slow_adc":
		if c.Hardware.SlowADC != nil {
			return fmt.Sprintf("ADS1115 %s %#x input %d", c.Hardware.I2C, c.Hardware.SlowADC.Address, in.Index)
		}
	}
	return ""
}

// fullScale is the voltage at which a measured channel's converter clips.
func (c *Config) fullScale(in ChannelInput) float64 {
	if in.Kind == "slow_adc" {
		return slowFullScale
	}
	return ads131m08.FullScale(c.Hardware.ADCGain)
}

// checkCalRecord checks one record against the channel it is for and
// returns, with the mistake, the record's field it is in. A record must
// be for a measured channel on the input it was made on, a polynomial of
// degree 0 to maxCalDegree with finite coefficients that passes through
// its own points (within a tenth of the channel's tolerance), from points
// the converter did not clip, with a gain (not flat), and within the
// channel's tolerance of its nominal calibration over the nominal's range:
// `coeffs: [100]` for a pressure, a clipped reading's 827,842 mmHg/V, a
// sensor of another range are all refused.
func (c *Config) checkCalRecord(r CalRecord) (field string, err error) {
	in, ok := c.Inputs[r.Channel]
	i := c.Channels.Index(r.Channel)
	if !ok || i < 0 || (in.Kind != "adc" && in.Kind != "slow_adc") {
		return "channel", fmt.Errorf("is for %q, not a measured channel of rig %s", r.Channel, c.Name)
	}
	switch want := c.inputID(r.Channel); {
	case r.Input == "":
		return "channel", fmt.Errorf("names no input; %s is on %s: if the record was made there, add \"input\": %q, else make it again", r.Channel, want, want)
	case r.Input != want:
		return "input", fmt.Errorf("was made on %q; %s is on %s", r.Input, r.Channel, want)
	}
	dim, cal := c.Channels[i].Dim, daq.Calibration{Coeffs: r.Coeffs}
	switch {
	case !cal.Valid():
		return "coeffs", errors.New("has no valid coefficients")
	case len(r.Coeffs) > maxCalDegree+1:
		return "coeffs", fmt.Errorf("is a polynomial of degree %d; at most %d", len(r.Coeffs)-1, maxCalDegree)
	case len(r.Points) == 0:
		return "points", errors.New("has no points: its coefficients cannot be checked")
	}
	lo, hi := nominalRange(in)
	span := math.Abs(in.Nominal.Apply(hi) - in.Nominal.Apply(lo))
	fs := c.fullScale(in)
	for _, p := range r.Points {
		if !(math.Abs(p.Volts) < clipFraction*fs) {
			return "points", fmt.Errorf("has a clipped point: %.6f V for %s, at the converter's full scale ±%g V", p.Volts, units.Format(p.Value, dim), fs)
		}
		if d := math.Abs(cal.Apply(p.Volts) - p.Value); !(d <= in.Tolerance*span/10) {
			return "coeffs", fmt.Errorf("does not pass through its point %.6f V = %s: off by %s", p.Volts, units.Format(p.Value, dim), units.Format(d, dim))
		}
	}
	if gain := (cal.Apply(hi) - cal.Apply(lo)) / (in.Nominal.Apply(hi) - in.Nominal.Apply(lo)); !(math.Abs(gain) >= 0.01) {
		return "coeffs", fmt.Errorf("is flat: it reads %s whatever the sensor sees", units.Format(cal.Apply(lo), dim))
	}
	for k := 0; k <= 4; k++ {
		v := lo + (hi-lo)*float64(k)/4
		if d := math.Abs(cal.Apply(v) - in.Nominal.Apply(v)); !(d <= in.Tolerance*span) {
			return "coeffs", fmt.Errorf("reads %s at %.3g V where the nominal calibration reads %s: off by more than the channel's tolerance, %s",
				units.Format(cal.Apply(v), dim), v, units.Format(in.Nominal.Apply(v), dim), units.Format(in.Tolerance*span, dim))
		}
	}
	return "", nil
}

// nominalRange is the span of input volts the nominal calibration covers.
func nominalRange(in ChannelInput) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, p := range in.NominalPoints {
		lo, hi = min(lo, p.Volts), max(hi, p.Volts)
	}
	return lo, hi
}

// recordOffsets returns the byte offset of each record in a calibration
// file that decodes, for positions.
func recordOffsets(data []byte) []int64 {
	dec := json.NewDecoder(bytes.NewReader(data))
	var offs []int64
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return offs
		}
		if k != "records" {
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return offs
			}
			continue
		}
		if t, err := dec.Token(); err != nil || t != json.Delim('[') {
			return offs
		}
		for dec.More() {
			off := dec.InputOffset()
			for off < int64(len(data)) && bytes.IndexByte([]byte(" \t\r\n,"), data[off]) >= 0 {
				off++
			}
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return offs
			}
			offs = append(offs, off)
		}
		return offs
	}
	return offs
}

// fieldOffset is the offset of the key "field" at or after from (from
// itself when field is "" or absent).
func fieldOffset(data []byte, from int64, field string) int64 {
	if from < 0 || from > int64(len(data)) {
		return -1
	}
	if i := bytes.Index(data[from:], []byte(`"`+field+`"`)); field != "" && i >= 0 {
		return from + int64(i)
	}
	return from
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
	return lineCol(path, data, off)
}

// lineCol is path:line:col of a byte offset, or path alone for none.
func lineCol(path string, data []byte, off int64) string {
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
	for i := range add {
		add[i].Input = c.inputID(add[i].Channel)
		if _, err := c.checkCalRecord(add[i]); err != nil {
			return fmt.Errorf("rig: not saved: the calibration of %s %v", add[i].Channel, err)
		}
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
