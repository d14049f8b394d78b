package spec

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/vecrosim/vecro/framework/behavior"
	"github.com/vecrosim/vecro/framework/service"
)

// ServiceTypes lists the known service types in the seed's order.
var ServiceTypes = service.Types

// maxNameLen is Kubernetes' limit on a DNS label; a service's objects are
// named "<system>-<service>".
const maxNameLen = 63

// Validate checks a system definition: names, types, workload keys per
// type, units and ranges, callees and call cycles. ParseSystem and
// LoadSystem already call it; it is exported for systems built in Go.
func (s *System) Validate() error { return s.problems().err() }

// Validate checks a fault definition on its own (see CheckFaults for the
// checks against a system). ParseFaults and LoadFaults already call it.
func (ff *FaultFile) Validate() error { return ff.problems().err() }

// checker collects validation problems of one file.
type checker struct {
	file string
	meta *fileMeta
	errs ErrorList
}

// add records a problem on the field at path, unless decoding already
// reported that field.
func (c *checker) add(path, format string, args ...any) {
	if c.meta.isBad(path) {
		return
	}
	c.errs = append(c.errs, &Error{File: c.file, Line: c.meta.line(path), Field: c.meta.display(path), Msg: fmt.Sprintf(format, args...)})
}

// set reports whether a field is in use: written in the file or nonzero.
func (c *checker) set(path string, nonzero bool) bool {
	return nonzero || c.meta.present(path)
}

func (c *checker) apiVersion(v string) {
	if v != "" && v != APIVersion {
		c.add("apiVersion", "unsupported apiVersion %q: this vecro reads %s (or no apiVersion)", v, APIVersion)
	}
}

// kind checks a file's kind: key against the kind being read; absent
// is fine, as the original's files have none.
func (c *checker) kind(v string, want Kind) {
	if v == "" || v == want.Name() {
		return
	}
	if k, ok := ParseKind(v); ok {
		// Only a definition built from parts gets here: Parse* stop at
		// wrongKind first.
		c.add("kind", "this is %s; %s (kind: %s) is wanted here", k.Describe(), want.Describe(), want.Name())
		return
	}
	c.add("kind", "unknown kind %q%s; want %s (or no kind)", v, behavior.DidYouMean(v, kindNames), want.Name())
}

// dnsLabel checks that name can be part of a Kubernetes object name.
func (c *checker) dnsLabel(path, what, name string) bool {
	if msg := dnsLabelProblem(name); msg != "" {
		c.add(path, "%s %q %s", what, name, msg)
		return false
	}
	return true
}

// dnsLabelProblem explains why name is not an RFC 1123 DNS label, or
// returns "".
func dnsLabelProblem(name string) string {
	switch {
	case name == "":
		return "is empty"
	case len(name) > maxNameLen:
		return fmt.Sprintf("is %d characters long; names are at most %d", len(name), maxNameLen)
	}
	for i := range len(name) {
		ch := name[i]
		alnum := ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9'
		if !alnum && (ch != '-' || i == 0 || i == len(name)-1) {
			return "is not a valid name: use lower-case letters, digits and \"-\", starting and ending with a letter or digit (it becomes a Kubernetes DNS label)"
		}
	}
	return ""
}

func (s *System) problems() ErrorList {
	c := &checker{file: s.File, meta: s.meta}
	c.apiVersion(s.APIVersion)
	c.kind(s.Kind, KindSystem)
	sysOK := c.dnsLabel("name", "system name", s.Name)
	if s.Namespace != "" {
		c.dnsLabel("namespace", "namespace", s.Namespace)
	}
	if c.set("replicas", s.Replicas != 0) && s.Replicas < 1 {
		c.add("replicas", "replicas is %d; want at least 1", s.Replicas)
	}
	if len(s.Services) == 0 {
		c.add("services", "no services: a system needs at least one")
	}

	names := make([]string, 0, len(s.Services))
	first := map[string]int{}
	for i := range s.Services {
		svc := &s.Services[i]
		p := fmt.Sprintf("services[%d]", i)
		if c.dnsLabel(p+".name", "service name", svc.Name) && sysOK {
			if full := s.Name + "-" + svc.Name; len(full) > maxNameLen {
				c.add(p+".name", "%q (system-service) is %d characters long; Kubernetes names are at most %d", full, len(full), maxNameLen)
			}
		}
		if j, dup := first[svc.Name]; dup && svc.Name != "" {
			c.add(p+".name", "duplicate service name %q (first at services[%d], line %d)", svc.Name, j, c.meta.line(fmt.Sprintf("services[%d]", j)))
		} else if svc.Name != "" {
			first[svc.Name] = i
			names = append(names, svc.Name)
		}
		s.checkService(c, svc, p)
	}

	for i := range s.Services {
		svc := &s.Services[i]
		seen := map[string]bool{}
		for j, callee := range svc.Calls {
			p := fmt.Sprintf("services[%d].calls[%d]", i, j)
			switch {
			case seen[callee]:
				c.add(p, "%q is called twice", callee)
			case s.Service(callee) == nil:
				c.add(p, "unknown service %q%s", callee, behavior.DidYouMean(callee, names))
			}
			seen[callee] = true
		}
	}
	s.checkCycles(c)
	return c.errs
}

