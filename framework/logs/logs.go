// Package logs reads the services' request logs back: the JSON lines every
// instance writes to stdout, one per request and one per failure with its
// cause (see images/service's telemetry), for the dataset's logs.csv.
//
// The field names are defined here once; the service writes them and Line
// reads them. A Source is what a runtime hands over: the local runtime's is
// Files, its instances' log files; a Kubernetes one may read pod logs.
package logs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"time"
)

// Field names of a request log line beside slog's time, level and msg.
const (
	KeyService    = "service"
	KeyInstance   = "instance"
	KeyTraceID    = "trace_id"
	KeySpanID     = "span_id"
	KeyMethod     = "method"
	KeyPath       = "path"
	KeyStatus     = "status"
	KeyDurationMS = "duration_ms"
	// KeyError is a failure's cause; KeyStep where in the request it
	// failed (workload, storage, downstream).
	KeyError = "error"
	KeyStep  = "step"
)

// Line is one request log line.
type Line struct {
	Time     time.Time `json:"time"`
	Level    string    `json:"level"`
	Message  string    `json:"msg"`
	Service  string    `json:"service"`
	Instance string    `json:"instance"`
	TraceID  string    `json:"trace_id"`
	SpanID   string    `json:"span_id"`
	Method   string    `json:"method"`
	Path     string    `json:"path"`
	// Status is the answer's status code; DurationMS how long the request
	// took, in milliseconds (request lines only).
	Status     int     `json:"status"`
	DurationMS float64 `json:"duration_ms"`
	Step       string  `json:"step"`
	Error      string  `json:"error"`
}

// Stats describe a read.
type Stats struct {
	// Lines counts the request log lines read in the window; Other the
	// lines that were not request log lines (the instance's own events,
	// a database server's output).
	Lines, Other int64
}

// Source reads a runtime's request logs back.
type Source interface {
	// Lines returns the request log lines timed in [from, to), ordered by
	// time.
	Lines(ctx context.Context, from, to time.Time) ([]Line, Stats, error)
}

// Files is a Source over log files: each instance's output, whatever else
// it holds besides the JSON lines.
type Files []string

var _ Source = Files(nil)

// Lines reads every file.
func (fs Files) Lines(ctx context.Context, from, to time.Time) ([]Line, Stats, error) {
	var out []Line
	var st Stats
	for _, path := range fs {
		if err := ctx.Err(); err != nil {
			return nil, st, err
		}
		f, err := os.Open(path)
		if err != nil {
			return nil, st, fmt.Errorf("read log: %w", err)
		}
		err = Parse(f, func(l Line) {
			if !l.Time.Before(from) && l.Time.Before(to) {
				out = append(out, l)
				st.Lines++
			}
		}, &st.Other)
		f.Close()
		if err != nil {
			return nil, st, fmt.Errorf("read log %s: %w", path, err)
		}
	}
	slices.SortStableFunc(out, func(a, b Line) int { return a.Time.Compare(b.Time) })
	return out, st, nil
}

// maxLine bounds one line; a longer one (not a request log line) is skipped.
const maxLine = 1 << 20

// Parse calls fn with every request log line of r: a JSON object with a
// time and a service. Other lines are counted in other (if not nil) and
// skipped.
func Parse(r io.Reader, fn func(Line), other *int64) error {
	br := bufio.NewReaderSize(r, 64<<10)
	skip := func() {
		if other != nil {
			*other++
		}
	}
	for {
		b, err := br.ReadSlice('\n')
		switch {
		case err == bufio.ErrBufferFull:
			// A line longer than the buffer: read on to its end.
			for err == bufio.ErrBufferFull {
				_, err = br.ReadSlice('\n')
			}
			skip()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			continue
		case err == io.EOF && len(b) == 0:
			return nil
		case err != nil && err != io.EOF:
			return err
		}
		b = bytes.TrimSpace(b)
		var l Line
		if len(b) > 0 && len(b) <= maxLine && b[0] == '{' && json.Unmarshal(b, &l) == nil && !l.Time.IsZero() && l.Service != "" {
			fn(l)
		} else if len(b) > 0 {
			skip()
		}
		if err == io.EOF {
			return nil
		}
	}
}
