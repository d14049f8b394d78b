package local

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTailLines(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, fmt.Sprint(len(body))+".log")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var long strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&long, "line %d\n", i)
	}
	for _, tc := range []struct {
		name, path string
		n          int
		max        int64
		want       string
	}{
		{"missing file", filepath.Join(dir, "nope"), 3, 100, ""},
		{"short", write("a\nb\n"), 5, 100, "a\nb"},
		{"last n", write("a\nb\nc\nd\n"), 2, 100, "c\nd"},
		{"no final newline", write("a\nb\nc"), 2, 100, "b\nc"},
		{"byte bound drops the partial line", write(long.String()), 100, 20, "line 998\nline 999"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tailLines(tc.path, tc.n, tc.max); got != tc.want {
				t.Errorf("tailLines = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseCgroupMode(t *testing.T) {
	for in, want := range map[string]CgroupMode{"": CgroupsAuto, "auto": CgroupsAuto, "ON": CgroupsOn, " off ": CgroupsOff} {
		if got, err := ParseCgroupMode(in); err != nil || got != want {
			t.Errorf("ParseCgroupMode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseCgroupMode("yes"); err == nil || !strings.Contains(err.Error(), "auto, on or off") {
		t.Errorf("ParseCgroupMode(yes) = %v", err)
	}
}
