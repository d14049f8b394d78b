package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// A Method analyses one blinded case: a root-cause analyser answers with a
// ranking of services, an anomaly detector with windows, some with both.
type Method interface {
	// Name names the method in reports.
	Name() string
	// Analyze answers for one case. An error is the method's failure on
	// that case, reported with the case and scored as no answer.
	Analyze(ctx context.Context, in Input) (Answer, error)
}

// Input is what a method is given for one case.
type Input struct {
	// Case is the case's id.
	Case string
	// Dir is the blinded copy of the case's run (see Blind).
	Dir string
	// InjectTime is the time the method is told the fault started: the
	// earliest applied start plus the evaluation's Δ.
	InjectTime time.Time
	// Labels is the original labels.csv: for oracle methods in tests of the
	// scorer only, passed to a Command only where its template asks for
	// {labels}.
	Labels string
}

// Answer is a method's answer for one case; the JSON form is a Command's
// stdout (docs/eval-answer.schema.json).
type Answer struct {
	// Ranks are services, the likeliest root cause first.
	Ranks []string `json:"ranks,omitempty"`
	// Anomalies are the windows the method flags.
	Anomalies []Window `json:"anomalies,omitempty"`
	// HasRanks and HasAnomalies say which the method answered: a method
	// that flags nothing answers an empty list, which scores, where a
	// method that does not detect anomalies at all is left out of the
	// detection scores.
	HasRanks, HasAnomalies bool `json:"-"`
}

// ParseAnswer reads a method's JSON answer. Unknown keys are errors, so
// that a misspelt "rank" is not read as "no ranking"; both keys are
// optional, and at least one must be there.
func ParseAnswer(b []byte) (Answer, error) {
	var a Answer
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(bytes.TrimSpace(b), &raw); err != nil {
		return a, fmt.Errorf("answer is not a JSON object: %w (got %s)", err, excerpt(b))
	}
	for k, v := range raw {
		switch k {
		case "ranks":
			if err := json.Unmarshal(v, &a.Ranks); err != nil {
				return a, fmt.Errorf(`answer key "ranks": want a list of service names: %w`, err)
			}
			a.HasRanks = true
		case "anomalies":
			var ws []struct {
				Start *time.Time `json:"start"`
				End   *time.Time `json:"end"`
			}
			dec := json.NewDecoder(bytes.NewReader(v))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&ws); err != nil {
				return a, fmt.Errorf(`answer key "anomalies": want a list of {"start": RFC 3339, "end": RFC 3339}: %w`, err)
			}
			for i, w := range ws {
				if w.Start == nil || w.End == nil {
					return a, fmt.Errorf("answer anomalies[%d]: start and end are required", i)
				}
				if !w.End.After(*w.Start) {
					return a, fmt.Errorf("answer anomalies[%d]: end %s is not after start %s", i, w.End.Format(time.RFC3339Nano), w.Start.Format(time.RFC3339Nano))
				}
				a.Anomalies = append(a.Anomalies, Window{Start: *w.Start, End: *w.End})
			}
			a.HasAnomalies = true
		default:
			return a, fmt.Errorf(`answer has unknown key %q: want "ranks" and/or "anomalies"`, k)
		}
	}
	if !a.HasRanks && !a.HasAnomalies {
		return a, errors.New(`answer has neither "ranks" nor "anomalies"`)
	}
	return a, nil
}

func excerpt(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	if s == "" {
		return "nothing"
	}
	return strconv.Quote(s)
}

// Command is an external method: a shell command run once per case, its
// answer the JSON it prints on stdout. The template's placeholders are
// replaced, shell-quoted: {dataset} (the blinded run directory),
// {inject_time} (Unix seconds, as RCAEval's methods take it),
// {inject_time_rfc3339}, {case}, and {labels} (the original labels.csv:
// for oracles that test the scorer, never for a method under evaluation).
type Command struct {
	// Label names the method in reports; the command itself when empty.
	Label    string
	Template string
	// Timeout bounds one case; 0 is no bound beyond the context's.
	Timeout time.Duration
}

// Name implements Method.
func (c Command) Name() string {
	if c.Label != "" {
		return c.Label
	}
	return c.Template
}

// Analyze implements Method.
func (c Command) Analyze(ctx context.Context, in Input) (Answer, error) {
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	line := strings.NewReplacer(
		"{dataset}", shellQuote(in.Dir),
		"{inject_time}", strconv.FormatInt(in.InjectTime.Unix(), 10),
		"{inject_time_rfc3339}", shellQuote(in.InjectTime.UTC().Format(time.RFC3339Nano)),
		"{case}", shellQuote(in.Case),
		"{labels}", shellQuote(in.Labels),
	).Replace(c.Template)
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", line)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return Answer{}, fmt.Errorf("%s: %w; stderr: %s", line, err, excerpt(stderr.Bytes()))
	}
	a, err := ParseAnswer(stdout.Bytes())
	if err != nil {
		return a, fmt.Errorf("%s: %w", line, err)
	}
	return a, nil
}

// UsesLabels reports whether the command is given the ground truth: an
// oracle, whose scores test the scorer and say nothing of a method.
func (c Command) UsesLabels() bool { return strings.Contains(c.Template, "{labels}") }

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