func (s *System) checkService(c *checker, svc *Service, p string) {
	typeOK := true
	if !slices.Contains(ServiceTypes, svc.Type) {
		typeOK = false
		types := make([]string, len(ServiceTypes))
		for i, t := range ServiceTypes {
			types[i] = string(t)
		}
		c.add(p+".type", "unknown type %q%s; want one of %s", svc.Type, behavior.DidYouMean(string(svc.Type), types), strings.Join(types, ", "))
	}
	if c.set(p+".replicas", svc.Replicas != 0) && svc.Replicas < 1 {
		c.add(p+".replicas", "replicas is %d; want at least 1", svc.Replicas)
	}
	switch svc.CallMode {
	case "", CallSequential, CallParallel:
	default:
		c.add(p+".call-mode", "unknown call-mode %q; want %s or %s", svc.CallMode, CallSequential, CallParallel)
	}
	r := p + ".resources"
	if c.set(r+".cpu", svc.Resources.CPU != 0) && svc.Resources.CPU <= 0 {
		c.add(r+".cpu", "cpu limit must be more than 0")
	}
	if c.set(r+".memory", svc.Resources.Memory != 0) && svc.Resources.Memory <= 0 {
		c.add(r+".memory", "memory limit must be more than 0")
	}

	w, wp := &svc.Workload, p+".workload"
	inUse := map[string]bool{
		"cpu":    c.set(wp+".cpu", w.CPU != 0),
		"io":     c.set(wp+".io", w.IO != 0),
		"net":    c.set(wp+".net", w.Net != 0),
		"memory": c.set(wp+".memory", w.Memory != 0),
		"read":   c.set(wp+".read", w.Read != 0),
		"write":  c.set(wp+".write", w.Write != 0),
		"delay":  c.set(wp+".delay", w.Delay != nil),
	}
	if typeOK {
		supported := svc.Type.WorkloadKeys()
		for _, k := range []string{"cpu", "io", "net", "memory", "read", "write", "delay"} {
			if inUse[k] && !slices.Contains(supported, k) {
				c.add(wp+"."+k, "type %s does not support workload %q (it supports %s)", svc.Type, k, strings.Join(supported, ", "))
			}
		}
	}
	for _, k := range []struct {
		name string
		x    int
	}{{"cpu", w.CPU}, {"io", w.IO}, {"net", w.Net}, {"read", w.Read}, {"write", w.Write}} {
		if k.x < 0 {
			c.add(wp+"."+k.name, "%s is %d; want 0 or more", k.name, k.x)
		}
	}
	if w.Memory < 0 {
		c.add(wp+".memory", "memory is negative")
	}
	if limit := svc.Limits().Memory; w.Memory > 0 && w.Memory >= limit {
		c.add(wp+".memory", "workload memory %s does not fit the memory limit %s (resources.memory)", w.Memory, limit)
	}
	if d := w.Delay; d != nil {
		if d.Time <= 0 {
			c.add(wp+".delay.time", "delay time is %s; want more than 0 (a bare number is milliseconds)", d.Time)
		}
		if d.Jitter < 0 {
			c.add(wp+".delay.jitter", "jitter is negative")
		}
	}
}

// checkCycles reports every call cycle once, at the call that closes it.
func (s *System) checkCycles(c *checker) {
	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(s.Services))
	var stack []int
	var visit func(i int)
	visit = func(i int) {
		color[i] = grey
		stack = append(stack, i)
		for j, callee := range s.Services[i].Calls {
			k := s.index(callee)
			if k < 0 {
				continue
			}
			switch color[k] {
			case white:
				visit(k)
			case grey:
				start := slices.Index(stack, k)
				cycle := make([]string, 0, len(stack)-start+1)
				for _, x := range stack[start:] {
					cycle = append(cycle, s.Services[x].Name)
				}
				cycle = append(cycle, callee)
				c.add(fmt.Sprintf("services[%d].calls[%d]", i, j), "call cycle: %s", strings.Join(cycle, " → "))
			}
		}
		stack = stack[:len(stack)-1]
		color[i] = black
	}
	for i := range s.Services {
		if color[i] == white {
			visit(i)
		}
	}
}

// index returns the position of the first service called name, or -1.
func (s *System) index(name string) int {
	return slices.IndexFunc(s.Services, func(x Service) bool { return x.Name == name })
}

