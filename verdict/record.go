package verdict

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"

	"github.com/mockloop/mockloop/internal/strictyaml"
	"github.com/mockloop/mockloop/protocols"
	"github.com/mockloop/mockloop/runlog"
	"github.com/mockloop/mockloop/units"
)

// The copies a record keeps of what it ran (runlog.Create).
const (
	protocolCopy = "protocol.yaml"
	rigCopy      = "rig.yaml"
	// maxCopy bounds the reading of either: a protocol or rig config is a
	// few kB; a copy larger than this is not one.
	maxCopy = 4 << 20
)

// ErrNoProtocol is returned by Recompute for a record without a protocol
// copy (made by an older version): its verdicts cannot be judged again.
var ErrNoProtocol = errors.New("no protocol copy")

// rigCopyInfo is what the record's copy of the rig config says of beats
// and presets: the beat channels in order (the first one times stroke
// volume) and the preset names loop.preset accepts.
type rigCopyInfo struct {
	beats, presets []string
	cycle          string
}

// readRigCopy reads beat channels, the cycle channel and preset names from rig.yaml, if the
// record has one; it reads nothing else of it (the rig package owns the
// format, and reports must not import rig). A copy that does not parse
// yields nothing: the protocol is then parsed against the record alone.
func readRigCopy(dir string) rigCopyInfo {
	var info rigCopyInfo
	b, err := runlog.ReadFile(filepath.Join(dir, rigCopy), maxCopy)
	if err != nil {
		return info
	}
	root, err := strictyaml.Parse(rigCopy, b)
	if err != nil || !strictyaml.IsMapping(root) {
		return info
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch {
		case k.Value == "beats" && strictyaml.IsSequence(v):
			for _, it := range v.Content {
				if strictyaml.IsScalar(it) {
					info.beats = append(info.beats, it.Value)
				}
			}
		case k.Value == "cycle" && strictyaml.IsScalar(v):
			info.cycle = v.Value
		case k.Value == "presets" && strictyaml.IsMapping(v):
			for j := 0; j < len(v.Content); j += 2 {
				info.presets = append(info.presets, v.Content[j].Value)
			}
		}
	}
	return info
}

// dimOf is the dimension whose canonical unit is unit ("mmHg"), or None.
func dimOf(unit string) units.Dimension {
	for d := units.Dimension(1); d.Unit() != ""; d++ {
		if d.Unit() == unit {
			return d
		}
	}
	return units.None
}

// parseCopy parses the record's protocol copy against what the record
// says of its rig: its channels, and every parameter of the language with
// no range. The copy was checked against the rig itself before the run;
// parsing it again is to read its criteria, not to re-validate setpoints.
func parseCopy(dir string, m *runlog.Manifest, rc rigCopyInfo) (*protocols.Protocol, error) {
	src, err := runlog.ReadFile(filepath.Join(dir, protocolCopy), maxCopy)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoProtocol
	}
	if err != nil {
		return nil, err
	}
	// OtherDevice: the run was allowed on the DUT it had (its deviation is
	// in the audit trail); judging it again must not refuse it.
	info := protocols.RigInfo{Name: m.Rig, Channels: map[string]units.Dimension{}, Params: map[string]protocols.Range{}, Presets: rc.presets, OtherDevice: true}
	for _, ch := range m.Layout {
		d := dimOf(ch.Unit)
		info.Channels[ch.Name] = d
		if d == units.Pressure {
			info.BeatChannels = append(info.BeatChannels, ch.Name)
		}
	}
	for name := range protocols.Params {
		info.Params[name] = protocols.Range{}
	}
	p, err := protocols.Parse(protocolCopy, src, info)
	if err != nil {
		return nil, fmt.Errorf("the record's protocol copy does not parse: %w", err)
	}
	return p, nil
}

// primaryFlow is the first flow channel of the layout: the one the beats
// of the record integrate into stroke volume.
func primaryFlow(layout []runlog.Channel) string {
	i := slices.IndexFunc(layout, func(c runlog.Channel) bool { return dimOf(c.Unit) == units.Flow })
	if i < 0 {
		return ""
	}
	return layout[i].Name
}
