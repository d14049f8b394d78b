package load

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vecrosim/vecro/framework/traces"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Run is a load in progress. Its methods are safe for concurrent use.
type Run struct {
	spec    Spec
	targets []target
	rec     *recorder
	t0      time.Time

	// sendCtx ends the sending window (Duration, Stop or the caller's
	// context); reqCtx ends the requests in flight (after the drain, or at
	// once with the caller's context).
	sendCtx    context.Context
	stopSend   context.CancelFunc
	reqCtx     context.Context
	cancelReqs context.CancelFunc

	inFlight atomic.Int64
	workers  int // open-loop workers started, each with its connection
	done     chan struct{}
	report   *Report
}

// Start validates s and starts sending at once; t0 (Snapshot.Start,
// Report.Start) is now. The run ends after s.Duration, on Stop, or when ctx
// ends (requests in flight are then canceled at once).
func Start(ctx context.Context, s Spec) (*Run, error) {
	s, ts, err := s.normalize()
	if err != nil {
		return nil, err
	}
	var pacer Pacer
	if s.Rate != nil {
		if pacer, err = NewPacer(s.Rate, s.Arrivals, s.Seed, s.Duration); err != nil {
			return nil, fmt.Errorf("load spec: %w", err)
		}
	}
	r := &Run{spec: s, targets: ts, done: make(chan struct{})}
	r.reqCtx, r.cancelReqs = context.WithCancel(ctx)
	r.t0 = time.Now()
	r.rec = newRecorder(r.t0)
	if s.Duration > 0 {
		r.sendCtx, r.stopSend = context.WithDeadline(ctx, r.t0.Add(s.Duration))
	} else {
		r.sendCtx, r.stopSend = context.WithCancel(ctx)
	}
	s.Logger.Debug("load start", "mode", r.mode(), "targets", len(ts), "duration", s.Duration)
	go r.run(pacer)
	return r, nil
}

func (r *Run) mode() string {
	if r.spec.Rate != nil {
		return "open"
	}
	return "closed"
}

// Stats is a live snapshot: the second in progress, the last complete one,
// and the totals so far.
func (r *Run) Stats() Snapshot { return r.rec.snapshot(time.Now(), r.inFlight.Load()) }

// Seconds returns the complete seconds from index from on (copies), so
// that a caller polling now and then misses none: pass the number it
// already has.
func (r *Run) Seconds(from int) []Second { return r.rec.since(time.Now(), from) }

// Stop ends the sending window now; requests in flight get Spec.Drain to
// finish. Safe to call more than once and after the run ended.
func (r *Run) Stop() { r.stopSend() }

// Done is closed when the run has ended and its report is ready.
func (r *Run) Done() <-chan struct{} { return r.done }

// Wait blocks until the run ends and returns its report.
func (r *Run) Wait() *Report {
	<-r.done
	return r.report
}

func (r *Run) run(pacer Pacer) {
	defer close(r.done)
	var wg sync.WaitGroup
	var end time.Time
	if pacer != nil {
		end = r.openLoop(pacer, &wg)
	} else {
		end = r.closedLoop(&wg)
	}
	r.stopSend()

	drained := make(chan struct{})
	go func() { wg.Wait(); close(drained) }()
	timer := time.NewTimer(r.spec.Drain)
	select {
	case <-drained:
	case <-timer.C:
	case <-r.reqCtx.Done():
	}
	timer.Stop()
	r.cancelReqs()
	<-drained

	seconds := r.rec.finish(time.Now())
	r.report = r.buildReport(end, seconds)
	r.spec.Logger.Debug("load end", "sent", r.report.Sent, "ok", r.report.OK, "errors", r.report.Errors)
}

// sending reports whether the window is open. The caller's context ends
// both contexts, in no set order: a request failed by the end of reqCtx
// must not be followed by another before sendCtx has ended too.
func (r *Run) sending() bool { return r.sendCtx.Err() == nil && r.reqCtx.Err() == nil }

