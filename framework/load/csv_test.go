package load_test

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/load"
)

func TestCSVRoundTrip(t *testing.T) {
	t0 := time.Date(2024, 5, 22, 10, 0, 0, 123e6, time.UTC)
	in := []load.Second{
		{Time: t0, Index: 0, Sent: 100, OK: 98, Errors: 2, ByKind: map[load.ErrorKind]uint64{load.KindTimeout: 1, load.KindStatus5xx: 1},
			Late: 3, Skipped: 0, BytesIn: 25600, P50: 1203 * us, P90: 4 * ms, P99: 15500 * us, Max: 2 * time.Second},
		// A second with nothing answered: latencies are empty cells.
		{Time: t0.Add(time.Second), Index: 1, Sent: 7, Errors: 7, ByKind: map[load.ErrorKind]uint64{load.KindRefused: 7}, Skipped: 12},
		{Time: t0.Add(2 * time.Second), Index: 2},
		{Time: t0.Add(3 * time.Second), Index: 3, Sent: 1, Errors: 1, ByKind: map[load.ErrorKind]uint64{load.KindStatus4xx: 1}, P50: us, P90: us, P99: us, Max: us},
	}
	var buf bytes.Buffer
	if err := load.WriteCSV(&buf, in); err != nil {
		t.Fatalf("WriteCSV: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if lines[0] != strings.Join(load.Header(), ",") {
		t.Errorf("header = %q; want %q", lines[0], strings.Join(load.Header(), ","))
	}
	if !strings.HasPrefix(lines[1], "2024-05-22T10:00:00.123Z,1716372000123,0,100,98,2,3,0,25600,1.203,4.000,15.500,2000.000,1,") {
		t.Errorf("first row = %q", lines[1])
	}
	if !strings.Contains(lines[2], ",0,,,,,0,7,") {
		t.Errorf("row without answers = %q; want empty latency cells", lines[2])
	}
	out, err := load.ReadCSV(&buf)
	if err != nil {
		t.Fatalf("ReadCSV: %v", err)
	}
	if !reflect.DeepEqual(out, in) {
		t.Errorf("round trip:\n got %+v\nwant %+v", out, in)
	}
}

func TestColumnsDocumented(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range load.Columns {
		if c.Name == "" || c.Doc == "" || seen[c.Name] {
			t.Errorf("column %q: want a unique name and a doc", c.Name)
		}
		seen[c.Name] = true
	}
	for _, k := range load.Kinds {
		if !seen["err_"+string(k)] {
			t.Errorf("error kind %q has no column", k)
		}
	}
}

func TestReadCSVErrors(t *testing.T) {
	head := strings.Join(load.Header(), ",")
	row := func(edit func([]string)) string {
		r := make([]string, len(load.Columns))
		for i := range r {
			r[i] = "0"
		}
		r[0], r[1] = "2024-05-22T10:00:00.000Z", "1716372000000"
		edit(r)
		return strings.Join(r, ",")
	}
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", "empty"},
		{"wrong header", strings.Replace(head, "sent", "requests", 1), `column 4 is "requests", want "sent"`},
		{"short row", head + "\n1,2,3\n", "wrong number of fields"},
		{"bad count", head + "\n" + row(func(r []string) { r[3] = "many" }) + "\n", `line 2 column sent: value "many"`},
		{"bad latency", head + "\n" + row(func(r []string) { r[9] = "1ms" }) + "\n", "column p50_ms"},
		{"times disagree", head + "\n" + row(func(r []string) { r[1] = "5" }) + "\n", "disagrees with the time column"},
	} {
		_, err := load.ReadCSV(strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: ReadCSV error = %v; want one containing %q", tc.name, err, tc.want)
		}
	}
}
