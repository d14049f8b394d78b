package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs the CLI in-process and returns stdout, stderr and the error.
func runCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, streams{In: strings.NewReader(""), Out: &out, Err: &errOut})
	return out.String(), errOut.String(), err
}

func exitCode(err error) int {
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	}
	return -1
}

const fx = "../../fixtures"

func TestValidateFixtures(t *testing.T) {
	systems, _ := filepath.Glob(fx + "/systems/*.yaml")
	faults, _ := filepath.Glob(fx + "/faults/*.yaml")
	files := append(systems, faults...)
	out, errOut, err := runCLI(t, append([]string{"validate"}, files...)...)
	if err != nil || errOut != "" {
		t.Fatalf("validate fixtures: %v\n%s", err, errOut)
	}
	var want strings.Builder
	for _, f := range files {
		want.WriteString("ok  " + f + "\n")
	}
	if out != want.String() {
		t.Errorf("stdout:\n%s\nwant:\n%s", out, want.String())
	}
}

// TestValidateInvalidFixtures runs "vecro validate social.yaml FILE" for
// every broken fixture: exit 1, "ok" for social.yaml only, and on stderr
// exactly the error line 1 of the file names.
func TestValidateInvalidFixtures(t *testing.T) {
	social := fx + "/systems/social.yaml"
	files, _ := filepath.Glob(fx + "/invalid/*.yaml")
	if len(files) == 0 {
		t.Fatal("no invalid fixtures")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(string(data), "\n")
			want := f + ":" + strings.TrimPrefix(first, "# error:") + "\n"
			out, errOut, err := runCLI(t, "validate", social, f)
			if exitCode(err) != 1 {
				t.Fatalf("exit %d (%v), want 1", exitCode(err), err)
			}
			if out != "ok  "+social+"\n" || errOut != want {
				t.Errorf("stdout %q\nstderr %q\nwant stderr %q", out, errOut, want)
			}
		})
	}
}

func TestValidateFaultFileAlone(t *testing.T) {
	f := fx + "/faults/social-delay.yaml"
	out, errOut, err := runCLI(t, "validate", f)
	if err != nil || errOut != "" {
		t.Fatalf("%v %s", err, errOut)
	}
	if want := "ok  " + f + " (targets not checked: give the system file too)\n"; out != want {
		t.Errorf("stdout %q, want %q", out, want)
	}
	// A structural error is still found without the system.
	bad := fx + "/invalid/faults-overlap.yaml"
	if _, errOut, err := runCLI(t, "validate", bad); exitCode(err) != 1 || !strings.HasPrefix(errOut, bad+":10: faults[1]: ") {
		t.Errorf("exit %d, stderr %q", exitCode(err), errOut)
	}
}

func TestValidateSeedFlag(t *testing.T) {
	sys, f := fx+"/systems/social.yaml", fx+"/faults/social-loss.yaml"
	out, _, err := runCLI(t, "validate", "-deffile", sys, "--deffile="+f)
	if err != nil || out != "ok  "+sys+"\nok  "+f+"\n" {
		t.Errorf("-deffile: %v %q", err, out)
	}
}

func TestValidateUsageErrors(t *testing.T) {
	if _, _, err := runCLI(t, "validate"); err == nil || exitCode(err) != -1 || !strings.Contains(err.Error(), "no files given") {
		t.Errorf("no files: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	_, errOut, err := runCLI(t, "validate", missing)
	if exitCode(err) != 1 || !strings.Contains(errOut, "read definition: open "+missing) {
		t.Errorf("missing file: exit %d stderr %q", exitCode(err), errOut)
	}
}
