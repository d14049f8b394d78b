package experiment

import (
	"fmt"
	"io"
	"time"

	"github.com/vecrosim/vecro/framework/load"
	"github.com/vecrosim/vecro/internal/statusline"
)

// progress writes a live line on a terminal and one line per phase
// elsewhere, so that CI logs stay short.
type progress struct {
	line  *statusline.Line
	w     io.Writer
	phase string
	last  time.Time
}

func newProgress(w io.Writer) *progress {
	return &progress{w: w, line: statusline.New(w)}
}

// say prints a one-off line.
func (p *progress) say(format string, args ...any) {
	p.line.Println(fmt.Sprintf(format, args...))
}

func (p *progress) update(tl Timeline, now time.Time, st load.Snapshot) {
	if p.w == nil {
		return
	}
	phase := tl.Phase(now)
	rps := float64(st.Last.Sent)
	line := fmt.Sprintf("%-22s %5.0fs / %.0fs  %6.1f req/s  errors %d  p99 %v",
		phase, now.Sub(tl.T0).Seconds(), tl.Duration().Seconds(), rps, st.Total.Errors, st.P99.Round(time.Millisecond))
	if p.line.Live() {
		if now.Sub(p.last) < time.Second && phase == p.phase {
			return
		}
		p.line.Show(line)
		p.last, p.phase = now, phase
		return
	}
	if phase != p.phase {
		p.line.Println(line)
		p.phase = phase
	}
}

func (p *progress) done() { p.line.Clear() }
