package dataset

import (
	"encoding/csv"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vecrosim/vecro/framework/fault"
	"github.com/vecrosim/vecro/framework/logs"
	"github.com/vecrosim/vecro/framework/spec"
	"github.com/vecrosim/vecro/framework/traces"
)

// Traces are a run's spans as collected: they write traces.csv and
// callgraph.dot, and the manifest's traces entry.
type Traces struct {
	Spans []traces.Span
	Stats traces.Stats
	// SampleRatio is the share of load requests traced.
	SampleRatio float64
}

// Logs are a run's request log lines: they write logs.csv and the
// manifest's logs entry.
type Logs struct {
	Lines []logs.Line
	Stats logs.Stats
	// Dropped counts the lines the instances' rate caps dropped, when known
	// (vecro_log_lines_dropped_total); negative when not.
	Dropped float64
	// Written counts the lines the instances wrote in the window read
	// (vecro_log_lines_total), when known; negative when not. Fewer lines
	// read than written were lost on the way (a kubelet rotates a
	// container's log at its size limit and serves the last file only).
	Written float64
}

// TracesSummary is the manifest's traces entry.
type TracesSummary struct {
	// Spans and Traces count what traces.csv holds.
	Spans  int `json:"spans"`
	Traces int `json:"traces"`
	// Complete counts the traces rooted at a load request whose spans are
	// as many as the request's call tree has (CallTreeSize); Rooted those
	// rooted at a load request at all.
	Complete        int     `json:"complete"`
	Rooted          int     `json:"rooted"`
	CompletePercent float64 `json:"complete_percent"`
	// Received, Dropped and MaxSpans are the collector's: spans that
	// arrived, spans refused at its cap, and the cap.
	Received    int64   `json:"received"`
	Dropped     int64   `json:"dropped"`
	MaxSpans    int     `json:"max_spans,omitempty"`
	SampleRatio float64 `json:"sample_ratio"`
}

// LogsSummary is the manifest's logs entry.
type LogsSummary struct {
	Lines      int64 `json:"lines"`
	ErrorLines int   `json:"error_lines"`
	// Dropped is the lines the instances' rate caps dropped; absent when
	// unknown.
	Dropped *float64 `json:"dropped,omitempty"`
	// Written is about how many lines the instances wrote in the run's
	// window (their counters read at its ends, so give or take a second's
	// lines); absent when unknown. Lines well short of it were lost.
	Written *float64 `json:"written,omitempty"`
}

// CallTreeSize is how many spans one traced load request to entry makes
// when every call succeeds: the load's client span, and for every service
// reached its server span, one span per storage operation, and a client
// span per call. It is 0 for a service the system does not have.
func CallTreeSize(sys *spec.System, entry string) int {
	if sys.Service(entry) == nil {
		return 0
	}
	// Validation rules out call cycles, so the recursion ends.
	var size func(string) int
	size = func(name string) int {
		svc := sys.Service(name)
		if svc == nil {
			return 0
		}
		n := 1 + svc.Workload.Read + svc.Workload.Write
		for _, c := range svc.Calls {
			n += 1 + size(c)
		}
		return n
	}
	return 1 + size(entry)
}

// Summarize counts the traces of spans and how many are complete.
func (t *Traces) Summarize(sys *spec.System) TracesSummary {
	byTrace := map[[16]byte][]*traces.Span{}
	for i := range t.Spans {
		s := &t.Spans[i]
		byTrace[s.TraceID] = append(byTrace[s.TraceID], s)
	}
	sum := TracesSummary{
		Spans: len(t.Spans), Traces: len(byTrace),
		Received: t.Stats.Received, Dropped: t.Stats.Dropped, MaxSpans: t.Stats.MaxSpans, SampleRatio: t.SampleRatio,
	}
	sizes := map[string]int{}
	for _, ss := range byTrace {
		var root *traces.Span
		for _, s := range ss {
			if !s.ParentSpanID.IsValid() && s.Service == traces.LoadService {
				root = s
			}
		}
		if root == nil {
			continue
		}
		sum.Rooted++
		want, ok := sizes[root.PeerService]
		if !ok && sys != nil {
			want = CallTreeSize(sys, root.PeerService)
			sizes[root.PeerService] = want
		}
		if want > 0 && len(ss) == want {
			sum.Complete++
		}
	}
	if sum.Rooted > 0 {
		sum.CompletePercent = 100 * float64(sum.Complete) / float64(sum.Rooted)
	}
	return sum
}

