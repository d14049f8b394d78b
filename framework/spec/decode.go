package spec

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"

	"github.com/vecrosim/vecro/framework/behavior"
)

// decoder turns a YAML AST into the spec types field by field. It walks the
// AST itself, rather than calling yaml.Unmarshal, so that it can report
// every bad field with its line (not only the first), know which fields were
// present, and read the seed's unit spellings.
type decoder struct {
	file    string
	errs    ErrorList
	meta    *fileMeta
	anchors map[string]ast.Node
	// budget bounds the work of one file: aliases and merge keys can make
	// a small file expand exponentially ("billion laughs").
	budget int
	// deepMerge is set once too deep a merge was reported.
	deepMerge bool
}

// maxMergeDepth bounds merge keys that merge mappings with merge keys.
const maxMergeDepth = 8

// maxDecodeSteps is far above what any real definition needs (the social
// system takes about 400 steps).
const maxDecodeSteps = 100_000

// spend takes n steps from the budget and reports whether any was left;
// the first overdraft is reported as an error.
func (d *decoder) spend(n int, at ast.Node) bool {
	if d.budget <= 0 {
		return false
	}
	d.budget -= n
	if d.budget <= 0 {
		d.errorf(nodeLine(at), "", "the document expands to more than %d values through aliases or merge keys", maxDecodeSteps)
		return false
	}
	return true
}

func (d *decoder) errorf(line int, field, format string, args ...any) {
	switch {
	case len(d.errs) > maxDecodeErrors:
		return
	case len(d.errs) == maxDecodeErrors:
		d.errs = append(d.errs, &Error{File: d.file, Line: line, Msg: "too many errors; the rest are not shown"})
		return
	}
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// maxDecodeErrors caps the list for a file that is not a definition at all.
const maxDecodeErrors = 100

// fail records a decoding error on the field at path and marks it bad.
func (d *decoder) fail(n ast.Node, path, format string, args ...any) {
	d.meta.bad[path] = true
	d.errorf(nodeLine(n), d.meta.display(path), format, args...)
}

// decodeFile parses data as one YAML document and decodes it into out (a
// pointer to System or FaultFile). ok is false when nothing could be decoded.
func decodeFile(name string, data []byte, out any) (*decoder, bool) {
	d := newDecoder(name)
	f, err := parseYAML(data)
	if err != nil {
		d.errs = append(d.errs, syntaxError(name, err))
		return d, false
	}
	var docs []ast.Node
	for _, doc := range f.Docs {
		if doc != nil && doc.Body != nil {
			docs = append(docs, doc.Body)
		}
	}
	switch {
	case len(docs) == 0:
		d.errorf(0, "", "empty file: want a YAML mapping")
		return d, false
	case len(docs) > 1:
		d.errorf(nodeLine(docs[1]), "", "more than one YAML document: put one definition per file")
		return d, false
	}
	ast.Walk(anchorCollector(d.anchors), docs[0])
	body := d.resolve(docs[0])
	if _, isMap := body.(*ast.MappingNode); !isMap {
		d.errorf(nodeLine(docs[0]), "", "want a YAML mapping with %s at the top", topKeys(out))
		return d, false
	}
	d.decode(body, reflect.ValueOf(out).Elem(), "", fieldOpts{})
	return d, true
}

// newDecoder returns a decoder for a file called name.
func newDecoder(name string) *decoder {
	return &decoder{
		file:    name,
		meta:    &fileMeta{lines: map[string]int{}, bad: map[string]bool{}, written: map[string]string{}},
		anchors: map[string]ast.Node{},
		budget:  maxDecodeSteps,
	}
}

// decodeNode decodes a mapping written inside another file (an experiment's
// inline system) into out: its field paths start at the mapping, its lines
// are the enclosing file's.
func decodeNode(name string, n ast.Node, out any) *decoder {
	d := newDecoder(name)
	ast.Walk(anchorCollector(d.anchors), n)
	d.decode(n, reflect.ValueOf(out).Elem(), "", fieldOpts{})
	return d
}

func topKeys(out any) string {
	if _, ok := out.(*System); ok {
		return "name and services"
	}
	return "name and faults"
}

// fieldOpts are a struct field's `vecro` tag options.
type fieldOpts struct {
	required bool
	// or names a field that, when set, stands in for a required one.
	or    string
	alias string
	// bareMS: a bare number is milliseconds (the original's workload delay).
	bareMS bool
}

// field is one YAML field of a struct.
type field struct {
	name  string
	index int
	opts  fieldOpts
}

// structFields lists a struct's YAML fields: the name from the yaml tag and
// the options of the vecro tag used in types.go — "required" (an error when
// absent), "or=NAME" (with required: unless the field NAME is set, e.g.
// a campaign's system or systems), "ms" (a bare number is milliseconds)
// and "alias=NAME" (a second accepted key, e.g. mem for memory).
func structFields(t reflect.Type) []field {
	var out []field
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if !sf.IsExported() || name == "-" || name == "" {
			continue
		}
		f := field{name: name, index: i}
		for o := range strings.SplitSeq(sf.Tag.Get("vecro"), ",") {
			switch {
			case o == "required":
				f.opts.required = true
			case o == "ms":
				f.opts.bareMS = true
			case strings.HasPrefix(o, "alias="):
				f.opts.alias = strings.TrimPrefix(o, "alias=")
			case strings.HasPrefix(o, "or="):
				f.opts.or = strings.TrimPrefix(o, "or=")
			}
		}
		out = append(out, f)
	}
	return out
}