// windowEnd is when sending stopped: the end of Duration, or now if the
// window was cut short.
func (r *Run) windowEnd() time.Time {
	now := time.Now()
	if r.spec.Duration > 0 {
		return minTime(now, r.t0.Add(r.spec.Duration))
	}
	return now
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// ticket is one planned open-loop hit.
type ticket struct {
	n       uint64
	planned time.Time
}

// openLoop follows the pacer, handing each hit to an idle connection's
// worker, or to a new one while there are fewer than Connections. When all
// are busy it waits for one; the hits that fall due meanwhile go out as soon
// as possible, each still timed from its own planned time.
func (r *Run) openLoop(p Pacer, wg *sync.WaitGroup) time.Time {
	tickets := make(chan ticket)
	workers := 0
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var n uint64
loop:
	for {
		wait, stop := p.Pace(time.Since(r.t0), n)
		if stop {
			break
		}
		if wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-r.sendCtx.Done():
				break loop
			}
		} else if !r.sending() {
			break
		}
		at, _ := p.Due(n)
		t := ticket{n: n, planned: r.t0.Add(at)}
		select {
		case tickets <- t:
		default:
			if workers < r.spec.Connections {
				workers++
				wg.Add(1)
				go r.worker(t, tickets, wg)
				break
			}
			select {
			case tickets <- t:
			case <-r.sendCtx.Done():
				break loop
			}
		}
		n++
	}
	timer.Stop()
	close(tickets)
	r.workers = workers
	if r.spec.Duration > 0 {
		// The plan may end before the window (a ramp down to 0); the window
		// is still Duration long.
		<-r.sendCtx.Done()
	}
	end := r.windowEnd()
	// Hits that fell due before the end but never went out are counted,
	// never silently dropped.
	var unsent uint64
	for m := n; ; m++ {
		at, ok := p.Due(m)
		if !ok || !r.t0.Add(at).Before(end) {
			break
		}
		unsent++
	}
	r.rec.skipped(end, unsent)
	return end
}

func (r *Run) worker(first ticket, tickets <-chan ticket, wg *sync.WaitGroup) {
	defer wg.Done()
	c := newClient(r.reqCtx, &r.spec)
	defer c.close()
	r.hit(c, first)
	for t := range tickets {
		r.hit(c, t)
	}
}

func (r *Run) hit(c *client, t ticket) {
	tg := &r.targets[t.n%uint64(len(r.targets))]
	now := time.Now()
	r.send(c, tg, t.planned, now, now.Sub(t.planned) > r.spec.LateAfter)
}

// closedLoop runs the users until the sending window ends.
func (r *Run) closedLoop(wg *sync.WaitGroup) time.Time {
	for u := range r.spec.Users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.user(u)
		}()
	}
	<-r.sendCtx.Done()
	return r.windowEnd()
}

// user is one closed-loop user: one request per Delay tick on its own grid
// (offset so that users spread over the first Delay), at most one in
// flight.
func (r *Run) user(u int) {
	d := r.spec.Delay
	i := u % len(r.targets)
	c := newClient(r.reqCtx, &r.spec)
	defer c.close()
	if d == 0 {
		for r.sending() {
			now := time.Now()
			r.send(c, &r.targets[i], now, now, false)
			i = (i + 1) % len(r.targets)
		}
		return
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	// tick is the grid tick served next, after the one following it; late
	// marks a tick that came due while the previous request was in flight.
	tick := d * time.Duration(u) / time.Duration(r.spec.Users)
	after, late := tick+d, false
	for {
		if r.spec.Duration > 0 && tick >= r.spec.Duration {
			return
		}
		if wait := time.Until(r.t0.Add(tick)); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-r.sendCtx.Done():
				return
			}
		} else if !r.sending() {
			return
		}
		planned := r.t0.Add(tick)
		now := time.Now()
		r.send(c, &r.targets[i], planned, now, late || now.Sub(planned) > r.spec.LateAfter)
		i = (i + 1) % len(r.targets)
		// The rest of the tick's round follows each answer at once; its
		// requests are planned when sent, so that one slow target does not
		// count against the others' latency.
		for k := 1; r.spec.EveryTarget && k < len(r.targets) && r.sending(); k++ {
			now := time.Now()
			r.send(c, &r.targets[i], now, now, false)
			i = (i + 1) % len(r.targets)
		}

		el := time.Since(r.t0)
		if el < after {
			tick, after, late = after, after+d, false
			continue
		}
		// Ticks after, after+d, … ≤ el came due during the request: the
		// first is served now, late; the rest are skipped, as with the
		// seed's time.Ticker.
		passed := (el-after)/d + 1
		if r.spec.Duration > 0 {
			if after >= r.spec.Duration {
				return
			}
			passed = min(passed, (r.spec.Duration-after+d-1)/d)
		}
		round := time.Duration(1)
		if r.spec.EveryTarget {
			round = time.Duration(len(r.targets))
		}
		r.rec.skipped(time.Now(), uint64((passed-1)*round))
		tick, after, late = after, after+passed*d, true
	}
}

