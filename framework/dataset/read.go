package dataset

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/vecrosim/vecro/framework/metrics"
)

// ReadManifest reads manifest.json of the run in dir.
func ReadManifest(dir string) (Manifest, error) {
	var m Manifest
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return m, fmt.Errorf("read dataset manifest: %w", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("read dataset manifest %s: %w", dir, err)
	}
	return m, nil
}

// ReadTable reads metrics/<family>.csv (or any file in that layout) back
// into a Table. The unit is not in the file and stays empty.
func ReadTable(path string) (metrics.Table, error) {
	recs, err := readCSV(path)
	if err != nil {
		return metrics.Table{}, err
	}
	n := len(FamilyTimeColumns)
	if len(recs) == 0 || len(recs[0]) < n || !slices.Equal(recs[0][:n], FamilyTimeColumns) {
		return metrics.Table{}, fmt.Errorf("read %s: header must start with %v", path, FamilyTimeColumns)
	}
	base := filepath.Base(path)
	t := metrics.Table{Family: base[:len(base)-len(filepath.Ext(base))], Columns: slices.Clone(recs[0][n:])}
	for i, rec := range recs[1:] {
		ms, err := strconv.ParseInt(rec[1], 10, 64)
		if err != nil {
			return t, fmt.Errorf("read %s:%d: unix_ms %q: %w", path, i+2, rec[1], err)
		}
		row := make([]float64, len(t.Columns))
		for j, s := range rec[n:] {
			row[j] = math.NaN()
			if s == "" {
				continue
			}
			if row[j], err = strconv.ParseFloat(s, 64); err != nil {
				return t, fmt.Errorf("read %s:%d: %s: %w", path, i+2, t.Columns[j], err)
			}
		}
		t.Times = append(t.Times, time.UnixMilli(ms).UTC())
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}

// Labels reads labels.csv as records keyed by column name.
func Labels(dir string) ([]map[string]string, error) {
	return records(filepath.Join(dir, "labels.csv"), LabelColumns)
}

// SpanRows reads traces.csv as records keyed by column name.
func SpanRows(dir string) ([]map[string]string, error) {
	return records(filepath.Join(dir, "traces.csv"), TraceColumns)
}

// LogRows reads logs.csv as records keyed by column name.
func LogRows(dir string) ([]map[string]string, error) {
	return records(filepath.Join(dir, "logs.csv"), LogColumns)
}

// records reads a CSV whose header starts with columns as records keyed by
// column name.
func records(path string, columns []string) ([]map[string]string, error) {
	recs, err := readCSV(path)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 || len(recs[0]) < len(columns) || !slices.Equal(recs[0][:len(columns)], columns) {
		return nil, fmt.Errorf("read %s: header must start with %v", path, columns)
	}
	var out []map[string]string
	for _, rec := range recs[1:] {
		m := make(map[string]string, len(rec))
		for i, h := range recs[0] {
			m[h] = rec[i]
		}
		out = append(out, m)
	}
	return out, nil
}

func readCSV(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read dataset file: %w", err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return recs, nil
}

// Cases reads a corpus's cases.csv (CaseColumns) as records keyed by column
// name.
func Cases(path string) ([]map[string]string, error) {
	return records(path, CaseColumns)
}
