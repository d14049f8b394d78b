package eval

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vecrosim/vecro/framework/dataset"
)

// The RCAEval layout (RCAEval's main.py and utility.read_data, RE1 and RE2):
//
//	<out>/<service>_<fault>/<rep>/data.csv         time (unix s) + <service>_<metric> columns
//	<out>/<service>_<fault>/<rep>/inject_time.txt  the injection time, unix seconds
//	<out>/<service>_<fault>/<rep>/traces.csv       RE2's span columns, when the dataset has spans
//	<out>/<service>_<fault>/<rep>/logs.csv         RE2's log columns, when it has logs
//
// RCAEval names the root cause and the fault type by the case folder alone,
// split at its one "_", and a method's ranking names a service by the part
// of a column before the first "_": service names with "_" cannot be
// written (ours are DNS labels, which have none).

// RCAEvalFaults maps a behaviour to RCAEval's fault type, the second half of
// a case folder's name: cpu, mem, disk, delay and loss are RCAEval's own;
// rate and abort have no RCAEval counterpart and keep a name of their own.
var RCAEvalFaults = map[string]string{
	"cpu-stress": "cpu",
	"mem-stress": "mem",
	"io-stress":  "disk",
	"net-delay":  "delay",
	"net-loss":   "loss",
	"net-rate":   "rate",
	"http-abort": "abort",
}

// RCAEvalMetrics maps the families exported to the metric half of a
// data.csv column, in column order. latency_p95 becomes <service>_latency,
// the name read_data gives RCAEval's own latency-90 columns and the one
// its SLI lookup wants: it is a p95 (what this harness measures), not a
// p90.
var RCAEvalMetrics = []struct{ Family, Metric string }{
	{"cpu_usage", "cpu"},
	{"memory_usage", "mem"},
	{"latency_p95", "latency"},
	{"latency_p99", "latency-99"},
	{"latency_avg", "latency-avg"},
	{"request_rate", "tps"},
	{"error_rate", "error"},
	{"net_rx", "net-rx"},
	{"net_tx", "net-tx"},
}

// rcaevalTraceColumns and rcaevalLogColumns are RE2's traces.csv and
// logs.csv headers. startTime and duration are microseconds,
// startTimeMillis milliseconds, a log's timestamp nanoseconds.
var (
	rcaevalTraceColumns = []string{"time", "traceID", "spanID", "serviceName", "methodName", "operationName", "startTimeMillis", "startTime", "duration", "statusCode", "parentSpanID"}
	rcaevalLogColumns   = []string{"time", "timestamp", "container_name", "message", "level", "req_path", "error"}
)

// Exported is one RCAEval case written from one fault of a dataset.
type Exported struct {
	// Case and Fault name the source: the corpus case and its fault.
	Case, Fault string
	// Dir is the case's folder, <out>/[<system>/]<service>_<fault>/<rep>.
	Dir        string
	InjectTime int64
}

// ExportRCAEval writes every applied fault of every scorable case as an
// RCAEval case under out: one folder per fault, so a case with two faults
// gives two RCAEval cases over the same data, each with its own
// injection time and root cause. A repetition number is the next free one
// in its folder, so corpora exported one after another into one out
// accumulate. Cases not scored (Case.Skip) and faults applied on only some
// instances (partial: RCAEval's layout cannot say so) are left out and
// listed in skipped. A corpus of several systems is written one folder per
// system, <out>/<system>/<service>_<fault>/<rep>, as RCAEval keeps one
// dataset per system (RE2-OB, RE2-SS, …).
func ExportRCAEval(cases []Case, out string) (exported []Exported, skipped []string, err error) {
	systems := map[string]bool{}
	for _, c := range cases {
		if c.Skip == "" {
			systems[c.System] = true
		}
	}
	for _, c := range cases {
		if c.Skip != "" {
			skipped = append(skipped, fmt.Sprintf("case %s: %s", c.ID, c.Skip))
			continue
		}
		var data [][]string
		for _, f := range c.Faults {
			if f.Partial {
				skipped = append(skipped, fmt.Sprintf("case %s, fault %s: applied on some instances only", c.ID, f.Name))
				continue
			}
			tok, ok := RCAEvalFaults[f.Behavior]
			if !ok {
				return exported, skipped, fmt.Errorf("case %s, fault %s: behaviour %q has no RCAEval fault type", c.ID, f.Name, f.Behavior)
			}
			if strings.Contains(f.Target, "_") {
				return exported, skipped, fmt.Errorf("case %s, fault %s: target %q has a \"_\", which RCAEval reads as the end of the service name", c.ID, f.Name, f.Target)
			}
			if data == nil {
				var err error
				if data, err = rcaevalData(c); err != nil {
					return exported, skipped, fmt.Errorf("case %s: %w", c.ID, err)
				}
			}
			base := out
			if len(systems) > 1 {
				base = filepath.Join(out, c.System)
			}
			dir, err := nextRep(filepath.Join(base, f.Target+"_"+tok))
			if err != nil {
				return exported, skipped, err
			}
			// The first sample at or after the applied start: a row is
			// the window that ends at its time, so earlier rows hold no
			// faulty traffic.
			inject := int64(math.Ceil(float64(f.Start.UnixNano()) / 1e9))
			if err := writeRCAEvalCase(c, dir, data, inject); err != nil {
				return exported, skipped, fmt.Errorf("case %s, fault %s: %w", c.ID, f.Name, err)
			}
			exported = append(exported, Exported{Case: c.ID, Fault: f.Name, Dir: dir, InjectTime: inject})
		}
	}
	return exported, skipped, nil
}

