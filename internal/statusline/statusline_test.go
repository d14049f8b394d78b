package statusline

import (
	"bytes"
	"testing"
)

func TestLineOffATerminalPrintsOnlyWholeLines(t *testing.T) {
	var b bytes.Buffer
	l := New(&b)
	if l.Live() {
		t.Fatal("a buffer is not a terminal")
	}
	l.Show("12s / 70s")
	l.Clear()
	l.Println("case 1 complete")
	if got := b.String(); got != "case 1 complete\n" {
		t.Errorf("wrote %q", got)
	}
	New(nil).Println("nowhere") // must not panic
}

func TestLiveLineIsClearedBeforeOtherOutput(t *testing.T) {
	var b bytes.Buffer
	l := &Line{w: &b, tty: true, cols: 8}
	l.Show("fault delay 40s") // cut to 7 columns
	l.Println("done")
	l.Show("ab")
	l.Clear()
	want := "fault …" + "\r       \r" + "done\n" + "ab" + "\r  \r"
	if got := b.String(); got != want {
		t.Errorf("wrote\n%q\nwant\n%q", got, want)
	}
}

func TestClip(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{{"abcdef", 4, "abc…"}, {"ab", 4, "ab"}, {"·····", 3, "··…"}, {"abc", 1, "a"}, {"abc", 0, ""}} {
		if got := Clip(c.in, c.n); got != c.want {
			t.Errorf("Clip(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}
