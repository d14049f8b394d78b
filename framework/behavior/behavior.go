package behavior

import (
	"fmt"
	"slices"
	"strings"
)

// Behavior is the parameter struct of one fault behaviour.
type Behavior interface {
	// Kind is the behaviour's name as written in fault files and on the
	// agent's wire, e.g. "net-delay".
	Kind() string
	// Validate returns every problem with the parameters, nil when there
	// is none.
	Validate() []Problem
}

// Problem is one thing wrong with a behaviour's parameters. Field is the
// parameter's name as written ("time", "on"), so that a caller can place it:
// spec prefixes the behaviour's path and adds the file's line, the agent
// names it in its error.
type Problem struct {
	Field string
	Msg   string
}

// String formats the problem as "field: message".
func (p Problem) String() string {
	if p.Field == "" {
		return p.Msg
	}
	return p.Field + ": " + p.Msg
}

// problems collects the Problems of one Validate.
type problems []Problem

func (ps *problems) add(field, format string, args ...any) {
	*ps = append(*ps, Problem{Field: field, Msg: fmt.Sprintf(format, args...)})
}

// percent wants x in (0, 100]: a behaviour at 0% would do nothing.
func (ps *problems) percent(field string, x Percent) {
	if !(x > 0 && x <= 100) { // also catches NaN
		ps.add(field, "%s is %v; want more than 0 and at most 100", field, float64(x))
	}
}

func (ps *problems) link(l Link) {
	switch l {
	case "", LinkIngress, LinkDB:
	default:
		ps.add("on", "unknown link %q; want %s (the service's own port) or %s (a storage service's database link)", l, LinkIngress, LinkDB)
	}
}

func (ps *problems) method(kind, m string, known []string) {
	if m != "" && !slices.Contains(known, m) {
		ps.add("method", "unknown %s method %q%s; want one of %s", kind, m, DidYouMean(m, known), strings.Join(known, ", "))
	}
}

// Link is where a network behaviour acts.
type Link string

// Links. LinkIngress is the service's own port as its callers see it;
// LinkDB is a storage service's connection to its database (the published
// "deep" scenario).
const (
	LinkIngress Link = "ingress"
	LinkDB      Link = "db"
)

// Networked is a behaviour that acts on a network link.
type Networked interface {
	Behavior
	// Link returns where the behaviour acts; LinkIngress when unset.
	Link() Link
}

func linkOrDefault(l Link) Link {
	if l == "" {
		return LinkIngress
	}
	return l
}
