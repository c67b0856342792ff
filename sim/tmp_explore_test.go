package sim

import (
	"testing"
	"time"

	"github.com/mockloop/mockloop/pumpctl"
)

func TestExploreVolume(t *testing.T) {
	for _, lap := range []float64{0, 2, 4, 5, 6, 8} {
		p := SimaanNormal()
		l, _ := NewLoop(p, Initial{LVVolume: 140, LAP: lap, AoP: 90, Ps: 90})
		w, _ := pumpctl.NewCardiacWaveform(75, 2, p.Emin)
		d := &driven{l: l, w: w, dt: time.Millisecond}
		vol := l.volume()
		d.settle(30 * time.Second)
		s := d.measure(20)
		s.log(t, "vol "+string(rune('0'+int(vol/100)))+" "+time.Duration(vol*1e6).String())
	}
}