// Service returns the service called name, or nil.
func (s *System) Service(name string) *Service {
	if i := s.index(name); i >= 0 {
		return &s.Services[i]
	}
	return nil
}

// ReplicasOf returns how many instances of service svc run: its own
// replicas, else the system's, else 1. An unknown service has 0.
func (s *System) ReplicasOf(svc string) int {
	x := s.Service(svc)
	switch {
	case x == nil:
		return 0
	case x.Replicas > 0:
		return x.Replicas
	case s.Replicas > 0:
		return s.Replicas
	}
	return 1
}

// EffectiveNamespace returns the namespace the system runs in: its
// namespace, else its name.
func (s *System) EffectiveNamespace() string {
	if s.Namespace != "" {
		return s.Namespace
	}
	return s.Name
}

// EntryServices returns the services no other service calls, in file
// order: where load goes.
func (s *System) EntryServices() []string {
	called := map[string]bool{}
	for _, svc := range s.Services {
		for _, c := range svc.Calls {
			called[c] = true
		}
	}
	var out []string
	for _, svc := range s.Services {
		if !called[svc.Name] {
			out = append(out, svc.Name)
		}
	}
	return out
}

// StartOrder returns every service once, each after all the services it
// calls, so that starting them in this order never leaves a caller waiting
// for a callee. Ties keep file order. (A cyclic system, which validation
// rejects, still gets every service once.)
func (s *System) StartOrder() []string {
	done := make([]bool, len(s.Services))
	out := make([]string, 0, len(s.Services))
	var visit func(i int)
	visit = func(i int) {
		done[i] = true
		for _, callee := range s.Services[i].Calls {
			if k := s.index(callee); k >= 0 && !done[k] {
				visit(k)
			}
		}
		out = append(out, s.Services[i].Name)
	}
	for i := range s.Services {
		if !done[i] {
			visit(i)
		}
	}
	return out
}

// Limits returns the service's resource limits with the original's
// defaults (DefaultCPULimit, DefaultMemoryLimit) filled in.
func (svc *Service) Limits() Resources {
	r := svc.Resources
	if r.CPU <= 0 {
		r.CPU = DefaultCPULimit
	}
	if r.Memory <= 0 {
		r.Memory = DefaultMemoryLimit
	}
	return r
}

// Mode returns the call mode, sequential when unset.
func (svc *Service) Mode() CallMode {
	if svc.CallMode == "" {
		return CallSequential
	}
	return svc.CallMode
}

func (ff *FaultFile) problems() ErrorList {
	c := &checker{file: ff.File, meta: ff.meta}
	c.apiVersion(ff.APIVersion)
	c.kind(ff.Kind, KindFaults)
	c.dnsLabel("name", "fault definition name", ff.Name)
	if ff.Namespace != "" {
		c.dnsLabel("namespace", "namespace", ff.Namespace)
	}
	if len(ff.Faults) == 0 {
		c.add("faults", "no faults: a fault definition needs at least one")
	}
	first := map[string]int{}
	for i := range ff.Faults {
		f := &ff.Faults[i]
		p := fmt.Sprintf("faults[%d]", i)
		c.dnsLabel(p+".name", "fault name", f.Name)
		if j, dup := first[f.Name]; dup && f.Name != "" {
			c.add(p+".name", "duplicate fault name %q (first at faults[%d], line %d)", f.Name, j, c.meta.line(fmt.Sprintf("faults[%d]", j)))
		} else {
			first[f.Name] = i
		}
		if f.Target == "" {
			c.add(p+".target", "target is empty")
		}
		if f.Start < 0 {
			c.add(p+".start", "start is %s; want 0 or more (an offset from the moment load starts)", f.Start)
		}
		if f.Duration <= 0 {
			c.add(p+".duration", "duration is %s; want more than 0", f.Duration)
		} else if f.Start >= 0 && f.End() < f.Start {
			c.add(p+".duration", "start + duration overflows")
		}
		checkMode(c, p+".mode", f.Mode)
		checkBehaviors(c, p+".behaviors", &f.Behaviors)
	}
	ff.checkOverlaps(c)
	return c.errs
}

func checkMode(c *checker, p string, m Mode) {
	switch m {
	case "", ModeAll, ModeOne:
		return
	}
	pct, err := m.Percent()
	if err != nil {
		c.add(p, "unknown mode %q; want all, one or a percentage such as \"50%%\"", m)
		return
	}
	if pct <= 0 || pct > 100 {
		c.add(p, "mode %q: the percentage must be more than 0 and at most 100", m)
	}
}

