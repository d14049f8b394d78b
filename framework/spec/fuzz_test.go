package spec

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/goccy/go-yaml"
)

// addFixtures seeds a fuzz target with every fixture file; the committed
// corpus under testdata/fuzz holds the same plus what fuzzing found.
func addFixtures(f *testing.F, globs ...string) {
	for _, g := range globs {
		paths, err := filepath.Glob(g)
		if err != nil {
			f.Fatal(err)
		}
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
}

// FuzzParseSystem: no input may panic; whatever parses must validate again,
// survive a JSON round trip and read back identically from its own YAML.
func FuzzParseSystem(f *testing.F) {
	addFixtures(f, "../../fixtures/systems/*.yaml", "../../fixtures/invalid/system-*.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		sys, err := ParseSystem("fuzz.yaml", data)
		if err != nil {
			if _, ok := err.(ErrorList); !ok {
				t.Fatalf("error is %T, want ErrorList: %v", err, err)
			}
			return
		}
		if err := sys.Validate(); err != nil {
			t.Fatalf("parsed system fails Validate: %v", err)
		}
		_ = sys.StartOrder()
		_ = sys.EntryServices()
		checkRoundTrips(t, sys, func(b []byte) (any, error) { return ParseSystem("again.yaml", b) })
	})
}

// FuzzParseFaults is FuzzParseSystem for fault definitions, plus the checks
// against the social system.
func FuzzParseFaults(f *testing.F) {
	addFixtures(f, "../../fixtures/faults/*.yaml", "../../fixtures/invalid/faults-*.yaml")
	social, err := LoadSystem("../../fixtures/systems/social.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ff, err := ParseFaults("fuzz.yaml", data)
		if err != nil {
			if _, ok := err.(ErrorList); !ok {
				t.Fatalf("error is %T, want ErrorList: %v", err, err)
			}
			return
		}
		if err := ff.Validate(); err != nil {
			t.Fatalf("parsed faults fail Validate: %v", err)
		}
		_ = CheckFaults(ff, social)
		checkRoundTrips(t, ff, func(b []byte) (any, error) { return ParseFaults("again.yaml", b) })
	})
}

// checkRoundTrips marshals v (a *System or *FaultFile) to JSON and YAML and
// reads both back, expecting the same value.
func checkRoundTrips(t *testing.T, v any, parse func([]byte) (any, error)) {
	t.Helper()
	js, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal JSON: %v", err)
	}
	back := reflect.New(reflect.TypeOf(v).Elem())
	if err := json.Unmarshal(js, back.Interface()); err != nil {
		t.Fatalf("unmarshal own JSON %s: %v", js, err)
	}
	if !sameDefinition(v, back.Interface()) {
		t.Fatalf("JSON round trip changed the value:\n%s\nread back as\n%+v", js, back.Interface())
	}
	ys, err := yaml.Marshal(v)
	if err != nil {
		t.Fatalf("marshal YAML: %v", err)
	}
	again, err := parse(ys)
	if err != nil {
		t.Fatalf("own YAML does not parse: %v\n%s", err, ys)
	}
	if !sameDefinition(v, again) {
		t.Fatalf("YAML round trip changed the value:\n%s\nread back as\n%+v", ys, again)
	}
}

// sameDefinition compares two definitions ignoring where they were read from.
func sameDefinition(a, b any) bool {
	switch x := a.(type) {
	case *System:
		y := *b.(*System)
		c := *x
		c.File, c.meta, y.File, y.meta = "", nil, "", nil
		return reflect.DeepEqual(c, y)
	case *FaultFile:
		y := *b.(*FaultFile)
		c := *x
		c.File, c.meta, y.File, y.meta = "", nil, "", nil
		return reflect.DeepEqual(c, y)
	}
	return false
}
