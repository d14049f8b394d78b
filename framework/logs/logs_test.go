package logs_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/logs"
)

func TestFilesReadTheRequestLinesOfAWindowAmongOtherOutput(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "web-0.log")
	b := filepath.Join(dir, "cart-0.log")
	write := func(path string, lines ...string) {
		if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(a,
		`time=2026-12-05T10:00:00Z level=INFO msg=ready service=web`,
		`{"time":"2026-12-05T10:00:01.5Z","level":"INFO","msg":"request","service":"web","instance":"web-0","method":"GET","path":"/","status":200,"duration_ms":1.25,"trace_id":"0102","span_id":"03"}`,
		`{"time":"2026-12-05T10:00:09Z","level":"INFO","msg":"request","service":"web","instance":"web-0","status":200}`,
		`{"not":"a request line"}`,
		`{"time":"2026-12-05T10:00:02Z","level":"INFO","msg":"cut off`) // no newline: a half-written last line
	write(b,
		`{"time":"2026-12-05T10:00:01Z","level":"ERROR","msg":"request failed","service":"cart","instance":"cart-0","status":502,"step":"downstream","error":"call db: status 500"}`,
		"")
	from := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	lines, st, err := logs.Files{a, b}.Lines(context.Background(), from, from.Add(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 2 || st.Lines != 2 {
		t.Fatalf("lines %+v, stats %+v; want the two in the window", lines, st)
	}
	if l := lines[0]; l.Service != "cart" || l.Level != "ERROR" || l.Status != 502 || l.Error != "call db: status 500" || l.Step != "downstream" {
		t.Errorf("first line (by time) %+v, want cart's failure", l)
	}
	if l := lines[1]; l.Instance != "web-0" || l.TraceID != "0102" || l.SpanID != "03" || l.DurationMS != 1.25 || l.Method != "GET" || l.Path != "/" {
		t.Errorf("second line %+v, want web's request", l)
	}
	if st.Other != 3 {
		t.Errorf("%d other lines, want 3 (text, not a request line, cut off)", st.Other)
	}
	if _, _, err := (logs.Files{filepath.Join(dir, "missing.log")}).Lines(context.Background(), from, from); err == nil {
		t.Error("a missing file read without error")
	}
}
