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

// TestValidateExperiments: every experiment fixture passes with the files
// it refers to; a bad kind or a bad reference names file, line and field.
func TestValidateExperiments(t *testing.T) {
	exps, _ := filepath.Glob(fx + "/experiments/*.yaml")
	if len(exps) == 0 {
		t.Fatal("no experiment fixtures")
	}
	out, errOut, err := runCLI(t, append([]string{"validate"}, exps...)...)
	if err != nil || errOut != "" {
		t.Fatalf("validate %v: %v\n%s", exps, err, errOut)
	}
	for _, e := range exps {
		if !strings.Contains(out, "ok  "+e+"\n") {
			t.Errorf("no ok for %s in %q", e, out)
		}
	}

	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	badKind := write("kind.yaml", "name: x\nkind: Experimnt\nsystem: s.yaml\n")
	abs, err := filepath.Abs(fx)
	if err != nil {
		t.Fatal(err)
	}
	badRef := write("ref.yaml", "kind: Experiment\nname: x\nsystem: "+abs+"/systems/social.yaml\nfaults: "+abs+"/invalid/faults-unknown-target.yaml\nfamilies: [latency_p95]\n")
	badSys := write("sys.yaml", "kind: Experiment\nname: x\nsystem: "+abs+"/invalid/system-unknown-callee.yaml\n")
	_, errOut, err = runCLI(t, "validate", badKind, badRef, badSys)
	if exitCode(err) != 1 {
		t.Fatalf("exit %d (%v), want 1", exitCode(err), err)
	}
	for _, want := range []string{
		badKind + `:2: kind: unknown kind "Experimnt" (did you mean "Experiment"?)`,
		// The target is checked against the experiment's system.
		abs + `/invalid/faults-unknown-target.yaml:6: faults[0].target: target "posts-storag" is not a service of system "social"`,
		badSys + ":3: system: " + abs + "/invalid/system-unknown-callee.yaml has 1 problem(s), listed below\n" +
			abs + `/invalid/system-unknown-callee.yaml:7: services[0].calls[0]: unknown service "user-inf0"`,
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}
