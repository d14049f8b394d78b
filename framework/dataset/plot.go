package dataset

import (
	"fmt"
	"image/color"
	"io"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/vecrosim/vecro/framework/fault"
	"github.com/vecrosim/vecro/framework/metrics"
)

// Plot draws a family over time as PNG, one line per service, with every
// fault's applied window shaded and named. The x axis is seconds since the
// table's first timestamp, so runs line up when compared.
func Plot(w io.Writer, t metrics.Table, windows []fault.Window) error {
	p := plot.New()
	p.Title.Text = t.Family
	p.X.Label.Text = "seconds"
	if len(t.Times) > 0 {
		p.X.Label.Text = "seconds since " + formatTime(t.Times[0])
	}
	p.Y.Label.Text = t.Family
	if t.Unit != "" {
		p.Y.Label.Text += " (" + t.Unit + ")"
	}
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.TextStyle.Font.Size = vg.Points(7)

	lo, hi := math.Inf(1), math.Inf(-1)
	for _, row := range t.Rows {
		for _, v := range row {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if math.IsInf(lo, 1) {
		lo, hi = 0, 1
	}
	if hi == lo {
		hi = lo + 1
	}
	if len(t.Times) > 0 {
		t0 := t.Times[0]
		for _, win := range windows {
			s, e, ok := win.Span()
			if !ok {
				continue // never applied: nothing to shade
			}
			x0, x1 := s.Sub(t0).Seconds(), e.Sub(t0).Seconds()
			shade, err := plotter.NewPolygon(plotter.XYs{{X: x0, Y: lo}, {X: x1, Y: lo}, {X: x1, Y: hi}, {X: x0, Y: hi}})
			if err != nil {
				return fmt.Errorf("plot %s: shade %s: %w", t.Family, win.Fault, err)
			}
			shade.Color = color.NRGBA{R: 255, G: 80, B: 80, A: 50}
			shade.LineStyle.Width = 0
			p.Add(shade)
			label, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: x0, Y: hi}}, Labels: []string{win.Fault + " (" + win.Behavior + ")"}})
			if err == nil {
				p.Add(label)
			}
		}
		for j, svc := range t.Columns {
			var lines []plotter.XYs
			var cur plotter.XYs
			for i, ts := range t.Times {
				v := t.Rows[i][j]
				if math.IsNaN(v) || math.IsInf(v, 0) {
					if len(cur) > 0 {
						lines, cur = append(lines, cur), nil
					}
					continue
				}
				cur = append(cur, plotter.XY{X: ts.Sub(t0).Seconds(), Y: v})
			}
			if len(cur) > 0 {
				lines = append(lines, cur)
			}
			style := draw.LineStyle{Color: plotutil.Color(j), Width: vg.Points(1), Dashes: plotutil.Dashes(j / len(plotutil.DefaultColors))}
			for k, xy := range lines {
				l, err := plotter.NewLine(xy)
				if err != nil {
					return fmt.Errorf("plot %s: %s: %w", t.Family, svc, err)
				}
				l.LineStyle = style
				p.Add(l)
				if k == 0 {
					p.Legend.Add(svc, l)
				}
			}
		}
	}
	wt, err := p.WriterTo(10*vg.Inch, 5*vg.Inch, "png")
	if err != nil {
		return fmt.Errorf("plot %s: %w", t.Family, err)
	}
	_, err = wt.WriteTo(w)
	return err
}