var (
	typeDuration = reflect.TypeFor[Duration]()
	typeSize     = reflect.TypeFor[Size]()
	typeRate     = reflect.TypeFor[Rate]()
	typeMilliCPU = reflect.TypeFor[MilliCPU]()
	typePercent  = reflect.TypeFor[Percent]()
)

// decode reads n into v, whose field path is path.
func (d *decoder) decode(n ast.Node, v reflect.Value, path string, opts fieldOpts) {
	if !d.spend(1, n) {
		return
	}
	raw := n
	n = d.resolve(n)
	if a, ok := n.(*ast.AliasNode); ok {
		d.fail(a, path, "unknown alias %q", a.Value.String())
		return
	}
	if n == nil {
		// A null pointer-to-struct is the thing present with its defaults
		// ("io-stress:" with nothing under it); other nulls are absent.
		if v.Kind() == reflect.Pointer && v.Type().Elem().Kind() == reflect.Struct {
			v.Set(reflect.New(v.Type().Elem()))
			if raw != nil {
				d.meta.lines[path] = nodeLine(raw)
			}
			d.decodeStruct(nil, raw, v.Elem(), path)
		}
		return
	}
	d.meta.lines[path] = nodeLine(n)

	switch v.Type() {
	case typeDuration:
		if s, ok := d.scalar(n, path, "a duration such as \"30s\" or \"2min\""); ok {
			bare := time.Duration(0)
			if opts.bareMS {
				bare = time.Millisecond
			}
			x, err := behavior.ParseDurationIn(s, bare)
			if err != nil {
				d.fail(n, path, "%v", err)
				return
			}
			v.SetInt(int64(x))
		}
		return
	case typeSize:
		d.unit(n, v, path, "a size such as \"16MiB\"", func(s string) (int64, error) { x, err := ParseSize(s); return int64(x), err })
		return
	case typeMilliCPU:
		d.unit(n, v, path, "a CPU amount such as \"700m\" or \"0.5\"", func(s string) (int64, error) { x, err := ParseMilliCPU(s); return int64(x), err })
		return
	case typeRate:
		if s, ok := d.scalar(n, path, "a rate such as \"1mbit\""); ok {
			x, err := ParseRate(s)
			if err != nil {
				d.fail(n, path, "%v", err)
				return
			}
			v.SetFloat(float64(x))
		}
		return
	case typeRef:
		d.decodeRef(n, v, path)
		return
	case typePercent:
		if s, ok := d.scalar(n, path, "a percentage such as 50"); ok {
			x, err := ParsePercent(s)
			if err != nil {
				d.fail(n, path, "%v", err)
				return
			}
			v.SetFloat(float64(x))
		}
		return
	}

	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path, opts)
	case reflect.Struct:
		m, ok := n.(*ast.MappingNode)
		if !ok {
			d.fail(n, path, "want a mapping of %s, got %s", fieldNames(v.Type()), describe(n))
			return
		}
		d.decodeStruct(m, n, v, path)
	case reflect.Slice:
		seq, ok := n.(*ast.SequenceNode)
		if !ok {
			d.fail(n, path, "want a list, got %s", describe(n))
			return
		}
		if len(seq.Values) == 0 {
			// "calls: []" is no calls: nil, as JSON and YAML read it back.
			v.SetZero()
			return
		}
		out := reflect.MakeSlice(v.Type(), len(seq.Values), len(seq.Values))
		for i, e := range seq.Values {
			d.decode(e, out.Index(i), fmt.Sprintf("%s[%d]", path, i), fieldOpts{})
		}
		v.Set(out)
	case reflect.String:
		if s, ok := d.scalar(n, path, "a string"); ok {
			v.SetString(s)
		}
	case reflect.Bool:
		if s, ok := d.scalar(n, path, "true or false"); ok {
			x, err := strconv.ParseBool(strings.TrimSpace(s))
			if err != nil {
				d.fail(n, path, "want true or false, got %q", s)
				return
			}
			v.SetBool(x)
		}
	case reflect.Float64:
		if s, ok := d.scalar(n, path, "a number"); ok {
			x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
				d.fail(n, path, "want a number, got %q", s)
				return
			}
			v.SetFloat(x)
		}
	case reflect.Int, reflect.Int64:
		if s, ok := d.scalar(n, path, "an integer"); ok {
			x, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			if err != nil || (v.Kind() == reflect.Int && int64(int(x)) != x) {
				d.fail(n, path, "want an integer, got %q", s)
				return
			}
			v.SetInt(x)
		}
	default:
		// Only reachable if types.go gains a field kind decode does not know.
		d.fail(n, path, "cannot decode into %s", v.Type())
	}
}

