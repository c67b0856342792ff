package dut

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// This file decodes the payloads of VADLINK frames the host receives.

func intField(f Frame, key string) (int, error) {
	s, ok := f.Field(key)
	if !ok {
		return 0, fmt.Errorf("%w: %s frame has no %s=", ErrSyntax, f.Verb, key)
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%w: %s=%q is not an integer", ErrSyntax, key, s)
	}
	return v, nil
}

// intDst is an integer field of a frame and where its value goes.
type intDst struct {
	key string
	dst *int
}

// intFields reads each of fields, in order; it stops at the first missing or
// malformed one.
func intFields(f Frame, fields []intDst) error {
	for _, k := range fields {
		v, err := intField(f, k.key)
		if err != nil {
			return err
		}
		*k.dst = v
	}
	return nil
}

func alarmsField(f Frame, key string) (Alarms, error) {
	s, ok := f.Field(key)
	if !ok {
		return 0, fmt.Errorf("%w: %s frame has no %s=", ErrSyntax, f.Verb, key)
	}
	a, err := ParseAlarms(s)
	if err != nil {
		return 0, fmt.Errorf("%w: %s=%q is not a hex bitmask", ErrSyntax, key, s)
	}
	return a, nil
}

// parseIdentity decodes the OK reply to HELLO.
func parseIdentity(f Frame) (Identity, error) {
	var id Identity
	for _, k := range [...]struct {
		key string
		dst *string
	}{{"model", &id.Model}, {"serial", &id.Serial}, {"fw", &id.FW}} {
		v, ok := f.Field(k.key)
		if !ok {
			return Identity{}, fmt.Errorf("%w: HELLO reply has no %s=", ErrSyntax, k.key)
		}
		*k.dst = v
	}
	p, err := intField(f, "proto")
	if err != nil {
		return Identity{}, err
	}
	if p != 1 {
		return Identity{}, fmt.Errorf("dut: device speaks VADLINK protocol %d, this driver speaks 1", p)
	}
	id.Proto = p
	return id, nil
}

// parseStatus decodes the OK reply to STATUS.
func parseStatus(f Frame) (Status, error) {
	var s Status
	err := intFields(f, []intDst{{"rpm", &s.RPM}, {"target", &s.TargetRPM}, {"cur", &s.CurrentmA}, {"pwr", &s.PowermW}, {"purge", &s.PurgemmHg}})
	if err != nil {
		return Status{}, err
	}
	if s.Alarms, err = alarmsField(f, "alarms"); err != nil {
		return Status{}, err
	}
	return s, nil
}

// parseTelemetry decodes a TLM frame; At is left for the caller.
func parseTelemetry(f Frame) (Telemetry, error) {
	var t Telemetry
	ms, err := intField(f, "t")
	if err != nil {
		return Telemetry{}, err
	}
	t.DeviceT = time.Duration(ms) * time.Millisecond
	if err := intFields(f, []intDst{{"rpm", &t.RPM}, {"cur", &t.CurrentmA}, {"pwr", &t.PowermW}, {"purge", &t.PurgemmHg}}); err != nil {
		return Telemetry{}, err
	}
	if t.Alarms, err = alarmsField(f, "alarms"); err != nil {
		return Telemetry{}, err
	}
	return t, nil
}

// parseAlarm decodes `0 ALARM <hex> <text>`; At is left for the caller.
func parseAlarm(f Frame) (AlarmEvent, error) {
	if len(f.Args) < 1 {
		return AlarmEvent{}, fmt.Errorf("%w: ALARM frame without bits", ErrSyntax)
	}
	bits, err := ParseAlarms(f.Args[0])
	if err != nil {
		return AlarmEvent{}, fmt.Errorf("%w: ALARM bits %q", ErrSyntax, f.Args[0])
	}
	return AlarmEvent{Bits: bits, Text: strings.Join(f.Args[1:], " ")}, nil
}

// parseErr decodes `<seq> ERR <code> <text>`.
func parseErr(f Frame) error {
	if len(f.Args) < 1 {
		return fmt.Errorf("%w: ERR reply without a code", ErrSyntax)
	}
	code, err := strconv.Atoi(f.Args[0])
	if err != nil {
		return fmt.Errorf("%w: ERR code %q", ErrSyntax, f.Args[0])
	}
	return &Error{Code: code, Text: strings.Join(f.Args[1:], " ")}
}
