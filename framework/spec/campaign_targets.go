package spec

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/vecrosim/vecro/framework/behavior"
)

// targets resolves the targets list against one of the campaign's
// systems. With several systems, a name or a selector that chooses nothing
// in this one is not a problem of its own (namedNowhere and the
// selectors' check below say when it chooses nothing in any).
func (p *campaignParser) targets(cs *CampaignSystem) {
	c, sys := p.c, cs.System
	if len(p.doc.Targets) == 0 {
		if cs == p.cf.Systems[0] {
			c.add("targets", "no targets: name services, all, or a selector such as {role: leaf}")
		}
		return
	}
	if sys == nil {
		return // the system's problems are reported; targets cannot be checked
	}
	names := make([]string, len(sys.Services))
	for i, s := range sys.Services {
		names[i] = s.Name
	}
	chosen := map[string]int{} // service → index in cf.Targets
	add := func(svc string, named bool) {
		if k, ok := chosen[svc]; ok {
			cs.Targets[k].Named = cs.Targets[k].Named || named
			return
		}
		chosen[svc] = len(cs.Targets)
		cs.Targets = append(cs.Targets, CampaignTarget{Service: svc, Named: named})
	}
	for i, r := range p.doc.Targets {
		path := fmt.Sprintf("targets[%d]", i)
		if c.meta.isBad(path) {
			continue
		}
		if !r.Inline() {
			switch {
			case r.Path == "all":
				for _, s := range sys.Services {
					add(s.Name, false)
				}
			case sys.Service(r.Path) == nil:
				if !p.multi {
					c.add(path, "target %q is not a service of system %q%s", r.Path, sys.Name, behavior.DidYouMean(r.Path, append([]string{"all"}, names...)))
				}
			default:
				if j := p.namedAt[r.Path]; j != i {
					p.addOnce(&Error{File: p.cf.File, Line: c.meta.line(path), Field: path,
						Msg: fmt.Sprintf("%q is named twice (also targets[%d], line %d)", r.Path, j, c.meta.line(fmt.Sprintf("targets[%d]", j)))})
					continue
				}
				add(r.Path, true)
			}
			continue
		}
		sel, ok := p.selector(path, r)
		if !ok {
			continue
		}
		matched := sys.selectServices(sel)
		if len(matched) == 0 && !p.multi {
			c.add(path, "%s selects no service of system %q", sel, sys.Name)
			continue
		}
		for _, s := range matched {
			add(s, false)
		}
	}
}

// nameTargets records where the targets list first names each service it
// names, whichever system has it.
func (p *campaignParser) nameTargets() {
	p.namedAt = map[string]int{}
	for i, r := range p.doc.Targets {
		if r.Inline() || r.Path == "all" || p.c.meta.isBad(fmt.Sprintf("targets[%d]", i)) {
			continue
		}
		if _, dup := p.namedAt[r.Path]; !dup {
			p.namedAt[r.Path] = i
		}
	}
}

// namedNowhere reports, for several systems, the targets that choose no
// service of any of them (a single system's are reported by targets).
func (p *campaignParser) namedNowhere() {
	if !p.multi {
		return
	}
	var names []string
	for _, cs := range p.cf.Systems {
		if cs.System == nil {
			return // a system's problems are reported; its services are unknown
		}
		names = append(names, cs.System.Name)
	}
	for i, r := range p.doc.Targets {
		path := fmt.Sprintf("targets[%d]", i)
		if p.c.meta.isBad(path) || (!r.Inline() && r.Path == "all") {
			continue
		}
		var sel targetSelector
		if r.Inline() {
			var ok bool
			if sel, ok = p.selector(path, r); !ok {
				continue
			}
		}
		found := false
		for _, cs := range p.cf.Systems {
			if r.Inline() {
				found = found || len(cs.System.selectServices(sel)) > 0
			} else {
				found = found || cs.System.Service(r.Path) != nil
			}
		}
		switch {
		case found:
		case r.Inline():
			p.c.add(path, "%s selects no service of any system (%s)", sel, strings.Join(names, ", "))
		default:
			p.c.add(path, "target %q is not a service of any system (%s)", r.Path, strings.Join(names, ", "))
		}
	}
}

// selector decodes a target written as a mapping and checks its values.
func (p *campaignParser) selector(path string, r Ref) (targetSelector, bool) {
	var sel targetSelector
	d := p.subDecoder()
	d.decode(r.inline, reflect.ValueOf(&sel).Elem(), path, fieldOpts{})
	for _, e := range d.errs {
		p.addOnce(e)
	}
	if len(d.errs) > 0 {
		return sel, false
	}
	c := &checker{file: p.cf.File, meta: d.meta}
	if sel.Type == "" && sel.Role == "" {
		c.add(path, "a selector needs type (%s) or role (%s)", typeNames(), strings.Join(TargetRoles, ", "))
	}
	if sel.Type != "" && !slices.Contains(ServiceTypes, sel.Type) {
		c.add(path+".type", "unknown type %q%s; want one of %s", sel.Type, behavior.DidYouMean(string(sel.Type), strings.Split(typeNames(), ", ")), typeNames())
	}
	if sel.Role != "" && !slices.Contains(TargetRoles, sel.Role) {
		c.add(path+".role", "unknown role %q%s; want one of %s", sel.Role, behavior.DidYouMean(sel.Role, TargetRoles), strings.Join(TargetRoles, ", "))
	}
	for _, e := range c.errs {
		p.addOnce(e)
	}
	return sel, len(c.errs) == 0
}

func typeNames() string {
	s := make([]string, len(ServiceTypes))
	for i, t := range ServiceTypes {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// String writes the selector as the file would: "{type: mongodb, role: leaf}".
func (s targetSelector) String() string {
	var parts []string
	if s.Type != "" {
		parts = append(parts, "type: "+string(s.Type))
	}
	if s.Role != "" {
		parts = append(parts, "role: "+s.Role)
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// selectServices returns the services a selector chooses, in file order.
func (s *System) selectServices(sel targetSelector) []string {
	callers := map[string]int{}
	for _, svc := range s.Services {
		for _, c := range svc.Calls {
			callers[c]++
		}
	}
	var out []string
	for _, svc := range s.Services {
		if sel.Type != "" && svc.Type != sel.Type {
			continue
		}
		ok := true
		switch sel.Role {
		case RoleLeaf:
			ok = len(svc.Calls) == 0
		case RoleStorage:
			ok = svc.Type.IsStorage()
		case RoleFanIn:
			ok = callers[svc.Name] >= 2
		case RoleEntry:
			ok = callers[svc.Name] == 0
		}
		if ok {
			out = append(out, svc.Name)
		}
	}
	return out
}
