package spec

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/vecrosim/vecro/framework/behavior"
)

// targets resolves the targets list against the system.
func (p *campaignParser) targets() {
	c, sys := p.c, p.cf.System
	if len(p.doc.Targets) == 0 {
		c.add("targets", "no targets: name services, all, or a selector such as {role: leaf}")
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
			p.cf.Targets[k].Named = p.cf.Targets[k].Named || named
			return
		}
		chosen[svc] = len(p.cf.Targets)
		p.cf.Targets = append(p.cf.Targets, CampaignTarget{Service: svc, Named: named})
	}
	namedAt := map[string]int{}
	p.namedAt = namedAt
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
				c.add(path, "target %q is not a service of system %q%s", r.Path, sys.Name, behavior.DidYouMean(r.Path, append([]string{"all"}, names...)))
			default:
				if j, dup := namedAt[r.Path]; dup {
					c.add(path, "%q is named twice (also targets[%d], line %d)", r.Path, j, c.meta.line(fmt.Sprintf("targets[%d]", j)))
					continue
				}
				namedAt[r.Path] = i
				add(r.Path, true)
			}
			continue
		}
		sel, ok := p.selector(path, r)
		if !ok {
			continue
		}
		matched := sys.selectServices(sel)
		if len(matched) == 0 {
			c.add(path, "%s selects no service of system %q", sel, sys.Name)
			continue
		}
		for _, s := range matched {
			add(s, false)
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
