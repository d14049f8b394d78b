package kube

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A followed log is spooled without the kubelet's timestamps, and a stream
// opened again after a break (from the second of the last line, since
// PodLogOptions.SinceTime has whole seconds) adds no line twice.
func TestFollowerSpoolsEachLineOnce(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	line := func(i int) string {
		at := t0.Add(time.Duration(i) * 300 * time.Millisecond)
		return fmt.Sprintf(`{"time":%q,"level":"INFO","msg":"request","service":"a","instance":"a-x","status":200}`, at.Add(-time.Millisecond).Format(time.RFC3339Nano))
	}
	stamped := func(from, to int) string {
		var b strings.Builder
		for i := from; i < to; i++ {
			fmt.Fprintf(&b, "%s %s\n", t0.Add(time.Duration(i)*300*time.Millisecond).Format(time.RFC3339Nano), line(i))
		}
		return b.String()
	}
	path := filepath.Join(t.TempDir(), "a.log")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	f := &follower{pod: "a-x", path: path}
	f.copy(strings.NewReader(stamped(0, 7)), out)
	// The reopened stream starts at the second of line 6 (t0+1.8 s): lines
	// 3 to 6 again, then new ones.
	f.copy(strings.NewReader(stamped(3, 10)), out)
	// A line without a timestamp is kept as it is.
	f.copy(strings.NewReader("not a kubelet line\n"), out)
	out.Close()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for i := range 10 {
		want.WriteString(line(i) + "\n")
	}
	want.WriteString("not a kubelet line\n")
	if string(got) != want.String() {
		t.Errorf("spool:\n%s\nwant:\n%s", got, want.String())
	}

	// Lines reads the spool of a followed pod: the window's lines only.
	p := &podLogs{followers: []*follower{f}}
	f.connected = true
	lines, st, err := p.Lines(context.Background(), t0.Add(time.Second), t0.Add(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	// Lines 4 to 6 (at t0+1.2, 1.5, 1.8 s, minus a millisecond); line 3 is
	// at 0.899 s, line 7 at 2.099 s.
	if len(lines) != 3 || st.Lines != 3 || st.Other != 1 {
		t.Errorf("Lines: %d lines %+v, want 3 and 1 other line", len(lines), st)
	}
	for i, l := range lines {
		if l.Service != "a" || !l.Time.Equal(t0.Add(time.Duration(i+4)*300*time.Millisecond-time.Millisecond)) {
			t.Errorf("line %d: %+v", i, l)
		}
	}
}
