package load

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Column is one column of load.csv: its header name, what it holds, and
// how a Second is written to and read from it.
type Column struct {
	Name string
	Doc  string
	get  func(*Second) string
	set  func(*Second, string) error
}

// Columns are load.csv's columns in order, defined here once: WriteCSV,
// ReadCSV, the header and the documentation all use this list.
var Columns = buildColumns()

func buildColumns() []Column {
	count := func(name, doc string, f func(*Second) *uint64) Column {
		return Column{
			Name: name, Doc: doc,
			get: func(s *Second) string { return strconv.FormatUint(*f(s), 10) },
			set: func(s *Second, v string) error {
				n, err := strconv.ParseUint(v, 10, 64)
				*f(s) = n
				return err
			},
		}
	}
	// Latencies are written in milliseconds with microsecond precision (the
	// histograms' unit), and left empty in a second with no answers.
	latency := func(name, doc string, f func(*Second) *time.Duration) Column {
		return Column{
			Name: name, Doc: doc,
			get: func(s *Second) string {
				if s.OK+s.ByKind[KindStatus4xx]+s.ByKind[KindStatus5xx] == 0 && *f(s) == 0 {
					return ""
				}
				return strconv.FormatFloat(ms(*f(s)), 'f', 3, 64)
			},
			set: func(s *Second, v string) error {
				if v == "" {
					*f(s) = 0
					return nil
				}
				x, err := strconv.ParseFloat(v, 64)
				*f(s) = fromMs(x)
				return err
			},
		}
	}
	cols := []Column{
		{
			Name: "time", Doc: "start of the second, RFC 3339 UTC with milliseconds",
			get: func(s *Second) string { return s.Time.UTC().Format("2006-01-02T15:04:05.000Z07:00") },
			set: func(s *Second, v string) error {
				t, err := time.Parse(time.RFC3339Nano, v)
				s.Time = t.UTC()
				return err
			},
		},
		{
			Name: "unix_ms", Doc: "start of the second, Unix milliseconds",
			get: func(s *Second) string { return strconv.FormatInt(s.Time.UnixMilli(), 10) },
			set: func(s *Second, v string) error {
				n, err := strconv.ParseInt(v, 10, 64)
				if err == nil && n != s.Time.UnixMilli() {
					return fmt.Errorf("disagrees with the time column (%d ms)", s.Time.UnixMilli())
				}
				return err
			},
		},
		{
			Name: "second", Doc: "whole seconds since the load started (t0)",
			get: func(s *Second) string { return strconv.Itoa(s.Index) },
			set: func(s *Second, v string) error {
				n, err := strconv.Atoi(v)
				s.Index = n
				return err
			},
		},
		count("sent", "requests started in this second", func(s *Second) *uint64 { return &s.Sent }),
		count("ok", "answers with status < 400 that arrived in this second", func(s *Second) *uint64 { return &s.OK }),
		count("errors", "requests that failed in this second (sum of the err_* columns)", func(s *Second) *uint64 { return &s.Errors }),
		count("late", "sends later than planned (open loop) or ticks that came due during a request in flight (closed loop)", func(s *Second) *uint64 { return &s.Late }),
		count("skipped", "planned sends that never happened (closed-loop ticks passed during a slow answer)", func(s *Second) *uint64 { return &s.Skipped }),
		count("bytes_in", "response body bytes received", func(s *Second) *uint64 { return &s.BytesIn }),
		latency("p50_ms", "median latency from the planned send, ms", func(s *Second) *time.Duration { return &s.P50 }),
		latency("p90_ms", "90th percentile latency, ms", func(s *Second) *time.Duration { return &s.P90 }),
		latency("p99_ms", "99th percentile latency, ms", func(s *Second) *time.Duration { return &s.P99 }),
		latency("max_ms", "maximum latency, ms", func(s *Second) *time.Duration { return &s.Max }),
	}
	for _, k := range Kinds {
		cols = append(cols, Column{
			Name: "err_" + string(k),
			Doc:  "failures of kind " + string(k),
			get:  func(s *Second) string { return strconv.FormatUint(s.ByKind[k], 10) },
			set: func(s *Second, v string) error {
				n, err := strconv.ParseUint(v, 10, 64)
				if n > 0 {
					if s.ByKind == nil {
						s.ByKind = map[ErrorKind]uint64{}
					}
					s.ByKind[k] = n
				}
				return err
			},
		})
	}
	return cols
}

// Header is load.csv's header row.
func Header() []string {
	h := make([]string, len(Columns))
	for i, c := range Columns {
		h[i] = c.Name
	}
	return h
}

// WriteCSV writes seconds as load.csv: the header, then one row per second.
func WriteCSV(w io.Writer, seconds []Second) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(Header()); err != nil {
		return fmt.Errorf("write load.csv header: %w", err)
	}
	row := make([]string, len(Columns))
	for i := range seconds {
		for j, c := range Columns {
			row[j] = c.get(&seconds[i])
		}
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("write load.csv second %d: %w", seconds[i].Index, err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write load.csv: %w", err)
	}
	return nil
}

// ReadCSV reads what WriteCSV wrote. Errors name the line and column.
func ReadCSV(r io.Reader) ([]Second, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(Columns)
	head, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read load.csv: empty, want the header %v", Header())
	}
	if err != nil {
		return nil, fmt.Errorf("read load.csv header: %w", err)
	}
	for i, c := range Columns {
		if head[i] != c.Name {
			return nil, fmt.Errorf("read load.csv header: column %d is %q, want %q", i+1, head[i], c.Name)
		}
	}
	var out []Second
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read load.csv: %w", err)
		}
		var s Second
		for i, c := range Columns {
			if err := c.set(&s, rec[i]); err != nil {
				return nil, fmt.Errorf("read load.csv line %d column %s: value %q: %w", line, c.Name, rec[i], err)
			}
		}
		out = append(out, s)
	}
}