// unit decodes an integer-backed unit type with parse.
func (d *decoder) unit(n ast.Node, v reflect.Value, path, want string, parse func(string) (int64, error)) {
	if s, ok := d.scalar(n, path, want); ok {
		x, err := parse(s)
		if err != nil {
			d.fail(n, path, "%v", err)
			return
		}
		v.SetInt(x)
	}
}

// scalar returns the text of a scalar node, or records that path wanted
// a scalar (want) and got something else.
func (d *decoder) scalar(n ast.Node, path, want string) (string, bool) {
	switch x := n.(type) {
	case *ast.StringNode:
		return x.Value, true
	case *ast.LiteralNode:
		if x.Value != nil {
			return strings.TrimSpace(x.Value.Value), true
		}
		return "", true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		if tk := n.GetToken(); tk != nil {
			return tk.Value, true
		}
	}
	d.fail(n, path, "want %s, got %s", want, describe(n))
	return "", false
}

func fieldNames(t reflect.Type) string {
	fs := structFields(t)
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.name
	}
	return strings.Join(names, ", ")
}

// entry is one key of a mapping after merge keys ("<<") are expanded.
type entry struct {
	key   string
	keyN  ast.Node
	value ast.Node
}

// entries lists m's keys, with those merged in through "<<: *anchor" first
// and overridden by keys written in m itself, as YAML's merge key specifies.
func (d *decoder) entries(m *ast.MappingNode, path string, depth int) []entry {
	var own, merged []entry
	if !d.spend(len(m.Values)+1, m) {
		return nil
	}
	for _, mv := range m.Values {
		if mv == nil || mv.Key == nil {
			continue
		}
		if mv.Key.IsMergeKey() {
			if depth > maxMergeDepth {
				if !d.deepMerge {
					d.deepMerge = true
					d.fail(mv.Key, path, "merge keys (<<) nested more than %d deep", maxMergeDepth)
				}
				continue
			}
			v := d.resolve(mv.Value)
			var srcs []ast.Node
			if seq, ok := v.(*ast.SequenceNode); ok {
				srcs = seq.Values
			} else {
				srcs = []ast.Node{v}
			}
			for _, s := range srcs {
				sm, ok := d.resolve(s).(*ast.MappingNode)
				if !ok {
					d.fail(mv.Key, path, "merge key (<<) wants a mapping or a list of mappings, got %s", describe(d.resolve(s)))
					continue
				}
				merged = append(merged, d.entries(sm, path, depth+1)...)
			}
			continue
		}
		k := d.resolve(mv.Key)
		var key string
		switch x := k.(type) {
		case *ast.StringNode:
			key = x.Value
		case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode:
			key = x.GetToken().Value
		default:
			d.fail(mv.Key, path, "want a plain key, got %s", describe(k))
			continue
		}
		own = append(own, entry{key: key, keyN: mv.Key, value: mv.Value})
	}
	seen := map[string]bool{}
	for _, e := range own {
		seen[e.key] = true
	}
	out := make([]entry, 0, len(own)+len(merged))
	for _, e := range merged {
		if !seen[e.key] {
			seen[e.key] = true
			out = append(out, e)
		}
	}
	return append(out, own...)
}

