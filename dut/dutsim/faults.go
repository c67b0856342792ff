package dutsim

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mockloop/mockloop/dut"
)

// Faults are the faults a Server injects. The zero value is a healthy
// device on a healthy link. Link faults act on what the DUT sends; they act
// on replies only, except Silent and Babble, which take the whole transmit
// side. Device faults (Alarm, Pulse, NoStop, NoAlarmFrames) are the firmware's: a device
// whose word the host must check rather than trust.
//
// ParseFaults reads them from the command-line form written by String:
//
//	drop=0.2,drop-next=3,delay=150ms,corrupt=0.1,corrupt-next=1,garbage=0.05,babble,silent,unplug=10s/2s,seed=7,
//	alarm=0x3F,pulse=0x02@2s/30ms,nostop,noalarm
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

	// Alarm floods the host with these alarm bits: they rise, an ALARM
	// frame each, every time the firmware runs, and fall at once (they are
	// not latched, so STATUS and TLM do not show them): a device whose
	// alarms chatter faster than any poll.
	Alarm dut.Alarms
	// PulseBits rise PulseAt (> 0) after power-on, an ALARM frame each,
	// and fall PulseFor later, unlatched: an alarm that comes and goes between two
	// polls. STATUS and TLM show them while they last.
	PulseBits         dut.Alarms
	PulseAt, PulseFor time.Duration
	// NoStop: MODE STOP, and the watchdog's stop, leave the target speed
	// as it was; MODE STOP is still answered OK. The pump keeps turning.
	NoStop bool
	// NoAlarmFrames: no ALARM frame is sent; alarms show in STATUS and TLM
	// only, as on a firmware that does not announce them.
	NoAlarmFrames bool
}

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
		it := newFaultItem(item)
		if it.key == "" {
			return Faults{}, fmt.Errorf("dutsim: faults %q: empty item", s)
		}
		if seen[it.key] {
			return Faults{}, it.errorf("%s given twice", it.key)
		}
		seen[it.key] = true
		parse := faultParser(it.key)
		if parse == nil {
			return Faults{}, it.errorf("unknown fault (known: %s)", faultKeys())
		}
		if err := parse(&f, it); err != nil {
			return Faults{}, err
		}
	}
	return f, nil
}

// faultParsers is every key ParseFaults knows, in the order String writes
// them, with what reads its value into Faults. Keys and fields meet here
// only, so that adding a fault is one row (and a line of String).
var faultParsers = [...]struct {
	key   string
	parse func(*Faults, faultItem) error
}{
	{"drop", func(f *Faults, it faultItem) error { return it.probability(&f.Drop) }},
	{"drop-next", func(f *Faults, it faultItem) error { return it.count(&f.DropNext) }},
	{"delay", func(f *Faults, it faultItem) error { return it.duration(&f.Delay) }},
	{"corrupt", func(f *Faults, it faultItem) error { return it.probability(&f.Corrupt) }},
	{"corrupt-next", func(f *Faults, it faultItem) error { return it.count(&f.CorruptNext) }},
	{"garbage", func(f *Faults, it faultItem) error { return it.probability(&f.Garbage) }},
	{"babble", func(f *Faults, it faultItem) error { return it.flag(&f.Babble) }},
	{"silent", func(f *Faults, it faultItem) error { return it.flag(&f.Silent) }},
	{"unplug", func(f *Faults, it faultItem) error { return it.unplug(&f.UnplugAfter, &f.UnplugFor) }},
	{"seed", func(f *Faults, it faultItem) error { return it.seed(&f.Seed) }},
	{"alarm", func(f *Faults, it faultItem) error { return it.alarms(it.val, &f.Alarm) }},
	{"pulse", func(f *Faults, it faultItem) error { return it.pulse(f) }},
	{"nostop", func(f *Faults, it faultItem) error { return it.flag(&f.NoStop) }},
	{"noalarm", func(f *Faults, it faultItem) error { return it.flag(&f.NoAlarmFrames) }},
}

// faultParser returns the parser of key, nil for an unknown key.
func faultParser(key string) func(*Faults, faultItem) error {
	for _, p := range faultParsers {
		if p.key == key {
			return p.parse
		}
	}
	return nil
}

// faultKeys lists the keys ParseFaults knows, for its error messages.
func faultKeys() string {
	keys := make([]string, len(faultParsers))
	for i, p := range faultParsers {
		keys[i] = p.key
	}
	return strings.Join(keys, ", ")
}

// faultItem is one "key=value" item of a fault list, as its key's parser
// reads it.
type faultItem struct {
	text     string // the whole item, trimmed, for error messages
	key, val string // trimmed
	hasVal   bool   // there was an "="
}