// Summarize counts the lines.
func (l *Logs) Summarize() LogsSummary {
	sum := LogsSummary{Lines: int64(len(l.Lines))}
	for _, x := range l.Lines {
		if x.Level == "ERROR" {
			sum.ErrorLines++
		}
	}
	if l.Dropped >= 0 {
		d := l.Dropped
		sum.Dropped = &d
	}
	if l.Written >= 0 {
		w := l.Written
		sum.Written = &w
	}
	return sum
}

// labels are a row's fault_active and on_target at t for the services
// involved.
func labels(ws []fault.Window, t time.Time, services ...string) (active, on string) {
	aw := fault.ActiveAt(ws, t)
	if len(aw) == 0 {
		return "", "0"
	}
	var names []string
	on = "0"
	for _, w := range aw {
		if !slices.Contains(names, w.Fault) {
			names = append(names, w.Fault)
		}
		if slices.Contains(services, w.Target) {
			on = "1"
		}
	}
	return strings.Join(names, ";"), on
}

func writeTraces(c *csv.Writer, spans []traces.Span, ws []fault.Window) error {
	if err := c.Write(TraceColumns); err != nil {
		return err
	}
	row := make([]string, 0, len(TraceColumns))
	for i := range spans {
		s := &spans[i]
		parent := ""
		if s.ParentSpanID.IsValid() {
			parent = s.ParentSpanID.String()
		}
		httpStatus := ""
		if s.HTTPStatus != 0 {
			httpStatus = strconv.Itoa(s.HTTPStatus)
		}
		involved := []string{s.Service}
		if s.PeerService != "" {
			involved = append(involved, s.PeerService)
		}
		active, on := labels(ws, s.Start, involved...)
		row = append(row[:0], formatTime(s.Start), s.TraceID.String(), s.SpanID.String(), parent,
			s.Service, s.Instance, s.Kind, s.Name, s.PeerService, s.DBSystem,
			strconv.FormatInt(s.Start.UnixMicro(), 10), strconv.FormatInt(s.Duration().Microseconds(), 10),
			s.StatusCode, httpStatus, active, on)
		if err := c.Write(row); err != nil {
			return err
		}
	}
	return nil
}

func writeLogs(c *csv.Writer, lines []logs.Line, ws []fault.Window) error {
	if err := c.Write(LogColumns); err != nil {
		return err
	}
	row := make([]string, 0, len(LogColumns))
	for _, l := range lines {
		status, dur := "", ""
		if l.Status != 0 {
			status = strconv.Itoa(l.Status)
		}
		if l.Message == "request" {
			dur = strconv.FormatFloat(l.DurationMS, 'f', -1, 64)
		}
		active, on := labels(ws, l.Time, l.Service)
		row = append(row[:0], formatTime(l.Time), l.Service, l.Instance, l.Level, l.TraceID, l.SpanID, l.Message,
			l.Method, l.Path, status, dur, l.Step, l.Error, active, on)
		if err := c.Write(row); err != nil {
			return err
		}
	}
	return nil
}

// edge is a caller → callee pair of the recovered call graph.
type edge struct{ caller, callee string }

// WriteCallGraph writes the call graph the spans show, in Graphviz DOT:
// an edge per caller → callee pair of the client spans, labelled with its
// calls and its failed calls, the load generator's node dashed. name
// titles the graph.
func WriteCallGraph(w io.Writer, name string, spans []traces.Span) error {
	calls, failed := map[edge]int{}, map[edge]int{}
	for i := range spans {
		s := &spans[i]
		if s.Kind != "client" || s.PeerService == "" {
			continue
		}
		e := edge{s.Service, s.PeerService}
		calls[e]++
		if s.StatusCode == "error" {
			failed[e]++
		}
	}
	q := strconv.Quote
	var b strings.Builder
	fmt.Fprintf(&b, "digraph %s {\n", q(name+" (from traces)"))
	fmt.Fprintln(&b, "  node [fontname=\"Helvetica\", fontsize=11, shape=box];")
	fmt.Fprintln(&b, "  edge [fontname=\"Helvetica\", fontsize=9];")
	fmt.Fprintf(&b, "  %s [style=dashed];\n", q(traces.LoadService))
	edges := slices.SortedFunc(maps.Keys(calls), func(a, b edge) int {
		return strings.Compare(a.caller+"\x00"+a.callee, b.caller+"\x00"+b.callee)
	})
	for _, e := range edges {
		label := strconv.Itoa(calls[e])
		if f := failed[e]; f > 0 {
			label += fmt.Sprintf(" (%d failed)", f)
		}
		fmt.Fprintf(&b, "  %s -> %s [label=%s];\n", q(e.caller), q(e.callee), q(label))
	}
	fmt.Fprintln(&b, "}")
	_, err := io.WriteString(w, b.String())
	return err
}
