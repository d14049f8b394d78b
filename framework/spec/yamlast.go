package spec

import (
	"errors"
	"fmt"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// The YAML AST below the decoder: parsing, syntax errors with their line,
// the line of a node, anchors and aliases, a node's kind in words.

// parseYAML runs the YAML parser. It is third-party code fed arbitrary
// input, so a panic in it becomes an error in the file rather than the end
// of the program; the recover covers the parser only, so that fuzzing still
// sees panics in this package's own code.
func parseYAML(data []byte) (f *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("cannot parse YAML (parser failure: %v)", r)
		}
	}()
	return parser.ParseBytes(data, 0)
}

// syntaxError converts the YAML parser's error into an *Error with a line.
func syntaxError(file string, err error) *Error {
	var ye yaml.Error
	if errors.As(err, &ye) {
		line := 0
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			line = tk.Position.Line
		}
		return &Error{File: file, Line: line, Msg: "YAML syntax: " + ye.GetMessage()}
	}
	return &Error{File: file, Msg: "YAML syntax: " + err.Error()}
}

type anchorCollector map[string]ast.Node

func (a anchorCollector) Visit(n ast.Node) ast.Visitor {
	if an, ok := n.(*ast.AnchorNode); ok && an.Name != nil {
		a[an.Name.String()] = an.Value
	}
	return a
}

func nodeLine(n ast.Node) int {
	if n == nil {
		return 0
	}
	if mv, ok := n.(*ast.MappingNode); ok && len(mv.Values) > 0 {
		n = mv.Values[0].Key
	}
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return 0
	}
	return tk.Position.Line
}

// resolve strips anchors, tags and comments and follows aliases, returning
// the node that carries the value; nil for an explicit or implicit null.
func (d *decoder) resolve(n ast.Node) ast.Node {
	for range 16 { // bounds alias chains that point at each other
		switch x := n.(type) {
		case nil:
			return nil
		case *ast.AnchorNode:
			n = x.Value
		case *ast.TagNode:
			n = x.Value
		case *ast.AliasNode:
			if x.Value == nil {
				return nil
			}
			target, ok := d.anchors[x.Value.String()]
			if !ok {
				return x // decode reports it as an unknown alias
			}
			n = target
		case *ast.NullNode:
			return nil
		default:
			return n
		}
	}
	return n
}

// describe names a node's kind for "want X, got Y" messages.
func describe(n ast.Node) string {
	switch n.(type) {
	case *ast.MappingNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case nil:
		return "nothing"
	}
	if tk := n.GetToken(); tk != nil {
		return fmt.Sprintf("%q", tk.Value)
	}
	return n.Type().String()
}
