package experiment

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/vecrosim/vecro/framework/load"
)

// progress writes a live line on a terminal and one line per phase
// elsewhere, so that CI logs stay short.
type progress struct {
	w     io.Writer
	tty   bool
	phase string
	last  time.Time
	width int
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
	}
	return p
}

// say prints a one-off line.
func (p *progress) say(format string, args ...any) {
	if p.w == nil {
		return
	}
	p.clear()
	fmt.Fprintf(p.w, format+"\n", args...)
}

func (p *progress) update(tl Timeline, now time.Time, st load.Snapshot) {
	if p.w == nil {
		return
	}
	phase := tl.Phase(now)
	rps := float64(st.Last.Sent)
	line := fmt.Sprintf("%-22s %5.0fs / %.0fs  %6.1f req/s  errors %d  p99 %v",
		phase, now.Sub(tl.T0).Seconds(), tl.Duration().Seconds(), rps, st.Total.Errors, st.P99.Round(time.Millisecond))
	if p.tty {
		if now.Sub(p.last) < time.Second && phase == p.phase {
			return
		}
		p.clear()
		fmt.Fprint(p.w, line)
		p.width, p.last, p.phase = len(line), now, phase
		return
	}
	if phase != p.phase {
		fmt.Fprintln(p.w, line)
		p.phase = phase
	}
}

func (p *progress) clear() {
	if p.tty && p.width > 0 {
		fmt.Fprint(p.w, "\r"+strings.Repeat(" ", p.width)+"\r")
		p.width = 0
	}
}

func (p *progress) done() { p.clear() }