// send makes one request and records it. Nothing a server or the network
// does makes it fail: every outcome is counted.
func (r *Run) send(c *client, t *target, planned, now time.Time, late bool) {
	r.rec.sent(now, planned, late, len(r.spec.Body))
	r.inFlight.Add(1)
	res := r.do(c, t, planned, now)
	r.inFlight.Add(-1)
	r.rec.done(res)
}

func (r *Run) do(c *client, t *target, planned, sent time.Time) result {
	var span trace.Span
	c.hdr = c.hdr[:0]
	if r.spec.Tracer != nil {
		var ctx context.Context
		ctx, span = r.spec.Tracer.Start(r.reqCtx, t.spanName, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithTimestamp(sent), trace.WithAttributes(t.spanAttrs...))
		traces.Propagator.Inject(ctx, c)
	}
	status, n, err := c.do(t.w, c.hdr)
	res := result{planned: planned, sent: sent, done: time.Now(), bytesIn: n}
	if err != nil {
		res.kind = classify(r.reqCtx, err)
		res.err = fmt.Errorf("%s %s: %w", r.spec.Method, t.URL, err)
	} else {
		res.status = status
		if k, bad := statusKind(status); bad {
			res.kind = k
		}
	}
	if span != nil {
		endSpan(span, res)
	}
	return res
}

// endSpan completes a request's root span with its answer.
func endSpan(span trace.Span, res result) {
	if span.IsRecording() {
		if res.status != 0 {
			span.SetAttributes(traces.AttrHTTPStatus.Int(res.status))
		}
		switch {
		case res.err != nil:
			span.SetStatus(codes.Error, res.err.Error())
		case res.status >= 500:
			span.SetStatus(codes.Error, http.StatusText(res.status))
		}
	}
	span.End(trace.WithTimestamp(res.done))
}

func (r *Run) buildReport(end time.Time, seconds []Second) *Report {
	s := r.spec
	rec := r.rec
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rep := &Report{
		Mode:         r.mode(),
		Method:       s.Method,
		Seed:         s.Seed,
		Start:        r.t0,
		End:          end,
		Duration:     end.Sub(r.t0),
		Totals:       rec.tot,
		Latency:      summarise(rec.latency),
		ServiceTime:  summarise(rec.service),
		SendLag:      summarise(rec.lag),
		Status:       rec.status,
		ErrorSamples: rec.samples,
		Seconds:      seconds,
	}
	for _, t := range r.targets {
		rep.Targets = append(rep.Targets, t.Target)
	}
	if s.Rate != nil {
		rep.Rate, rep.Arrivals, rep.Connections = s.Rate.String(), s.Arrivals, r.workers
	} else {
		rep.Users, rep.Delay, rep.EveryTarget = s.Users, s.Delay, s.EveryTarget
	}
	rep.Planned = rep.Sent + rep.Skipped
	if d := rep.Duration.Seconds(); d > 0 {
		rep.Achieved = float64(rep.Sent) / d
		rep.Throughput = float64(rep.OK) / d
	}
	return rep
}
