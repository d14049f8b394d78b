package dataset_test

import (
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/dataset"
	"github.com/vecrosim/vecro/framework/metrics"
)

// TestEdgeFamilyRoundTrip writes an edge family next to a service family:
// its wide CSV has a column per edge (an edge without calls included, all
// empty) and reads back; its long-form rows name the edge as the service
// and are on target when either end is the fault's target.
func TestEdgeFamilyRoundTrip(t *testing.T) {
	r := run()
	edges := metrics.Table{Family: "edge_latency_p95", Unit: "seconds", Columns: []string{"api->db"}}
	for i := range 40 {
		edges.Times = append(edges.Times, t0.Add(time.Duration(i)*time.Second))
		edges.Rows = append(edges.Rows, []float64{0.01})
	}
	edges = edges.WithColumns("api->cache")
	r.Tables = append(r.Tables, edges)
	r.NoPlots = true
	dir, err := dataset.Write(t.TempDir(), r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := dataset.ReadTable(filepath.Join(dir, "metrics", "edge_latency_p95.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Columns, []string{"api->cache", "api->db"}) || len(got.Rows) != 40 {
		t.Fatalf("read back columns %v, %d rows", got.Columns, len(got.Rows))
	}
	for i, row := range got.Rows {
		if !math.IsNaN(row[0]) || row[1] != 0.01 {
			t.Fatalf("row %d = %v, want [NaN 0.01]", i, row)
		}
	}

	f, err := os.Open(filepath.Join(dir, "metrics.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := func(name string) int { return slices.Index(dataset.LongColumns, name) }
	var rows, onTarget int
	for _, rec := range recs[1:] {
		if rec[col("family")] != "edge_latency_p95" {
			continue
		}
		rows++
		if rec[col("service")] != "api->db" {
			t.Fatalf("edge row names %q, want api->db (api->cache has no values)", rec[col("service")])
		}
		active := rec[col("fault_active")] == "slow"
		if (rec[col("on_target")] == "1") != active {
			t.Fatalf("api->db into the target db: on_target %q with fault_active %q", rec[col("on_target")], rec[col("fault_active")])
		}
		if active {
			onTarget++
		}
	}
	if rows != 40 || onTarget != 10 {
		t.Errorf("%d edge rows, %d on target; want 40 and 10", rows, onTarget)
	}
}
