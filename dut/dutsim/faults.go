package dutsim

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Faults are the link faults a Server injects. The zero value is a healthy
// link. Faults act on what the DUT sends; they act on replies only, except
// Silent and Babble, which take the whole transmit side.
//
// ParseFaults reads them from the command-line form written by String:
//
//	drop=0.2,drop-next=3,delay=150ms,corrupt=0.1,corrupt-next=1,garbage=0.05,babble,silent,unplug=10s/2s,seed=7
type Faults struct {
	Drop        float64       // probability that a reply is not sent
	DropNext    int           // the next DropNext replies are not sent
	Delay       time.Duration // every reply leaves this much later (real time)
	Corrupt     float64       // probability that a reply's CRC is wrong
	CorruptNext int           // the next CorruptNext replies have a wrong CRC
	Garbage     float64       // probability that random bytes precede a reply
	// Babble replaces every reply with random bytes and suppresses TLM and
	// ALARM: a device on the wrong baud rate, a garbage stream.
	Babble bool
	// Silent sends nothing at all: a dead transmit line. The firmware
	// still receives and executes host frames.
	Silent bool
	// UnplugAfter, if positive, unplugs the device this long (real time)
	// after the faults are set; if UnplugFor is positive too, it is
	// plugged in again that much later. It is a one-shot action.
	UnplugAfter time.Duration
	UnplugFor   time.Duration
	// Seed seeds the random choices, so a run with faults is repeatable;
	// 0 means 1.
	Seed int64
}

// faultKeys lists the keys ParseFaults knows, for its error messages.
const faultKeys = "drop, drop-next, delay, corrupt, corrupt-next, garbage, babble, silent, unplug, seed"

// ParseFaults reads a comma-separated list of faults, such as
// "drop=0.2,delay=150ms". Probabilities are in [0, 1], counts are
// non-negative integers, durations are Go durations ("150ms", "2s"); babble
// and silent take no value (or true/false); unplug is AFTER or AFTER/FOR.
// "" and "none" are no faults. Each key may appear once.
func ParseFaults(s string) (Faults, error) {
	var f Faults
	s = strings.TrimSpace(s)
	if s == "" || s == "none" {
		return f, nil
	}
	seen := map[string]bool{}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		key, val, hasVal := strings.Cut(item, "=")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		bad := func(format string, a ...any) error {
			return fmt.Errorf("dutsim: fault %q: %s", item, fmt.Sprintf(format, a...))
		}
		if key == "" {
			return Faults{}, fmt.Errorf("dutsim: faults %q: empty item", s)
		}
		if seen[key] {
			return Faults{}, bad("%s given twice", key)
		}
		seen[key] = true
		needVal := func() error {
			if !hasVal || val == "" {
				return bad("needs a value (%s=...)", key)
			}
			return nil
		}
		var err error
		switch key {
		case "drop", "corrupt", "garbage":
			if err = needVal(); err != nil {
				return Faults{}, err
			}
			p, perr := strconv.ParseFloat(val, 64)
			if perr != nil || !(p >= 0 && p <= 1) {
				return Faults{}, bad("probability must be a number from 0 to 1")
			}
			switch key {
			case "drop":
				f.Drop = p
			case "corrupt":
				f.Corrupt = p
			default:
				f.Garbage = p
			}
		case "drop-next", "corrupt-next":
			if err = needVal(); err != nil {
				return Faults{}, err
			}
			n, nerr := strconv.Atoi(val)
			if nerr != nil || n < 0 {
				return Faults{}, bad("count must be a non-negative integer")
			}
			if key == "drop-next" {
				f.DropNext = n
			} else {
				f.CorruptNext = n
			}
		case "delay":
			if err = needVal(); err != nil {
				return Faults{}, err
			}
			if f.Delay, err = parseDuration(val); err != nil {
				return Faults{}, bad("%v", err)
			}
		case "babble", "silent":
			on := true
			if hasVal {
				var berr error
				if on, berr = strconv.ParseBool(val); berr != nil {
					return Faults{}, bad("takes no value, or true/false")
				}
			}
			if key == "babble" {
				f.Babble = on
			} else {
				f.Silent = on
			}
		case "unplug":
			if err = needVal(); err != nil {
				return Faults{}, err
			}
			after, forStr, hasFor := strings.Cut(val, "/")
			if f.UnplugAfter, err = parseDuration(after); err != nil || f.UnplugAfter == 0 {
				return Faults{}, bad("want unplug=AFTER or unplug=AFTER/FOR with positive durations, e.g. unplug=10s/2s")
			}
			if hasFor {
				if f.UnplugFor, err = parseDuration(forStr); err != nil || f.UnplugFor == 0 {
					return Faults{}, bad("want unplug=AFTER or unplug=AFTER/FOR with positive durations, e.g. unplug=10s/2s")
				}
			}
		case "seed":
			if err = needVal(); err != nil {
				return Faults{}, err
			}
			if f.Seed, err = strconv.ParseInt(val, 10, 64); err != nil {
				return Faults{}, bad("seed must be an integer")
			}
		default:
			return Faults{}, bad("unknown fault (known: %s)", faultKeys)
		}
	}
	return f, nil
}

func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as 150ms or 2s", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("duration %s is negative", s)
	}
	return d, nil
}

// String writes f in the form ParseFaults reads; "none" for no faults.
func (f Faults) String() string {
	var parts []string
	prob := func(k string, p float64) {
		if p != 0 {
			parts = append(parts, k+"="+strconv.FormatFloat(p, 'g', -1, 64))
		}
	}
	count := func(k string, n int) {
		if n != 0 {
			parts = append(parts, k+"="+strconv.Itoa(n))
		}
	}
	prob("drop", f.Drop)
	count("drop-next", f.DropNext)
	if f.Delay != 0 {
		parts = append(parts, "delay="+f.Delay.String())
	}
	prob("corrupt", f.Corrupt)
	count("corrupt-next", f.CorruptNext)
	prob("garbage", f.Garbage)
	if f.Babble {
		parts = append(parts, "babble")
	}
	if f.Silent {
		parts = append(parts, "silent")
	}
	if f.UnplugAfter != 0 {
		u := "unplug=" + f.UnplugAfter.String()
		if f.UnplugFor != 0 {
			u += "/" + f.UnplugFor.String()
		}
		parts = append(parts, u)
	}
	if f.Seed != 0 {
		parts = append(parts, "seed="+strconv.FormatInt(f.Seed, 10))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ",")
}
