package spec

import "testing"

func TestModeCount(t *testing.T) {
	for _, tc := range []struct {
		mode Mode
		n    int
		want int
	}{
		{"", 3, 3}, {"all", 3, 3}, {"one", 3, 1}, {"50%", 3, 2}, {"50%", 4, 2},
		{"10%", 3, 1}, {"100%", 5, 5}, {"one", 0, 0}, {"33.4%", 3, 2},
	} {
		if got := tc.mode.Count(tc.n); got != tc.want {
			t.Errorf("Mode(%q).Count(%d) = %d, want %d", tc.mode, tc.n, got, tc.want)
		}
	}
}
