package eval

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vecrosim/vecro/framework/analysis"
)

// faultColumns are the ground truth a dataset's long CSVs carry per row.
var faultColumns = []string{"fault_active", "on_target"}

// timeColumn is how a CSV of a dataset says when a row is, for cutting a
// blinded copy to a window.
type timeColumn struct {
	name  string
	parse func(string) (time.Time, error)
}

var (
	unixMS = timeColumn{"unix_ms", func(s string) (time.Time, error) {
		ms, err := strconv.ParseInt(s, 10, 64)
		return time.UnixMilli(ms), err
	}}
	startUnixUS = timeColumn{"start_unix_us", func(s string) (time.Time, error) {
		us, err := strconv.ParseInt(s, 10, 64)
		return time.UnixMicro(us), err
	}}
	rfc3339 = timeColumn{"time", func(s string) (time.Time, error) { return time.Parse(time.RFC3339Nano, s) }}
)

// blindFiles are the files of a run a method sees, by path relative to the
// run (a directory entry "d/" stands for its CSVs), and how each is cut to
// a window. Everything else stays out: labels.csv and plots/ (their shaded
// windows) by design, and any file this list does not know yet, so that a
// new file with ground truth in it cannot leak by default.
var blindFiles = []struct {
	path string
	time timeColumn
}{
	{"metrics/", unixMS},
	{"social9/", unixMS},
	{"metrics.csv", unixMS},
	{"load.csv", unixMS},
	{"traces.csv", startUnixUS},
	{"logs.csv", rfc3339},
	{"callgraph.dot", timeColumn{}},
}

// Window is the one window type of the framework's analysis: a span a
// method flagged, a fault's applied window, a cut.
type Window = analysis.Window

// Blind copies the run in src to dst as a method may see it: without
// labels.csv and plots, without the fault columns of the long CSVs and
// without the manifest's faults. When cut is not the zero Window, rows
// outside it are left out (RCAEval's --length).
func Blind(src, dst string, cut Window) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	var kept []string
	for _, f := range blindFiles {
		if strings.HasSuffix(f.path, "/") {
			ents, err := os.ReadDir(filepath.Join(src, f.path))
			if errors.Is(err, fs.ErrNotExist) {
				continue
			} else if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Join(dst, f.path), 0o755); err != nil {
				return err
			}
			for _, e := range ents {
				if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".csv") {
					rel := f.path + e.Name()
					if err := blindCSV(filepath.Join(src, rel), filepath.Join(dst, rel), f.time, cut); err != nil {
						return err
					}
					kept = append(kept, rel)
				}
			}
			continue
		}
		s := filepath.Join(src, f.path)
		if _, err := os.Stat(s); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		var err error
		if strings.HasSuffix(f.path, ".csv") {
			err = blindCSV(s, filepath.Join(dst, f.path), f.time, cut)
		} else {
			err = copyFile(s, filepath.Join(dst, f.path))
		}
		if err != nil {
			return err
		}
		kept = append(kept, f.path)
	}
	return blindManifest(filepath.Join(src, "manifest.json"), filepath.Join(dst, "manifest.json"), kept)
}

// blindManifest writes the manifest without its faults, listing only the
// files the copy has. It stays a generic JSON object so that no field a
// method may use is lost to a struct that does not know it.
func blindManifest(src, dst string, files []string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("blind %s: %w", src, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("blind %s: %w", src, err)
	}
	delete(m, "faults")
	m["files"] = append(files, "manifest.json")
	m["blinded"] = true
	out, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(dst, out, 0o644)
}

// blindCSV copies a CSV without the fault columns and, when cut is set,
// without the rows outside it.
func blindCSV(src, dst string, tc timeColumn, cut Window) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	r := csv.NewReader(in)
	r.ReuseRecord = true
	r.FieldsPerRecord = -1
	w := csv.NewWriter(out)
	head, err := r.Read()
	if err == io.EOF {
		return nil
	} else if err != nil {
		return fmt.Errorf("blind %s: %w", src, err)
	}
	var keep []int
	at := -1
	for i, h := range head {
		if !slices.Contains(faultColumns, h) {
			keep = append(keep, i)
		}
		if tc.name != "" && h == tc.name {
			at = i
		}
	}
	cutting := cut != (Window{}) && at >= 0
	row := make([]string, len(keep))
	write := func(rec []string) error {
		for j, i := range keep {
			row[j] = ""
			if i < len(rec) {
				row[j] = rec[i]
			}
		}
		return w.Write(row)
	}
	if err := write(head); err != nil {
		return err
	}
	for line := 2; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("blind %s: %w", src, err)
		}
		if cutting && at < len(rec) {
			t, err := tc.parse(rec[at])
			if err != nil {
				return fmt.Errorf("blind %s:%d: %s: %w", src, line, tc.name, err)
			}
			if t.Before(cut.Start) || !t.Before(cut.End) {
				continue
			}
		}
		if err := write(rec); err != nil {
			return err
		}
	}
	w.Flush()
	return w.Error()
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}
