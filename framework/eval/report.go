package eval

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"strconv"
	"text/tabwriter"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Columns are eval.csv's: one row per method and behaviour (and All).
// Detection columns are empty for a method that answers no anomaly
// windows; delays are in seconds.
var Columns = []string{
	"method", "oracle", "behavior", "cases", "errors",
	"ac1", "ac2", "ac3", "ac4", "ac5", "avg5", "chance_avg5",
	"precision", "recall", "f1", "adj_precision", "adj_recall", "adj_f1",
	"windows", "missed", "delay_mean_s", "delay_p95_s",
}

// WriteCSV writes the reports' groups as eval.csv.
func WriteCSV(w io.Writer, reps ...*Report) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(Columns); err != nil {
		return err
	}
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', 4, 64) }
	for _, r := range reps {
		for _, g := range r.Groups {
			row := []string{r.Method, strconv.FormatBool(r.Oracle), g.Behavior, strconv.Itoa(g.Ranking.Cases), strconv.Itoa(g.Errors)}
			for k := 1; k <= TopK; k++ {
				row = append(row, f(g.Ranking.AC(k)))
			}
			row = append(row, f(g.Ranking.Avg(TopK)), f(g.Ranking.Chance(TopK)))
			if d := g.Detection; d != nil {
				p, rc, f1 := PRF(d.TP, d.FP, d.FN)
				ap, ar, af := PRF(d.AdjTP, d.AdjFP, d.AdjFN)
				row = append(row, f(p), f(rc), f(f1), f(ap), f(ar), f(af), strconv.Itoa(d.Windows), strconv.Itoa(d.Missed),
					f(d.DelayMean().Seconds()), f(d.DelayP95().Seconds()))
			} else {
				row = append(row, make([]string, 10)...)
			}
			if err := cw.Write(row); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// jsonGroup is a Group as eval.json writes it.
type jsonGroup struct {
	Behavior   string             `json:"behavior"`
	Cases      int                `json:"cases"`
	Errors     int                `json:"errors"`
	AC         [TopK]float64      `json:"ac"`
	Avg5       float64            `json:"avg5"`
	ChanceAvg5 float64            `json:"chance_avg5"`
	Detection  map[string]float64 `json:"detection,omitempty"`
}

// WriteJSON writes the reports as eval.json: per method its groups and
// every case's answer.
func WriteJSON(w io.Writer, reps ...*Report) error {
	type jsonReport struct {
		Method string       `json:"method"`
		Oracle bool         `json:"oracle"`
		Groups []jsonGroup  `json:"groups"`
		Cases  []CaseResult `json:"cases"`
	}
	out := make([]jsonReport, 0, len(reps))
	for _, r := range reps {
		jr := jsonReport{Method: r.Method, Oracle: r.Oracle, Cases: r.Cases}
		for _, g := range r.Groups {
			jg := jsonGroup{Behavior: g.Behavior, Cases: g.Ranking.Cases, Errors: g.Errors, Avg5: g.Ranking.Avg(TopK), ChanceAvg5: g.Ranking.Chance(TopK)}
			for k := 1; k <= TopK; k++ {
				jg.AC[k-1] = g.Ranking.AC(k)
			}
			if d := g.Detection; d != nil {
				p, rc, f1 := PRF(d.TP, d.FP, d.FN)
				ap, ar, af := PRF(d.AdjTP, d.AdjFP, d.AdjFN)
				jg.Detection = map[string]float64{"precision": p, "recall": rc, "f1": f1, "adj_precision": ap, "adj_recall": ar, "adj_f1": af,
					"windows": float64(d.Windows), "missed": float64(d.Missed), "delay_mean_s": d.DelayMean().Seconds(), "delay_p95_s": d.DelayP95().Seconds()}
			}
			jr.Groups = append(jr.Groups, jg)
		}
		out = append(out, jr)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// WriteTable writes the reports as a table for a terminal.
func WriteTable(w io.Writer, reps ...*Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "method\tbehavior\tcases\tAC@1\tAC@3\tAC@5\tAvg@5\tchance\tF1\tPA-F1\tdelay mean\tdelay p95\terrors")
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', 2, 64) }
	for _, r := range reps {
		name := r.Method
		if r.Oracle {
			name += " (oracle)"
		}
		for _, g := range r.Groups {
			det := "-\t-\t-\t-"
			if d := g.Detection; d != nil {
				_, _, f1 := PRF(d.TP, d.FP, d.FN)
				_, _, af := PRF(d.AdjTP, d.AdjFP, d.AdjFN)
				det = fmt.Sprintf("%s\t%s\t%.1fs\t%.1fs", f(f1), f(af), d.DelayMean().Seconds(), d.DelayP95().Seconds())
				if d.Missed > 0 {
					det += fmt.Sprintf(" (%d/%d missed)", d.Missed, d.Windows)
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", name, g.Behavior, g.Ranking.Cases,
				f(g.Ranking.AC(1)), f(g.Ranking.AC(3)), f(g.Ranking.AC(5)), f(g.Ranking.Avg(TopK)), f(g.Ranking.Chance(TopK)), det, g.Errors)
		}
	}
	return tw.Flush()
}

// Behaviors lists the behaviours the reports scored, in order, All last.
func Behaviors(reps ...*Report) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range reps {
		for _, g := range r.Groups {
			if !seen[g.Behavior] && g.Behavior != All {
				seen[g.Behavior] = true
				out = append(out, g.Behavior)
			}
		}
	}
	return append(out, All)
}

// Chart draws a PNG bar chart of one behaviour: AC@1, AC@3, AC@5 and Avg@5
// of every method, side by side, and the chance level as a line.
func Chart(w io.Writer, behavior string, reps ...*Report) error {
	p := plot.New()
	p.Title.Text = "root-cause ranking: " + behavior
	p.Y.Label.Text = "score"
	p.Y.Min, p.Y.Max = 0, 1.05
	labels := []string{"AC@1", "AC@3", "AC@5", "Avg@5"}
	width := vg.Points(60) / vg.Length(max(len(reps), 1))
	chance := 0.0
	n := 0
	for i, r := range reps {
		g := r.Group(behavior)
		if g == nil {
			continue
		}
		chance = g.Ranking.Chance(TopK)
		vals := plotter.Values{g.Ranking.AC(1), g.Ranking.AC(3), g.Ranking.AC(5), g.Ranking.Avg(TopK)}
		bars, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return err
		}
		bars.Color = plotutil.Color(i)
		bars.LineStyle.Width = 0
		bars.Offset = width*vg.Length(n) - width*vg.Length(len(reps)-1)/2
		p.Add(bars)
		name := r.Method
		if r.Oracle {
			name += " (oracle)"
		}
		p.Legend.Add(fmt.Sprintf("%s (%d cases)", name, g.Ranking.Cases), bars)
		n++
	}
	if n == 0 {
		return fmt.Errorf("chart: no method scored behaviour %q", behavior)
	}
	line, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: chance}, {X: float64(len(labels)) - 0.5, Y: chance}})
	if err != nil {
		return err
	}
	line.Color = color.Gray{Y: 100}
	line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(line)
	p.Legend.Add("chance Avg@5", line)
	p.Legend.Top = true
	p.NominalX(labels...)
	wt, err := p.WriterTo(vg.Points(480), vg.Points(300), "png")
	if err != nil {
		return err
	}
	_, err = wt.WriteTo(w)
	return err
}
