package spec

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// templates checks the fault templates and expands each into variants.
func (p *campaignParser) templates() {
	c := p.c
	if len(p.doc.Faults) == 0 {
		c.add("faults", "no fault templates: a campaign needs at least one")
		return
	}
	first := map[string]int{}
	p.checks = make([][]variantCheck, len(p.doc.Faults))
	for i, ft := range p.doc.Faults {
		path := fmt.Sprintf("faults[%d]", i)
		if j, dup := first[ft.Name]; dup && ft.Name != "" {
			c.add(path+".name", "duplicate fault name %q (first at faults[%d], line %d)", ft.Name, j, c.meta.line(fmt.Sprintf("faults[%d]", j)))
		} else {
			first[ft.Name] = i
		}
		t := FaultTemplate{Name: ft.Name, Mode: ft.Mode}
		if !c.meta.isBad(path + ".behaviors") {
			if !ft.Behaviors.Inline() {
				c.add(path+".behaviors", "want a mapping of behaviours such as {net-delay: {time: 100ms}}, got %q", ft.Behaviors.Path)
			} else {
				t.Variants = p.variants(i, ft)
			}
		}
		p.templ = append(p.templ, t)
	}
}

// MaxVariants bounds a template's strengths: at a minute a case, a
// thousand strengths on one target are already most of a day.
const MaxVariants = 1000

// axis is a parameter written as a list: one strength per item.
type axis struct {
	behavior, param string
	items           []ast.Node
}

// variants expands template i into one variant per combination of its
// lists, each checked through the fault file's own checks: a fault file
// with this one fault, decoded from the template with each list replaced
// by one of its items, so that the variant's problems carry the items'
// lines.
func (p *campaignParser) variants(i int, ft faultTemplateDoc) []Variant {
	path := fmt.Sprintf("faults[%d]", i)
	scan := p.subDecoder()
	root, ok := scan.resolve(ft.Behaviors.inline).(*ast.MappingNode)
	if !ok {
		return nil // decodeRef only makes an inline Ref of a mapping
	}
	var axes []axis
	for _, b := range scan.entries(root, path+".behaviors", 0) {
		bm, ok := scan.resolve(b.value).(*ast.MappingNode)
		if !ok {
			continue
		}
		for _, pe := range scan.entries(bm, path+".behaviors."+b.key, 0) {
			seq, ok := scan.resolve(pe.value).(*ast.SequenceNode)
			if !ok {
				continue
			}
			if len(seq.Values) == 0 {
				p.addOnce(&Error{File: p.cf.File, Line: nodeLine(pe.keyN), Field: fmt.Sprintf("%s.behaviors.%s.%s", path, b.key, pe.key),
					Msg: "an empty list of strengths: give one value, or a list of at least one"})
				return nil
			}
			axes = append(axes, axis{behavior: b.key, param: pe.key, items: seq.Values})
		}
	}
	for _, e := range scan.errs {
		p.addOnce(e)
	}
	n := 1
	for _, a := range axes {
		if n *= len(a.items); n > MaxVariants {
			p.c.add(path+".behaviors", "the lists make more than %d strengths: a campaign that size is a mistake, or several campaigns", MaxVariants)
			return nil
		}
	}

	var out []Variant
	choice := make([]int, len(axes))
	for {
		if v, ok := p.variant(i, ft, scan, root, axes, choice); ok {
			out = append(out, v)
		}
		// The next combination, the last list turning fastest.
		k := len(axes) - 1
		for ; k >= 0; k-- {
			choice[k]++
			if choice[k] < len(axes[k].items) {
				break
			}
			choice[k] = 0
		}
		if k < 0 {
			break
		}
	}
	strengths := map[string]bool{}
	for _, v := range out {
		if strengths[v.Strength] {
			p.c.add(path+".behaviors", "two strengths are both named %q in case ids: a list repeats a value, or two values differ only in what a directory name cannot hold", v.Strength)
			break
		}
		strengths[v.Strength] = true
	}
	return out
}

