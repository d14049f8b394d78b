package spec

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
)

// WriteDOT writes the system's call graph in Graphviz DOT. Base services
// are boxes, storage services cylinders, entry services (where load goes)
// are drawn bold. An edge points from caller to callee; a sequential
// caller's edges are numbered in call order, a parallel caller's edges are
// bold and labelled "∥".
func (s *System) WriteDOT(w io.Writer) error {
	bw := bufio.NewWriter(w)
	q := strconv.Quote
	fmt.Fprintf(bw, "digraph %s {\n", q(s.Name))
	fmt.Fprintf(bw, "  label=%s;\n  labelloc=t;\n", q(fmt.Sprintf("%s (namespace %s)", s.Name, s.EffectiveNamespace())))
	fmt.Fprintln(bw, "  node [fontname=\"Helvetica\", fontsize=11];")
	fmt.Fprintln(bw, "  edge [fontname=\"Helvetica\", fontsize=9];")
	entry := map[string]bool{}
	for _, e := range s.EntryServices() {
		entry[e] = true
	}
	for _, svc := range s.Services {
		label := svc.Name + "\n" + string(svc.Type)
		if n := s.ReplicasOf(svc.Name); n > 1 {
			label += fmt.Sprintf(" ×%d", n)
		}
		attrs := fmt.Sprintf("label=%s, shape=box", q(label))
		if svc.Type.IsStorage() {
			attrs = fmt.Sprintf("label=%s, shape=cylinder, style=filled, fillcolor=\"#e8e8e8\"", q(label))
		}
		if entry[svc.Name] {
			attrs += ", penwidth=2"
		}
		fmt.Fprintf(bw, "  %s [%s];\n", q(svc.Name), attrs)
	}
	for _, svc := range s.Services {
		for i, callee := range svc.Calls {
			var attrs string
			switch {
			case svc.Mode() == CallParallel:
				attrs = ` [style=bold, label="∥"]`
			case len(svc.Calls) > 1:
				attrs = fmt.Sprintf(` [label="%d"]`, i+1)
			}
			fmt.Fprintf(bw, "  %s -> %s%s;\n", q(svc.Name), q(callee), attrs)
		}
	}
	fmt.Fprintln(bw, "}")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write call graph of %s: %w", s.Name, err)
	}
	return nil
}
