package main

import (
	"regexp"
	"strings"
	"testing"
)

func TestGraphAlphabet(t *testing.T) {
	out, errOut, err := runCLI(t, "graph", fx+"/systems/alphabet.yaml")
	if err != nil || errOut != "" {
		t.Fatalf("%v %s", err, errOut)
	}
	if !strings.HasPrefix(out, `digraph "alphabet" {`) || !strings.HasSuffix(out, "}\n") {
		t.Fatalf("not a digraph:\n%s", out)
	}
	nodes := regexp.MustCompile(`(?m)^  "([a-z-]+)" \[(.*)\];$`).FindAllStringSubmatch(out, -1)
	edges := regexp.MustCompile(`(?m)^  "([a-z-]+)" -> "([a-z-]+)"(.*);$`).FindAllStringSubmatch(out, -1)
	if len(nodes) != 12 || len(edges) != 16 {
		t.Fatalf("%d nodes, %d edges; want 12, 16:\n%s", len(nodes), len(edges), out)
	}
	attrs := map[string]string{}
	for _, n := range nodes {
		attrs[n[1]] = n[2]
	}
	for _, e := range edges {
		if attrs[e[1]] == "" || attrs[e[2]] == "" {
			t.Errorf("edge %s -> %s names an undeclared node", e[1], e[2])
		}
	}
	for _, c := range []struct{ node, want string }{
		{"l", "shape=cylinder"}, {"a", "shape=box"}, {"a", "penwidth=2"}, {"b", `×2`},
	} {
		if !strings.Contains(attrs[c.node], c.want) {
			t.Errorf("node %s [%s] lacks %s", c.node, attrs[c.node], c.want)
		}
	}
	for _, want := range []string{
		`"a" -> "b" [style=bold, label="∥"];`, // a calls in parallel
		`"b" -> "e" [label="1"];`,             // b calls in sequence
		`"b" -> "f" [label="2"];`,
		`"e" -> "i";`, // a single callee needs no number
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s", want)
		}
	}
}

func TestGraphSocialStorageAndErrors(t *testing.T) {
	out, _, err := runCLI(t, "graph", "-deffile", fx+"/systems/social.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out, "shape=cylinder"); n != 5 {
		t.Errorf("%d storage nodes, want 5", n)
	}
	if n := strings.Count(out, " -> "); n != 27 {
		t.Errorf("%d edges, want 27", n)
	}
	bad := fx + "/invalid/system-call-cycle.yaml"
	out, errOut, err := runCLI(t, "graph", bad)
	if exitCode(err) != 1 || out != "" || !strings.Contains(errOut, "call cycle: a → b → c → a") {
		t.Errorf("invalid system: exit %d stdout %q stderr %q", exitCode(err), out, errOut)
	}
	if _, _, err := runCLI(t, "graph"); err == nil || !strings.Contains(err.Error(), "no system file given") {
		t.Errorf("no file: %v", err)
	}
}