func checkBehaviors(c *checker, p string, b *Behaviors) {
	list := b.List()
	if len(list) == 0 {
		// Named from Behaviors' fields, so a new behaviour needs no edit here.
		c.add(p, "no behaviour: set one of %s", fieldNames(reflect.TypeFor[Behaviors]()))
	}
	for _, x := range list {
		q := p + "." + x.Kind()
		for _, pr := range x.Validate() {
			c.add(joinPath(q, pr.Field), "%s", pr.Msg)
		}
	}
	// Validate reads status 0 as unset (StatusCode's 503); only the file
	// can tell that "status: 0" was written, which is surely a mistake.
	if x := b.HTTPAbort; x != nil && x.Status == 0 && c.meta.present(p+".http-abort.status") {
		c.add(p+".http-abort.status", "status is %d; want an error status from 400 to 599", x.Status)
	}
}

// checkOverlaps rejects two faults whose windows overlap with the same
// behaviour on the same target: the agent would have to stack or pick one.
// Network behaviours on different links (ingress, db) do not conflict.
func (ff *FaultFile) checkOverlaps(c *checker) {
	type win struct {
		fault int
		start Duration
		end   Duration
	}
	byKey := map[string][]win{}
	var keys []string
	for i := range ff.Faults {
		f := &ff.Faults[i]
		if f.Duration <= 0 || f.Start < 0 || f.End() < f.Start {
			continue
		}
		for _, b := range f.Behaviors.List() {
			k := f.Target + "\x00" + behaviorKey(b)
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], win{i, f.Start, f.End()})
		}
	}
	for _, k := range keys {
		ws := byKey[k]
		slices.SortStableFunc(ws, func(a, b win) int { return cmp.Compare(a.start, b.start) })
		for i := 1; i < len(ws); i++ {
			// Compare with the latest-ending earlier window, so a long
			// fault that covers several later ones is reported for each.
			prev := ws[0]
			for _, w := range ws[1:i] {
				if w.end > prev.end {
					prev = w
				}
			}
			cur := ws[i]
			if cur.start < prev.end {
				a, b := &ff.Faults[prev.fault], &ff.Faults[cur.fault]
				_, beh, _ := strings.Cut(k, "\x00")
				c.add(fmt.Sprintf("faults[%d]", cur.fault), "%s on %q from %s to %s overlaps fault %q (faults[%d], %s to %s) with the same behaviour on the same target",
					beh, b.Target, cur.start, cur.end, a.Name, prev.fault, prev.start, prev.end)
			}
		}
	}
}

// behaviorKey names a behaviour for overlap checks; network behaviours
// include their link.
func behaviorKey(b Behavior) string {
	if n, ok := b.(Networked); ok {
		return b.Kind() + " (" + string(n.Link()) + ")"
	}
	return b.Kind()
}

// CheckFaults checks a fault definition against the system it targets: the
// namespace, that every target exists, and that "on: db" is used only on
// storage services. Problems are reported in ff's file.
func CheckFaults(ff *FaultFile, sys *System) error {
	if ff == nil || sys == nil {
		return fmt.Errorf("check faults: need both a fault definition and a system")
	}
	c := &checker{file: ff.File, meta: ff.meta}
	if ff.Namespace != "" && ff.Namespace != sys.EffectiveNamespace() {
		c.add("namespace", "namespace %q differs from namespace %q of system %s%s", ff.Namespace, sys.EffectiveNamespace(), sys.Name, behavior.DidYouMean(ff.Namespace, []string{sys.EffectiveNamespace()}))
	}
	names := make([]string, len(sys.Services))
	for i, s := range sys.Services {
		names[i] = s.Name
	}
	for i := range ff.Faults {
		f := &ff.Faults[i]
		p := fmt.Sprintf("faults[%d]", i)
		target := sys.Service(f.Target)
		if target == nil {
			c.add(p+".target", "target %q is not a service of system %q%s", f.Target, sys.Name, behavior.DidYouMean(f.Target, names))
			continue
		}
		for _, b := range f.Behaviors.List() {
			if n, ok := b.(Networked); ok && n.Link() == LinkDB && !target.Type.IsStorage() {
				c.add(p+".behaviors."+b.Kind()+".on", "on: db needs a storage service (mongodb, mysql, redis); %q is type %s", f.Target, target.Type)
			}
		}
	}
	return c.errs.err()
}

// End returns the fault's end as an offset from t0.
func (f *Fault) End() Duration { return f.Start + f.Duration }

// Targets returns the services the faults target, each once, in file order.
func (ff *FaultFile) Targets() []string {
	var out []string
	for _, f := range ff.Faults {
		if !slices.Contains(out, f.Target) {
			out = append(out, f.Target)
		}
	}
	return out
}

// End returns the latest fault end as an offset from t0: how long load must
// run to cover every fault.
func (ff *FaultFile) End() Duration {
	var end Duration
	for i := range ff.Faults {
		end = max(end, ff.Faults[i].End())
	}
	return end
}
