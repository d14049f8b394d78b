package spec

import (
	"fmt"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/token"

	"github.com/vecrosim/vecro/framework/behavior"
)

// Kind is what a definition file holds.
type Kind int

// Kinds of definition files.
const (
	KindUnknown Kind = iota
	KindSystem
	KindFaults
	KindExperiment
	KindCampaign
)

// String names the kind: system, faults, experiment, campaign or unknown.
func (k Kind) String() string {
	switch k {
	case KindSystem:
		return "system"
	case KindFaults:
		return "faults"
	case KindExperiment:
		return "experiment"
	case KindCampaign:
		return "campaign"
	}
	return "unknown"
}

// Name is the kind as a file's kind: key spells it ("" for KindUnknown).
func (k Kind) Name() string {
	switch k {
	case KindSystem:
		return "System"
	case KindFaults:
		return "Faults"
	case KindExperiment:
		return "Experiment"
	case KindCampaign:
		return "Campaign"
	}
	return ""
}

var kindNames = []string{"System", "Faults", "Experiment", "Campaign"}

// ParseKind reads the value of a kind: key.
func ParseKind(s string) (Kind, bool) {
	for _, k := range []Kind{KindSystem, KindFaults, KindExperiment, KindCampaign} {
		if k.Name() == s {
			return k, true
		}
	}
	return KindUnknown, false
}

// DetectKind tells the kinds of definition apart; see ReadKind.
func DetectKind(data []byte) Kind {
	k, _ := ReadKind("", data)
	return k
}

// ReadKind returns what a definition file holds: the top-level kind: key
// when the file has one, else what its top-level keys imply, as the
// original's files have no kind (services: a system, faults: a fault
// definition, system: an experiment). A campaign is never inferred: its
// keys overlap an experiment's, and a file that has a campaign's targets:
// without kind: Campaign is an error that says to add it. err, an *Error
// naming name and the line, says why the kind is unknown.
//
// A file with a YAML syntax error still gets a kind from its tokens, so
// that it reaches the parser that explains the error.
func ReadKind(name string, data []byte) (Kind, error) {
	keys := topLevelKeys(data)
	if kv, ok := keys["kind"]; ok {
		if kv.value == "" {
			return KindUnknown, &Error{File: name, Line: kv.line, Field: "kind", Msg: "want a string: one of " + strings.Join(kindNames, ", ")}
		}
		if k, ok := ParseKind(kv.value); ok {
			return k, nil
		}
		return KindUnknown, &Error{File: name, Line: kv.line, Field: "kind",
			Msg: fmt.Sprintf("unknown kind %q%s; want %s", kv.value, behavior.DidYouMean(kv.value, kindNames), strings.Join(kindNames, ", "))}
	}
	if t, ok := keys["targets"]; ok {
		return KindUnknown, &Error{File: name, Line: t.line, Field: "targets",
			Msg: "targets: is a campaign's key, and a campaign says what it is: add kind: Campaign"}
	}
	_, s := keys["services"]
	_, f := keys["faults"]
	_, e := keys["system"]
	switch {
	case s && !f && !e:
		return KindSystem, nil
	case e && !s:
		return KindExperiment, nil
	case f && !s:
		return KindFaults, nil
	case s && (f || e):
		return KindUnknown, &Error{File: name, Line: keys["services"].line,
			Msg: "both services: (a system) and faults: or system: (a fault definition or an experiment): say which with kind: System, Faults or Experiment"}
	}
	return KindUnknown, &Error{File: name,
		Msg: "no kind: key and neither services: (a system definition), faults: (a fault definition) nor system: (an experiment) at the top level"}
}

// topKey is a top-level key's line and, when it is a plain scalar, value.
type topKey struct {
	line  int
	value string
}

// topLevelKeys finds the keys of the document's top-level mapping: from
// the parse when the file parses, else from the tokens in column 1.
func topLevelKeys(data []byte) map[string]topKey {
	out := map[string]topKey{}
	if f, err := parseYAML(data); err == nil {
		for _, doc := range f.Docs {
			if doc == nil || doc.Body == nil {
				continue
			}
			body := doc.Body
			for {
				switch x := body.(type) {
				case *ast.AnchorNode:
					body = x.Value
					continue
				case *ast.TagNode:
					body = x.Value
					continue
				}
				break
			}
			m, ok := body.(*ast.MappingNode)
			if !ok {
				return out
			}
			for _, mv := range m.Values {
				if mv == nil || mv.Key == nil {
					continue
				}
				k := mv.Key.GetToken()
				if k == nil {
					continue
				}
				tk := topKey{line: nodeLine(mv.Key)}
				switch v := mv.Value.(type) {
				case *ast.StringNode:
					tk.value = v.Value
				case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode:
					tk.value = v.GetToken().Value
				}
				if _, dup := out[k.Value]; !dup {
					out[k.Value] = tk
				}
			}
			return out // the first document decides; decode reports the others
		}
		return out
	}
	return tokenKeys(data)
}

// tokenKeys reads top-level keys from the lexer's tokens, which it
// produces for text the parser rejects.
func tokenKeys(data []byte) (out map[string]topKey) {
	out = map[string]topKey{}
	defer func() {
		// The lexer is third-party code fed arbitrary input, as parseYAML.
		if recover() != nil {
			out = map[string]topKey{}
		}
	}()
	tks := lexer.Tokenize(string(data))
	for i, tk := range tks {
		if tk.Position == nil || tk.Position.Column != 1 || i+1 >= len(tks) || tks[i+1].Type != token.MappingValueType {
			continue
		}
		if _, dup := out[tk.Value]; dup {
			continue
		}
		k := topKey{line: tk.Position.Line}
		if i+2 < len(tks) && tks[i+2].Position != nil && tks[i+2].Position.Line == tk.Position.Line {
			k.value = tks[i+2].Value
		}
		out[tk.Value] = k
	}
	return out
}

// wrongKind is one error, on the kind: line if there is one, when data is
// plainly another kind of definition than want (say a fault file given to
// deploy), instead of every key of it reported as unknown.
func wrongKind(name string, data []byte, want Kind) error {
	k, _ := ReadKind(name, data)
	if k == KindUnknown || k == want {
		return nil
	}
	msg := fmt.Sprintf("this is %s; %s (kind: %s) is wanted here", k.Describe(), want.Describe(), want.Name())
	if want == KindExperiment && (k == KindSystem || k == KindFaults) {
		// The likely mix-up: a file an experiment refers to given alone.
		msg += fmt.Sprintf(": name the file in an experiment's %s: key", map[Kind]string{KindSystem: "system", KindFaults: "faults"}[k])
	}
	return ErrorList{{File: name, Line: topLevelKeys(data)["kind"].line, Field: "kind", Msg: msg}}
}

// Describe names the kind with its article: "a system definition", "an
// experiment".
func (k Kind) Describe() string {
	switch k {
	case KindSystem:
		return "a system definition"
	case KindFaults:
		return "a fault definition"
	case KindExperiment:
		return "an experiment"
	case KindCampaign:
		return "a campaign"
	}
	return "an unknown definition"
}
