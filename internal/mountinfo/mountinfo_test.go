package mountinfo

import "testing"

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{
		`/run/a\040b`:  "/run/a b",
		`/plain`:       "/plain",
		`/tab\011x`:    "/tab\tx",
		`/not\08octal`: `/not\08octal`,
		`/end\04`:      `/end\04`,
	} {
		if got := Unescape(in); got != want {
			t.Errorf("Unescape(%q) = %q, want %q", in, got, want)
		}
	}
}
