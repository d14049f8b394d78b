package campaign

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/vecrosim/vecro/framework/dataset"
)

// Row is one line of cases.csv; its fields are dataset.CaseColumns, in
// that order.
type Row struct {
	Case, System, Fault, Behavior, Target, Params string
	Repetition                                    int
	Seed                                          int64
	Status                                        string
	// Dataset is the case's run directory relative to the corpus.
	Dataset                                            string
	PlannedStart, PlannedEnd, AppliedStart, AppliedEnd string
}

func (r Row) record() []string {
	return []string{
		r.Case, r.System, r.Fault, r.Behavior, r.Target, r.Params,
		strconv.Itoa(r.Repetition), strconv.FormatInt(r.Seed, 10), r.Status, r.Dataset,
		r.PlannedStart, r.PlannedEnd, r.AppliedStart, r.AppliedEnd,
	}
}

// definition is what the campaign decides about a case, without what
// running it found: two rows with the same definition are the same case.
func (r Row) definition() Row {
	r.Status, r.Dataset = "", ""
	r.PlannedStart, r.PlannedEnd, r.AppliedStart, r.AppliedEnd = "", "", "", ""
	return r
}

// ReadCases reads a corpus's cases.csv.
func ReadCases(path string) ([]Row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read cases: %w", err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(recs) == 0 || !slices.Equal(recs[0], dataset.CaseColumns) {
		return nil, fmt.Errorf("read %s: the header must be %v", path, dataset.CaseColumns)
	}
	rows := make([]Row, 0, len(recs)-1)
	for i, rec := range recs[1:] {
		r := Row{
			Case: rec[0], System: rec[1], Fault: rec[2], Behavior: rec[3], Target: rec[4], Params: rec[5],
			Status: rec[8], Dataset: rec[9],
			PlannedStart: rec[10], PlannedEnd: rec[11], AppliedStart: rec[12], AppliedEnd: rec[13],
		}
		if r.Repetition, err = strconv.Atoi(rec[6]); err != nil {
			return nil, fmt.Errorf("read %s:%d: repetition %q: %w", path, i+2, rec[6], err)
		}
		if r.Seed, err = strconv.ParseInt(rec[7], 10, 64); err != nil {
			return nil, fmt.Errorf("read %s:%d: seed %q: %w", path, i+2, rec[7], err)
		}
		switch r.Status {
		case dataset.CasePlanned, dataset.CaseComplete, dataset.CasePartial, dataset.CaseFailed:
		default:
			return nil, fmt.Errorf("read %s:%d: status %q: want %s, %s, %s or %s", path, i+2, r.Status,
				dataset.CasePlanned, dataset.CaseComplete, dataset.CasePartial, dataset.CaseFailed)
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// WriteCases writes rows as path whole: to a temporary file beside it,
// synced, then renamed over it, so that a reader (or a run stopped at any
// moment) sees the old index or the new one, never half of one.
func WriteCases(path string, rows []Row) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write cases: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	w := csv.NewWriter(tmp)
	if err := w.Write(dataset.CaseColumns); err != nil {
		return fmt.Errorf("write cases: %w", err)
	}
	for _, r := range rows {
		if err := w.Write(r.record()); err != nil {
			return fmt.Errorf("write cases: %w", err)
		}
	}
	if w.Flush(); w.Error() != nil {
		return fmt.Errorf("write cases: %w", w.Error())
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write cases: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("write cases: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write cases: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write cases: %w", err)
	}
	return nil
}
