package campaign

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/vecrosim/vecro/internal/statusline"
)

// progress is the campaign's progress line. On a terminal it is redrawn
// every second with the running case, the last line of that case's own
// progress and the time left; elsewhere (a CI log, a file) it stays quiet
// but for one line per finished case.
type progress struct {
	mu      sync.Mutex
	w       io.Writer
	line    *statusline.Line
	total   int
	done    int
	workers int
	// queued is the estimate of the cases not started yet; actual and
	// estimated are the finished ones' real and estimated time, whose
	// ratio corrects the rest.
	queued, actual, estimated time.Duration
	running                   map[string]*running
	order                     []string // running cases, oldest first
	warned                    map[string]bool
	stop                      chan struct{}
	stopped                   sync.WaitGroup
}

type running struct {
	began time.Time
	est   time.Duration
	last  string // the last line of the case's own progress
}

func newProgress(w io.Writer, total, done, workers int) *progress {
	p := &progress{w: w, line: statusline.New(w), total: total, done: done, workers: workers, running: map[string]*running{}, warned: map[string]bool{}}
	if p.line.Live() {
		p.stop = make(chan struct{})
		p.stopped.Add(1)
		go p.tick()
	}
	return p
}

// plan adds a case still to run, estimated at est.
func (p *progress) plan(est time.Duration) {
	p.mu.Lock()
	p.queued += est
	p.mu.Unlock()
}

func (p *progress) begin(id string, est time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.queued -= est
	p.running[id] = &running{began: time.Now(), est: est}
	p.order = append(p.order, id)
	p.draw(time.Now())
}

// caseWriter is where case id's experiment writes its progress: kept as
// the live line's detail on a terminal, and nowhere elsewhere, but for its
// warnings (services not isolated, a fault applied on some instances
// only), which are printed the first time they are seen, since every case
// of a campaign would repeat them.
func (p *progress) caseWriter(id string) io.Writer {
	if p.w == nil {
		return nil
	}
	return lastLine(func(line string) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if r, ok := p.running[id]; ok {
			r.last = line
		}
		if strings.HasPrefix(line, "warning: ") && !p.warned[line] {
			p.warned[line] = true
			p.line.Println(id + ": " + line)
			p.draw(time.Now())
		}
	})
}

func (p *progress) end(id, status string, took time.Duration, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.running[id]
	delete(p.running, id)
	for i, x := range p.order {
		if x == id {
			p.order = append(p.order[:i], p.order[i+1:]...)
			break
		}
	}
	p.done++
	if r != nil && status == "complete" {
		// Only whole runs say how long a case takes: a failed one may
		// have stopped at its start.
		p.actual += took
		p.estimated += r.est
	}
	if p.w == nil {
		return
	}
	line := fmt.Sprintf("[%d/%d] %s %s in %s", p.done, p.total, id, status, took.Round(time.Second))
	if err != nil && status != "complete" {
		msg, _, _ := strings.Cut(err.Error(), "\n")
		line += ": " + statusline.Clip(msg, 240)
	}
	if left := p.left(time.Now()); left > 0 {
		line += " · ETA " + left.Round(time.Second).String()
	}
	p.line.Println(line)
	p.draw(time.Now())
}

func (p *progress) close() {
	if p.stop != nil {
		close(p.stop)
		p.stopped.Wait()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.line.Clear()
}

func (p *progress) tick() {
	defer p.stopped.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case now := <-t.C:
			p.mu.Lock()
			p.draw(now)
			p.mu.Unlock()
		}
	}
}

// draw redraws the live line (a terminal only); it runs under mu.
func (p *progress) draw(now time.Time) {
	if !p.line.Live() || len(p.order) == 0 {
		return
	}
	id := p.order[0]
	r := p.running[id]
	line := fmt.Sprintf("[%d/%d] %s", p.done+1, p.total, id)
	if len(p.order) > 1 {
		line += fmt.Sprintf(" (+%d running)", len(p.order)-1)
	}
	if r.last != "" {
		line += ": " + strings.Join(strings.Fields(r.last), " ")
	}
	line += " · ETA " + p.left(now).Round(time.Second).String()
	p.line.Show(line)
}

// left is the time left at now; it runs under mu.
func (p *progress) left(now time.Time) time.Duration {
	var rs []runningCase
	for _, id := range p.order {
		r := p.running[id]
		rs = append(rs, runningCase{est: r.est, elapsed: now.Sub(r.began)})
	}
	return timeLeft(p.queued, rs, p.actual, p.estimated, p.workers)
}

// runningCase is a case under way: its estimate and how long it has run.
type runningCase struct{ est, elapsed time.Duration }

// timeLeft estimates how long the rest of a campaign takes: the queued
// cases' estimates and what is left of the running ones', both scaled by
// how long the finished cases really took against their estimates (the
// estimate's overhead is a constant; this machine's is what it is), and
// shared among the workers.
func timeLeft(queued time.Duration, rs []runningCase, actual, estimated time.Duration, workers int) time.Duration {
	ratio := 1.0
	if estimated > 0 {
		ratio = float64(actual) / float64(estimated)
	}
	left := time.Duration(float64(queued) * ratio)
	for _, r := range rs {
		left += max(time.Duration(float64(r.est)*ratio)-r.elapsed, 0)
	}
	return left / time.Duration(max(workers, 1))
}

// lastLine is a writer that hands each complete line to a func.
type lastLine func(string)

func (f lastLine) Write(b []byte) (int, error) {
	for line := range strings.SplitSeq(string(b), "\n") {
		if line = strings.TrimSpace(strings.TrimLeft(line, "\r")); line != "" {
			f(line)
		}
	}
	return len(b), nil
}