// caseFault is the index of the one fault in a variant's fault file.
const caseFault = "faults[0]"

// variant decodes and checks one combination of template i's lists; ok is
// false when it has problems (they are recorded).
func (p *campaignParser) variant(i int, ft faultTemplateDoc, scan *decoder, root *ast.MappingNode, axes []axis, choice []int) (Variant, bool) {
	picked := map[string]ast.Node{}
	var labels []string
	for k, a := range axes {
		n := a.items[choice[k]]
		picked[a.behavior+"\x00"+a.param] = n
		labels = append(labels, strengthLabel(scan.resolve(n)))
	}
	d := p.subDecoder()
	var b Behaviors
	d.decode(pick(scan, root, picked), reflect.ValueOf(&b).Elem(), caseFault+".behaviors", fieldOpts{})

	// Where the fault file's fields are in the campaign.
	cm, tp := p.c.meta, fmt.Sprintf("faults[%d]", i)
	where := map[string]string{
		caseFault:               tp,
		caseFault + ".name":     tp + ".name",
		caseFault + ".mode":     tp + ".mode",
		caseFault + ".start":    "fault-window.start",
		caseFault + ".target":   "targets",
		caseFault + ".duration": "fault-window.duration",
	}
	for f, at := range where {
		if l := cm.line(at); l > 0 {
			d.meta.lines[f] = l
		}
		if cm.isBad(at) {
			d.meta.bad[f] = true
		}
	}
	d.meta.bad["name"] = true
	d.meta.bad[caseFault+".target"] = true
	// relocate turns a fault file's field into the campaign's: a list's
	// item gets its index.
	relocate := func(e *Error) *Error {
		out := *e
		for k, a := range axes {
			if e.Field == fmt.Sprintf("%s.behaviors.%s.%s", caseFault, a.behavior, a.param) {
				out.Field += fmt.Sprintf("[%d]", choice[k])
			}
		}
		switch {
		case strings.HasPrefix(out.Field, caseFault+".start"), strings.HasPrefix(out.Field, caseFault+".duration"):
			out.Field = "fault-window" + strings.TrimPrefix(out.Field, caseFault)
		case strings.HasPrefix(out.Field, caseFault):
			out.Field = tp + strings.TrimPrefix(out.Field, caseFault)
		}
		return &out
	}

	ff := &FaultFile{File: p.cf.File, meta: d.meta, Name: "campaign", Faults: []Fault{{
		Name: ft.Name, Start: p.doc.FaultWindow.Start, Duration: p.doc.FaultWindow.Duration, Mode: ft.Mode, Behaviors: b,
	}}}
	errs := append(d.errs, ff.problems()...)
	for _, e := range errs {
		p.addOnce(relocate(e))
	}
	if len(errs) > 0 {
		return Variant{}, false
	}
	v := Variant{Strength: strings.Join(labels, "-"), Behaviors: b}
	p.checks[i] = append(p.checks[i], variantCheck{ff: ff, relocate: relocate})
	return v, true
}

// variantCheck is what variantSkips needs of a variant: its fault file,
// and how that file's problems are placed in the campaign.
type variantCheck struct {
	ff       *FaultFile
	relocate func(*Error) *Error
}