func newFaultItem(item string) faultItem {
	item = strings.TrimSpace(item)
	key, val, hasVal := strings.Cut(item, "=")
	return faultItem{text: item, key: strings.TrimSpace(key), val: strings.TrimSpace(val), hasVal: hasVal}
}

// errorf is the error for a bad item.
func (it faultItem) errorf(format string, a ...any) error {
	return fmt.Errorf("dutsim: fault %q: %s", it.text, fmt.Sprintf(format, a...))
}

// value is the item's value, or an error if it has none.
func (it faultItem) value() (string, error) {
	if !it.hasVal || it.val == "" {
		return "", it.errorf("needs a value (%s=...)", it.key)
	}
	return it.val, nil
}

// probability reads a number from 0 to 1 into dst.
func (it faultItem) probability(dst *float64) error {
	val, err := it.value()
	if err != nil {
		return err
	}
	p, err := strconv.ParseFloat(val, 64)
	if err != nil || !(p >= 0 && p <= 1) {
		return it.errorf("probability must be a number from 0 to 1")
	}
	*dst = p
	return nil
}

// count reads a non-negative integer into dst.
func (it faultItem) count(dst *int) error {
	val, err := it.value()
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(val)
	if err != nil || n < 0 {
		return it.errorf("count must be a non-negative integer")
	}
	*dst = n
	return nil
}

// duration reads a non-negative Go duration into dst.
func (it faultItem) duration(dst *time.Duration) error {
	val, err := it.value()
	if err != nil {
		return err
	}
	d, err := parseDuration(val)
	if err != nil {
		return it.errorf("%v", err)
	}
	*dst = d
	return nil
}

// flag sets dst: a bare key is true, else the value is a bool.
func (it faultItem) flag(dst *bool) error {
	on := true
	if it.hasVal {
		var err error
		if on, err = strconv.ParseBool(it.val); err != nil {
			return it.errorf("takes no value, or true/false")
		}
	}
	*dst = on
	return nil
}

// unplug reads AFTER or AFTER/FOR, both positive durations.
func (it faultItem) unplug(after, hold *time.Duration) error {
	val, err := it.value()
	if err != nil {
		return err
	}
	afterStr, holdStr, hasHold := strings.Cut(val, "/")
	positive := func(s string, dst *time.Duration) error {
		d, err := parseDuration(s)
		if err != nil || d == 0 {
			return it.errorf("want unplug=AFTER or unplug=AFTER/FOR with positive durations, e.g. unplug=10s/2s")
		}
		*dst = d
		return nil
	}
	if err := positive(afterStr, after); err != nil {
		return err
	}
	if hasHold {
		return positive(holdStr, hold)
	}
	return nil
}

// seed reads a decimal int64 into dst.
func (it faultItem) seed(dst *int64) error {
	val, err := it.value()
	if err != nil {
		return err
	}
	n, err := strconv.ParseInt(val, 10, 64)
	if err != nil {
		return it.errorf("seed must be an integer")
	}
	*dst = n
	return nil
}

// alarms reads a non-zero alarm bitmask in hex ("0x3F", "3F") into dst.
func (it faultItem) alarms(val string, dst *dut.Alarms) error {
	if _, err := it.value(); err != nil {
		return err
	}
	a, err := dut.ParseAlarms(val)
	if err != nil || a == 0 {
		return it.errorf("want a non-zero alarm bitmask in hex, e.g. %s=0x3F", it.key)
	}
	*dst = a
	return nil
}

// pulse reads BITS@AT/FOR: the bits, when after power-on, and for how
// long (positive).
func (it faultItem) pulse(f *Faults) error {
	val, err := it.value()
	if err != nil {
		return err
	}
	bits, when, ok1 := strings.Cut(val, "@")
	at, dur, ok2 := strings.Cut(when, "/")
	bad := it.errorf("want pulse=BITS@AT/FOR with positive durations, e.g. pulse=0x02@2s/30ms")
	if !ok1 || !ok2 {
		return bad
	}
	if err := it.alarms(bits, &f.PulseBits); err != nil {
		return err
	}
	if f.PulseAt, err = parseDuration(at); err != nil || f.PulseAt == 0 {
		return bad
	}
	if f.PulseFor, err = parseDuration(dur); err != nil || f.PulseFor == 0 {
		return bad
	}
	return nil
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
	if f.Alarm != 0 {
		parts = append(parts, "alarm=0x"+f.Alarm.Hex())
	}
	if f.PulseBits != 0 {
		parts = append(parts, "pulse=0x"+f.PulseBits.Hex()+"@"+f.PulseAt.String()+"/"+f.PulseFor.String())
	}
	if f.NoStop {
		parts = append(parts, "nostop")
	}
	if f.NoAlarmFrames {
		parts = append(parts, "noalarm")
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ",")
}
