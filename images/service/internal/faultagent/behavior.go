package faultagent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"

	"github.com/vecrosim/vecro/framework/agent"
	"github.com/vecrosim/vecro/framework/behavior"
)

// behaviour is one fault behaviour, parsed and ready to be switched on. The
// schedule, the seed and the ground-truth record are handled once around it
// (agent.go); a behaviour only acts and counts.
type behaviour interface {
	// start switches the behaviour on and returns once it is in effect.
	start() error
	// stop switches it off and returns once it is gone. It is called at
	// most once, and only after start succeeded.
	stop()
	// effect reports what the behaviour did so far, by name; it is safe to
	// call at any time, concurrently with the behaviour acting.
	effect() map[string]float64
}

// kind parses one behaviour's parameters. scope is the overlap key: two
// pending or active faults with the same scope may not overlap in time.
type kind struct {
	parse func(a *Agent, f agent.Fault) (b behaviour, scope string, err error)
}

// kinds are the behaviours an agent knows, by their name in fault files.
var kinds = map[string]kind{
	new(behavior.NetDelay).Kind():  {parse: parseNetDelay},
	new(behavior.NetLoss).Kind():   {parse: parseNetLoss},
	new(behavior.NetRate).Kind():   {parse: parseNetRate},
	new(behavior.CPUStress).Kind(): {parse: parseCPUStress},
	new(behavior.IOStress).Kind():  {parse: parseIOStress},
	new(behavior.MemStress).Kind(): {parse: parseMemStress},
	new(behavior.HTTPAbort).Kind(): {parse: parseHTTPAbort},
}

func knownKinds() string {
	names := make([]string, 0, len(kinds))
	for n := range kinds {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// compactParams checks that params are one JSON object (or absent) and
// returns it compacted, so that identical pushes compare equal byte for byte.
func compactParams(raw json.RawMessage) (json.RawMessage, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return json.RawMessage("{}"), nil
	}
	if trimmed[0] != '{' {
		return nil, fmt.Errorf("want a JSON object, got %.40s", trimmed)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, trimmed); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// decodeParams decodes a behaviour's parameters strictly (an unknown field
// is an error, so a typo cannot silently become a default) and checks them
// with the behaviour's own Validate, the rules spec applied to the fault
// file: a harness built from other code, or none, gets the same answer.
func decodeParams(raw json.RawMessage, into behavior.Behavior) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return fmt.Errorf("params: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("params: trailing data after the JSON object")
	}
	ps := into.Validate()
	if len(ps) == 0 {
		return nil
	}
	// Spec's messages contain "; " themselves, so the problems are
	// joined with something a reader can tell apart.
	msgs := make([]string, len(ps))
	for i, p := range ps {
		msgs[i] = p.String()
	}
	return errors.New(strings.Join(msgs, "; also "))
}

// lockedRand is a seeded generator shared by the goroutines of one fault.
type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

func newLockedRand(s1, s2 uint64) *lockedRand {
	return &lockedRand{r: rand.New(rand.NewPCG(s1, s2))}
}

// with runs fn with exclusive use of the generator.
func (l *lockedRand) with(fn func(r *rand.Rand)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fn(l.r)
}