// variantSkips gives each system its copy of the templates, with the
// targets of that system each variant cannot act on in Variant.Skip; a
// named target's is an error, and so is a variant that no target of any
// system can take.
func (p *campaignParser) variantSkips() {
	type untaken struct {
		systems int
		reason  string
	}
	none := map[[2]int]*untaken{}
	loaded := 0
	for _, cs := range p.cf.Systems {
		cs.Faults = make([]FaultTemplate, len(p.templ))
		for ti, t := range p.templ {
			t.Variants = slices.Clone(t.Variants)
			cs.Faults[ti] = t
		}
		if cs.System == nil {
			continue
		}
		loaded++
		for ti := range cs.Faults {
			for vi := range cs.Faults[ti].Variants {
				v := &cs.Faults[ti].Variants[vi]
				if reason, all := p.skips(cs, v, p.checks[ti][vi]); all {
					u := none[[2]int{ti, vi}]
					if u == nil {
						u = &untaken{reason: reason}
						none[[2]int{ti, vi}] = u
					}
					u.systems++
				}
			}
		}
	}
	for ti, t := range p.templ {
		for vi, v := range t.Variants {
			u := none[[2]int{ti, vi}]
			if u == nil || u.systems < loaded {
				continue
			}
			what := "it"
			if v.Strength != "" {
				what = "strength " + v.Strength
			}
			field := fmt.Sprintf("faults[%d].behaviors", ti)
			p.addOnce(&Error{File: p.cf.File, Line: p.c.meta.line(field), Field: field,
				Msg: fmt.Sprintf("no target can take %s: %s", what, u.reason)})
		}
	}
}

// skips fills v.Skip for one system's targets; all is set, with the first
// reason, when the system has targets and v can act on none of them.
func (p *campaignParser) skips(cs *CampaignSystem, v *Variant, vc variantCheck) (reason string, all bool) {
	v.Skip = nil
	ff := *vc.ff
	ff.Faults = slices.Clone(vc.ff.Faults)
	var reasons []string
	for _, t := range cs.Targets {
		ff.Faults[0].Target = t.Service
		err := CheckFaults(&ff, cs.System)
		var list ErrorList
		if !errors.As(err, &list) {
			continue
		}
		for _, e := range list {
			if t.Named {
				e = vc.relocate(e)
				at := fmt.Sprintf("targets[%d]", p.namedAt[t.Service])
				e.Msg += fmt.Sprintf(", and %s (line %d) names it", at, p.c.meta.line(at))
				p.addOnce(e)
				continue
			}
			if v.Skip == nil {
				v.Skip = map[string]string{}
			}
			v.Skip[t.Service] = strings.TrimPrefix(strings.TrimPrefix(v.Skip[t.Service]+"; "+e.Msg, "; "), "; ")
			reasons = append(reasons, e.Msg)
		}
	}
	if len(cs.Targets) > 0 && len(v.Skip) == len(cs.Targets) {
		return reasons[0], true
	}
	return "", false
}

// pick copies a template's behaviours mapping with each list in picked
// (by behaviour and parameter) replaced by the chosen item; the nodes are
// the file's, so their lines are too.
func pick(d *decoder, root *ast.MappingNode, picked map[string]ast.Node) ast.Node {
	out := ast.Mapping(root.Start, root.IsFlowStyle)
	for _, b := range d.entries(root, "", 0) {
		key, ok := b.keyN.(ast.MapKeyNode)
		if !ok {
			continue
		}
		bm, ok := d.resolve(b.value).(*ast.MappingNode)
		if !ok {
			out.Values = append(out.Values, ast.MappingValue(b.keyN.GetToken(), key, b.value))
			continue
		}
		inner := ast.Mapping(bm.Start, bm.IsFlowStyle)
		for _, pe := range d.entries(bm, "", 0) {
			pk, ok := pe.keyN.(ast.MapKeyNode)
			if !ok {
				continue
			}
			v := pe.value
			if n, ok := picked[b.key+"\x00"+pe.key]; ok {
				v = n
			}
			inner.Values = append(inner.Values, ast.MappingValue(pe.keyN.GetToken(), pk, v))
		}
		out.Values = append(out.Values, ast.MappingValue(b.keyN.GetToken(), key, inner))
	}
	return out
}

// strengthLabel is an item of a strengths list as it goes into case ids:
// its text with "%" spelt pct and anything a directory name should not
// hold replaced by "_".
func strengthLabel(n ast.Node) string {
	s := ""
	if n != nil {
		if tk := n.GetToken(); tk != nil {
			s = tk.Value
		}
	}
	var b strings.Builder
	for _, r := range strings.TrimSpace(s) {
		switch {
		case r == '%':
			b.WriteString("pct")
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}
