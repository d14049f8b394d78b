package metrics

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"
)

// ServiceLabel is the label every family groups by: the service's constant
// label, which no scraper overwrites.
const ServiceLabel = "vecro_service"

// Table is one family over a range: a row per evaluation step, a column per
// service. It is what a dataset writes as metrics/<family>.csv.
type Table struct {
	// Family is the family's name, Unit its unit.
	Family, Unit string
	// Columns are the services, sorted; for an edge family (Family.Edge)
	// the call-graph edges, named by EdgeColumn.
	Columns []string
	// Times are the evaluation steps of the range, Start to End inclusive,
	// every step whether or not any service has a value there.
	Times []time.Time
	// Rows[i][j] is service Columns[j] at Times[i]; NaN where the query gave
	// no value.
	Rows [][]float64
}

// Steps returns the evaluation times of r as the Prometheus API computes
// them: Start, Start+Step, … up to and including End, at millisecond
// resolution (see Range.Truncate).
func Steps(r Range) ([]time.Time, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	r = r.Truncate()
	n := int(r.End.Sub(r.Start)/r.Step) + 1
	ts := make([]time.Time, n)
	for i := range ts {
		ts[i] = r.Start.Add(time.Duration(i) * r.Step)
	}
	return ts, nil
}

// maxSteps is the Prometheus API's limit of points per series (11,000);
// keeping to it means a range that works here also works against a server.
const maxSteps = 11000

// Truncate returns r with Start and End truncated to whole milliseconds,
// the resolution of the TSDB and of the Prometheus API. Both sources query
// with it, so that their evaluation times agree: a server would otherwise
// round a time the embedded engine truncates.
func (r Range) Truncate() Range {
	r.Start = r.Start.Truncate(time.Millisecond)
	r.End = r.End.Truncate(time.Millisecond)
	return r
}

func (r Range) validate() error {
	switch {
	case r.Step <= 0:
		return fmt.Errorf("query range: step %v must be positive", r.Step)
	case r.End.Before(r.Start):
		return fmt.Errorf("query range: end %s is before start %s", r.End.Format(time.RFC3339), r.Start.Format(time.RFC3339))
	case r.End.Sub(r.Start)/r.Step >= maxSteps:
		return fmt.Errorf("query range %s..%s at step %v: more than %d points per series; use a larger step", r.Start.Format(time.RFC3339), r.End.Format(time.RFC3339), r.Step, maxSteps)
	}
	return nil
}

// CollectTable evaluates fam over the services in scope for the flavour's
// runtime and lays the result out as a Table: one column per service that
// has any value in r, one row per step of r.
func CollectTable(ctx context.Context, src Source, fam Family, flavor Flavor, scope Scope, r Range) (Table, error) {
	expr, err := fam.Expr(flavor, scope)
	if err != nil {
		return Table{}, err
	}
	times, err := Steps(r)
	if err != nil {
		return Table{}, fmt.Errorf("collect %s: %w", fam.Name, err)
	}
	series, err := src.QueryRange(ctx, expr, r)
	if err != nil {
		return Table{}, fmt.Errorf("collect %s: %w", fam.Name, err)
	}
	return tableOf(fam, times, series)
}

// tableOf places each series' points on the steps by their timestamps,
// never by position: a series with gaps keeps its values at the right times.
func tableOf(fam Family, times []time.Time, series []Series) (Table, error) {
	byService := make(map[string][]Point, len(series))
	for _, s := range series {
		svc, err := columnOf(fam, s.Labels)
		if err != nil {
			return Table{}, err
		}
		if _, dup := byService[svc]; dup {
			return Table{}, fmt.Errorf("collect %s: two result series for column %q", fam.Name, svc)
		}
		byService[svc] = s.Points
	}
	t := Table{Family: fam.Name, Unit: fam.Unit, Times: times, Rows: make([][]float64, len(times))}
	for svc := range byService {
		t.Columns = append(t.Columns, svc)
	}
	slices.Sort(t.Columns)

	row := make(map[int64]int, len(times))
	for i, ts := range times {
		row[ts.UnixMilli()] = i
		t.Rows[i] = make([]float64, len(t.Columns))
		for j := range t.Rows[i] {
			t.Rows[i][j] = math.NaN()
		}
	}
	for j, svc := range t.Columns {
		for _, p := range byService[svc] {
			i, ok := row[p.T.UnixMilli()]
			if !ok {
				return Table{}, fmt.Errorf("collect %s: service %q has a point at %s, which is not a step of the range", fam.Name, svc, p.T.Format(time.RFC3339Nano))
			}
			t.Rows[i][j] = p.V
		}
	}
	return t, nil
}