// rcaevalData is data.csv's rows: time in unix seconds, then
// <service>_<metric> for every service (the system's order) and every
// exported family the dataset has. A missing value is empty (read_data
// fills it forward).
func rcaevalData(c Case) ([][]string, error) {
	type column struct {
		name string
		vals map[int64]float64
	}
	var cols []column
	times := map[int64]bool{}
	for _, svc := range c.Candidates {
		if strings.Contains(svc, "_") {
			return nil, fmt.Errorf("service %q has a \"_\", which RCAEval reads as the end of the service name", svc)
		}
	}
	for _, fm := range RCAEvalMetrics {
		tb, err := dataset.ReadTable(filepath.Join(c.Dir, "metrics", fm.Family+".csv"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, svc := range c.Candidates {
			j := slices.Index(tb.Columns, svc)
			if j < 0 {
				continue
			}
			col := column{name: svc + "_" + fm.Metric, vals: map[int64]float64{}}
			for i, t := range tb.Times {
				s := t.Unix()
				times[s] = true
				if v := tb.Rows[i][j]; !math.IsNaN(v) && !math.IsInf(v, 0) {
					col.vals[s] = v
				}
			}
			cols = append(cols, col)
		}
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("no metric family RCAEval can read in %s/metrics", c.Dir)
	}
	// Services in the system's order, each with its metrics together, as
	// RCAEval's own files group them.
	order := map[string]int{}
	for i, s := range c.Candidates {
		order[s] = i
	}
	slices.SortStableFunc(cols, func(a, b column) int {
		sa, _, _ := strings.Cut(a.name, "_")
		sb, _, _ := strings.Cut(b.name, "_")
		return order[sa] - order[sb]
	})
	header := []string{"time"}
	for _, col := range cols {
		header = append(header, col.name)
	}
	rows := [][]string{header}
	secs := make([]int64, 0, len(times))
	for s := range times {
		secs = append(secs, s)
	}
	slices.Sort(secs)
	for _, s := range secs {
		row := []string{strconv.FormatInt(s, 10)}
		for _, col := range cols {
			if v, ok := col.vals[s]; ok {
				row = append(row, strconv.FormatFloat(v, 'g', -1, 64))
			} else {
				row = append(row, "")
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// nextRep makes and returns the first free <dir>/<n>, n from 1.
func nextRep(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	for n := 1; ; n++ {
		p := filepath.Join(dir, strconv.Itoa(n))
		err := os.Mkdir(p, 0o755)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", err
		}
	}
}

func writeRCAEvalCase(c Case, dir string, data [][]string, inject int64) error {
	if err := writeCSVFile(filepath.Join(dir, "data.csv"), data); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "inject_time.txt"), []byte(strconv.FormatInt(inject, 10)+"\n"), 0o644); err != nil {
		return err
	}
	if spans, err := dataset.SpanRows(c.Dir); err == nil {
		rows := [][]string{rcaevalTraceColumns}
		for _, s := range spans {
			us, _ := strconv.ParseInt(s["start_unix_us"], 10, 64)
			method, op := spanMethod(s["name"])
			rows = append(rows, []string{s["time"], s["trace_id"], s["span_id"], s["service"], method, op,
				strconv.FormatInt(us/1000, 10), s["start_unix_us"], s["duration_us"], s["http_status"], s["parent_span_id"]})
		}
		if err := writeCSVFile(filepath.Join(dir, "traces.csv"), rows); err != nil {
			return err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if lines, err := dataset.LogRows(c.Dir); err == nil {
		rows := [][]string{rcaevalLogColumns}
		for _, l := range lines {
			ns := ""
			if t, err := time.Parse(time.RFC3339Nano, l["time"]); err == nil {
				ns = strconv.FormatInt(t.UnixNano(), 10)
			}
			rows = append(rows, []string{l["time"], ns, l["service"], l["message"], l["level"], l["path"], l["error"]})
		}
		if err := writeCSVFile(filepath.Join(dir, "logs.csv"), rows); err != nil {
			return err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// spanMethod splits a span name such as "GET /compose" into RCAEval's
// methodName (the HTTP method) and operationName (the whole name).
func spanMethod(name string) (method, op string) {
	if m, _, ok := strings.Cut(name, " "); ok && m == strings.ToUpper(m) {
		return m, name
	}
	return "", name
}

func writeCSVFile(path string, rows [][]string) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	w := csv.NewWriter(f)
	if err := w.WriteAll(rows); err != nil {
		return err
	}
	return w.Error()
}
