package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mockloop/mockloop/daq"
	"github.com/mockloop/mockloop/rig"
	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/units"
)

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

// confirm asks the operator to do something at the bench and waits for
// Enter; with --yes (scripts, the sim) it only says what is assumed done.
func confirm(stdin io.Reader, stderr io.Writer, yes bool, what string) error {
	if yes {
		fmt.Fprintf(stderr, "assuming done: %s\n", what)
		return nil
	}
	fmt.Fprintf(stderr, "%s, then press Enter (Ctrl-C to cancel) ", what)
	if _, err := bufio.NewReader(stdin).ReadString('\n'); err != nil {
		return fmt.Errorf("no confirmation from the operator: %w", err)
	}
	return nil
}

func cmdZero(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("zero", stderr)
	rigArg := rigFlag(fs)
	var channels stringList
	fs.Var(&channels, "channel", "channel to zero (repeatable; default: every ADC channel)")
	span := fs.String("for", "2 s", "how long to average each reading")
	yes := fs.Bool("yes", false, "do not ask the operator to confirm (scripts; the sim presents references itself)")
	operator := fs.String("operator", osUser(), "operator recorded with the calibration and in the bench audit log")
	if _, ok := parseArgs(fs, args, 0, "usage: mockloop zero [--rig FILE] [--channel NAME ...] [--for 2 s] [--yes]"); !ok {
		return exitInvalid
	}
	d, err := units.ParseDuration(*span)
	if err != nil || d <= 0 {
		fmt.Fprintf(stderr, "mockloop: --for %q: a positive duration, e.g. 2 s\n", *span)
		return exitInvalid
	}
	cfg := rigArg.load()
	if cfg == nil {
		return exitInvalid
	}
	if len(channels) == 0 {
		for _, c := range cfg.Channels {
			if cfg.Inputs[c.Name].Kind == "adc" {
				channels = append(channels, c.Name)
			}
		}
	}
	s, err := rig.OpenCalibration(cfg, false)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitInfra
	}
	defer s.Close()
	for _, ch := range channels {
		err := s.Present(ch, 0)
		if errors.Is(err, rig.ErrManual) {
			if err := confirm(stdin, stderr, *yes, "Open "+strings.Join(channels, ", ")+" to their zero reference (pressure ports to atmosphere, flow stopped)"); err != nil {
				fmt.Fprintln(stderr, err)
				return exitAborted
			}
			break
		}
		if err != nil {
			fmt.Fprintln(stderr, err)
			return exitInvalid
		}
	}
	recs, removed, err := s.Zero(context.Background(), channels, d, *operator)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitInfra
	}
	old := calibrationsInForce(cfg)
	if err := cfg.SaveCalibrations(recs...); err != nil {
		fmt.Fprintln(stderr, err)
		return exitInfra
	}
	logCalibrations(runlog.ActionZero, old, recs, stderr)
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHANNEL\tREADING\tOFFSET REMOVED\tRECORDED")
	for k, r := range recs {
		i := cfg.Channels.Index(r.Channel)
		fmt.Fprintf(tw, "%s\t%.6f V\t%s\t%s\n", r.Channel, r.Points[0].Volts, units.Format(removed[k], cfg.Channels[i].Dim), r.Date.Format(time.RFC3339))
	}
	tw.Flush()
	fmt.Fprintf(stdout, "saved to %s\n", cfg.CalibrationPath())
	return exitPass
}

func cmdCalibrate(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("calibrate", stderr)
	rigArg := rigFlag(fs)
	var at stringList
	fs.Var(&at, "at", "reference value to apply, with unit (repeat: at least two, e.g. --at '0 mmHg' --at '200 mmHg')")
	reference := fs.String("reference", "", "reference instrument and certificate (required, for traceability)")
	dueFlag := fs.String("due", "", "date the calibration must be redone (YYYY-MM-DD; default: in 182 days)")
	span := fs.String("for", "2 s", "how long to average each reading")
	yes := fs.Bool("yes", false, "do not ask the operator to confirm each reference")
	operator := fs.String("operator", osUser(), "operator recorded with the calibration and in the bench audit log")
	pos, ok := parseArgs(fs, args, 1, "usage: mockloop calibrate [--rig FILE] --at VALUE --at VALUE ... --reference TEXT [--due DATE] CHANNEL")
	if !ok {
		return exitInvalid
	}
	channel := pos[0]
	cfg := rigArg.load()
	if cfg == nil {
		return exitInvalid
	}
	i := cfg.Channels.Index(channel)
	if k := cfg.Inputs[channel].Kind; i < 0 || (k != "adc" && k != "slow_adc") {
		fmt.Fprintf(stderr, "mockloop: rig %s has no measured channel %q\n", cfg.Name, channel)
		return exitInvalid
	}
	dim := cfg.Channels[i].Dim
	var refs []float64
	for _, a := range at {
		v, err := units.ParseAs(a, dim)
		if err != nil {
			fmt.Fprintf(stderr, "mockloop: --at: %v\n", err)
			return exitInvalid
		}
		refs = append(refs, v)
	}
	d, derr := units.ParseDuration(*span)
	switch {
	case len(refs) < 2:
		fmt.Fprintln(stderr, "mockloop: give at least two reference values with --at")
		return exitInvalid
	case *reference == "":
		fmt.Fprintln(stderr, "mockloop: --reference is required: name the reference instrument and its certificate")
		return exitInvalid
	case derr != nil || d <= 0:
		fmt.Fprintf(stderr, "mockloop: --for %q: a positive duration, e.g. 2 s\n", *span)
		return exitInvalid
	}
	s, err := rig.OpenCalibration(cfg, false)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitInfra
	}
	defer s.Close()
	due := s.Now().AddDate(0, 0, 182)
	if *dueFlag != "" {
		if due, err = time.Parse("2006-01-02", *dueFlag); err != nil || !due.After(s.Now()) {
			fmt.Fprintf(stderr, "mockloop: --due %q: a future date YYYY-MM-DD\n", *dueFlag)
			return exitInvalid
		}
	}
	apply := func(v float64) error {
		err := s.Present(channel, v)
		if errors.Is(err, rig.ErrManual) {
			return confirm(stdin, stderr, *yes, fmt.Sprintf("Apply %s to %s from the reference", units.Format(v, dim), channel))
		}
		return err
	}
	pts, cal, err := s.Calibrate(context.Background(), channel, refs, d/2, d, apply)
	s.Reconnect(channel)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitInfra
	}
	rec := rig.CalRecord{Channel: channel, Method: "two-point", Date: s.Now(), Due: &due, Reference: *reference, Operator: *operator, Coeffs: cal.Coeffs}
	if len(pts) > 2 {
		rec.Method = "multi-point"
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REFERENCE\tREADING\tNOISE\tCALIBRATED")
	for _, p := range pts {
		rec.Points = append(rec.Points, daq.Point{Volts: p.Volts, Value: p.Value})
		fmt.Fprintf(tw, "%s\t%.6f V\t%.2g V\t%s\n", units.Format(p.Value, dim), p.Volts, p.Std, units.Format(cal.Apply(p.Volts), dim))
	}
	tw.Flush()
	old := calibrationsInForce(cfg)
	if err := cfg.SaveCalibrations(rec); err != nil {
		fmt.Fprintln(stderr, err)
		return exitInfra
	}
	logCalibrations(runlog.ActionCalibrate, old, []rig.CalRecord{rec}, stderr)
	fmt.Fprintf(stdout, "%s calibrated (%s, due %s); saved to %s\n", channel, rec.Method, due.Format("2006-01-02"), cfg.CalibrationPath())
	return exitPass
}
