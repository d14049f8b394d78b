package metrics

import (
	"fmt"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
)

// seriesOf copies an engine result into Series. A scalar becomes one series
// without labels. Native histograms have no place in a Series: a query
// over them must reduce them to floats (histogram_quantile,
// histogram_sum, histogram_count …), as every family does, and a raw
// histogram result is an error.
func seriesOf(v parser.Value) ([]Series, error) {
	switch v := v.(type) {
	case promql.Matrix:
		out := make([]Series, len(v))
		for i, s := range v {
			if len(s.Histograms) > 0 {
				return nil, fmt.Errorf("series %s holds native histograms, which Series cannot represent", s.Metric)
			}
			pts := make([]Point, len(s.Floats))
			for j, p := range s.Floats {
				pts[j] = Point{T: msTime(p.T), V: p.F}
			}
			out[i] = Series{Labels: labelMap(s.Metric), Points: pts}
		}
		return out, nil
	case promql.Vector:
		out := make([]Series, len(v))
		for i, s := range v {
			if s.H != nil {
				return nil, fmt.Errorf("sample %s is a native histogram, which Series cannot represent", s.Metric)
			}
			out[i] = Series{Labels: labelMap(s.Metric), Points: []Point{{T: msTime(s.T), V: s.F}}}
		}
		return out, nil
	case promql.Scalar:
		return []Series{{Labels: map[string]string{}, Points: []Point{{T: msTime(v.T), V: v.V}}}}, nil
	default:
		return nil, fmt.Errorf("result of type %s cannot be represented as series", v.Type())
	}
}

func labelMap(ls labels.Labels) map[string]string {
	m := make(map[string]string, ls.Len())
	ls.Range(func(l labels.Label) { m[l.Name] = l.Value })
	return m
}

// msTime turns a TSDB timestamp (ms since the epoch) into a UTC time.
func msTime(ms int64) time.Time {
	return time.UnixMilli(ms).UTC()
}