// decodeStruct fills v from m (nil: the struct was written as null at
// node at). Unknown keys are errors with a did-you-mean; missing required
// keys are errors on the mapping's line.
func (d *decoder) decodeStruct(m *ast.MappingNode, at ast.Node, v reflect.Value, path string) {
	fields := structFields(v.Type())
	byName := map[string]field{}
	var known []string
	for _, f := range fields {
		byName[f.name] = f
		known = append(known, f.name)
		if f.opts.alias != "" {
			byName[f.opts.alias] = f
		}
	}
	setBy := map[int]entry{}
	// misspelt holds fields an unknown key looked like: "missing behaviors"
	// after "behaviours: unknown field (did you mean behaviors?)" is noise.
	misspelt := map[string]bool{}
	if m != nil {
		for _, e := range d.entries(m, path, 0) {
			f, ok := byName[e.key]
			if !ok {
				misspelt[behavior.Closest(e.key, known)] = true
				d.errorf(nodeLine(e.keyN), joinPath(d.meta.display(path), e.key), "unknown field%s; known: %s",
					behavior.DidYouMean(e.key, known), strings.Join(known, ", "))
				continue
			}
			fp := joinPath(path, f.name)
			if prev, dup := setBy[f.index]; dup {
				d.errorf(nodeLine(e.keyN), joinPath(d.meta.display(path), e.key), "%s is set twice (also as %q on line %d)",
					f.name, prev.key, nodeLine(prev.keyN))
				continue
			}
			setBy[f.index] = e
			if e.key != f.name {
				d.meta.written[fp] = joinPath(d.meta.display(path), e.key)
			}
			d.decode(e.value, v.Field(f.index), fp, f.opts)
			if _, present := d.meta.lines[fp]; !present {
				// Written as null ("time:"): a required field is still missing.
				d.meta.lines[fp] = nodeLine(e.keyN)
				if f.opts.required {
					d.fail(e.keyN, fp, "is empty")
				}
			}
		}
	}
	for _, f := range fields {
		if _, ok := setBy[f.index]; ok || !f.opts.required {
			continue
		}
		want := f.name
		if f.opts.or != "" {
			if alt, ok := byName[f.opts.or]; ok {
				if _, set := setBy[alt.index]; set {
					continue
				}
			}
			if misspelt[f.opts.or] {
				continue
			}
			want += " (or " + f.opts.or + ")"
		}
		fp := joinPath(path, f.name)
		d.meta.bad[fp] = true
		if misspelt[f.name] {
			continue
		}
		line := nodeLine(at)
		if m != nil {
			line = nodeLine(m)
		}
		d.errorf(line, d.meta.display(path), "missing %s", want)
	}
}
