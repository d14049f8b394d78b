package faultagent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/stream"
	"github.com/Shopify/toxiproxy/v2/toxics"

	"github.com/vecrosim/vecro/framework/agent"
	"github.com/vecrosim/vecro/framework/behavior"
)

// linkName is where a network behaviour acts (behavior.Link).
type linkName = behavior.Link

// proxyLink is one embedded Toxiproxy proxy: a TCP proxy (on: db) or the
// toxic collection of the service port's own connections (on: ingress, in
// set; see ingress.go).
type proxyLink struct {
	name  linkName
	proxy *toxiproxy.Proxy
	in    *ingress
	once  sync.Once
	// unwatch stops the context watch that would stop the proxy.
	unwatch func() bool
}

func (p *proxyLink) stop() {
	p.once.Do(func() {
		if p.in != nil {
			p.in.close()
			return
		}
		p.unwatch()
		p.proxy.Stop()
	})
}

// FrontDB starts a proxy on 127.0.0.1 (a free port) in front of a storage
// service's database at dbAddr and returns the proxy's address, which the
// service must dial instead of the database. Faults "on: db" act here.
func (a *Agent) FrontDB(ctx context.Context, dbAddr string) (string, error) {
	return a.startProxy(ctx, behavior.LinkDB, "127.0.0.1:0", dbAddr)
}

func (a *Agent) startProxy(ctx context.Context, link linkName, listen, upstream string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return "", fmt.Errorf("%s proxy: agent is closed", link)
	}
	if _, ok := a.proxies[link]; ok {
		return "", fmt.Errorf("%s proxy: already started", link)
	}
	if upstream == "" {
		return "", fmt.Errorf("%s proxy: no upstream address", link)
	}
	p := toxiproxy.NewProxy(a.tp, string(link), listen, upstream)
	if err := p.Start(); err != nil {
		return "", fmt.Errorf("%s proxy: listen on %s for %s: %w", link, listen, upstream, err)
	}
	pl := &proxyLink{name: link, proxy: p}
	pl.unwatch = context.AfterFunc(ctx, pl.stop)
	a.proxies[link] = pl
	a.log.Info("proxy started", "link", link, "listen", p.Listen, "upstream", upstream)
	return p.Listen, nil
}

// decodeLinked decodes f's parameters into p, a network behaviour's, and
// returns the proxy of the link they name and the key the behaviour goes
// by on it (behaviour/link).
func (a *Agent) decodeLinked(f agent.Fault, p interface {
	behavior.Behavior
	Link() behavior.Link
}) (*proxyLink, string, error) {
	if err := decodeParams(f.Params, p); err != nil {
		return nil, "", err
	}
	link := p.Link()
	proxy, err := a.proxyFor(link)
	if err != nil {
		return nil, "", err
	}
	return proxy, f.Behavior + "/" + string(link), nil
}

// proxyFor returns the proxy of a link, or an error naming what is missing.
func (a *Agent) proxyFor(link linkName) (*proxyLink, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	p, ok := a.proxies[link]
	if !ok {
		if link == behavior.LinkDB {
			return nil, errors.New(`this instance has no database link (on: db is for storage types)`)
		}
		return nil, fmt.Errorf("this instance has no %s proxy", link)
	}
	return p, nil
}

// Toxic type names in Toxiproxy's registry.
const (
	toxicDelay = "vecro-net-delay"
	toxicLoss  = "vecro-net-loss"
	toxicRate  = "vecro-net-rate"
)

var registerOnce sync.Once

// registerToxics puts this package's toxics in Toxiproxy's registry: once per
// process, when the first agent is made, rather than in an init function.
func registerToxics() {
	registerOnce.Do(func() {
		toxics.Register(toxicDelay, new(delayToxic))
		toxics.Register(toxicLoss, new(lossToxic))
		toxics.Register(toxicRate, new(rateToxic))
	})
}

// Toxiproxy makes a toxic by reflection and fills it from JSON, so a toxic
// cannot be handed a pointer. Instead its JSON carries a handle that its
// UnmarshalJSON resolves here, before the toxic is attached to any link.
// Setting a field on the toxic AddToxicJson returns would be too late: the
// links already run it by then. The map is process-wide because Toxiproxy's
// registry is; handles are unique across agents. What this relies on in
// Toxiproxy is pinned, with its version, by toxiproxy_contract_test.go.
var (
	bindings   sync.Map // handle string → binding
	nextHandle atomic.Uint64
)

// binding is what a toxic acts for: a fault's runtime and the direction it
// was attached to.
type binding struct {
	run any
	dir stream.Direction
}

// toxicAttrs is the JSON of every toxic of this package.
type toxicAttrs struct {
	Handle string `json:"handle"`
}

func resolve(data []byte) (binding, error) {
	var attrs toxicAttrs
	if err := json.Unmarshal(data, &attrs); err != nil {
		return binding{}, err
	}
	b, ok := bindings.Load(attrs.Handle)
	if !ok {
		return binding{}, fmt.Errorf("toxic handle %q is not bound", attrs.Handle)
	}
	return b.(binding), nil
}

// netToxic is a toxic of one fault attached to one direction of a proxy.
type netToxic struct {
	proxy  *proxyLink
	name   string
	handle string
}

// attach binds run to a new handle and adds a toxic of type typ carrying it
// to the proxy, in direction dir. Existing and new connections get it.
func attach(p *proxyLink, name, typ string, dir stream.Direction, run any) (netToxic, error) {
	h := strconv.FormatUint(nextHandle.Add(1), 10)
	bindings.Store(h, binding{run: run, dir: dir})
	body, err := json.Marshal(map[string]any{
		"name":       name,
		"type":       typ,
		"stream":     dir.String(),
		"toxicity":   1.0,
		"attributes": toxicAttrs{Handle: h},
	})
	if err != nil {
		bindings.Delete(h)
		return netToxic{}, err
	}
	if p.in != nil {
		p.in.attached()
	}
	if _, err := p.proxy.Toxics.AddToxicJson(bytes.NewReader(body)); err != nil {
		bindings.Delete(h)
		if p.in != nil {
			p.in.detached()
		}
		return netToxic{}, fmt.Errorf("add toxic %s to the %s proxy: %w", name, p.name, err)
	}
	return netToxic{proxy: p, name: name, handle: h}, nil
}

// detach removes the toxic from every connection (flushing what it holds)
// and forgets its handle.
func (t netToxic) detach() {
	// The only error is "not found", which means it is already gone (and
	// already counted off).
	err := t.proxy.proxy.Toxics.RemoveToxic(context.Background(), t.name)
	bindings.Delete(t.handle)
	if err == nil && t.proxy.in != nil {
		t.proxy.in.detached()
	}
}

// toxicSet is what one network behaviour attached: its toxics, and the flag
// that tells them, before they are removed, to release what they hold.
type toxicSet struct {
	toxics   []netToxic
	stopping atomic.Bool
}

// attach adds one toxic of type typ acting for run in each direction; on
// failure it detaches what it attached.
func (s *toxicSet) attach(p *proxyLink, id, typ string, run any, dirs ...stream.Direction) error {
	for _, dir := range dirs {
		t, err := attach(p, id+"/"+dir.String(), typ, dir, run)
		if err != nil {
			s.detach()
			return err
		}
		s.toxics = append(s.toxics, t)
	}
	return nil
}

// stop flags the toxics to release what they hold and removes them.
func (s *toxicSet) stop() {
	s.stopping.Store(true)
	s.detach()
}

func (s *toxicSet) detach() {
	for _, t := range s.toxics {
		t.detach()
	}
	s.toxics = nil
}

// bound resolves a toxic's JSON to the fault runtime it acts for, of type T,
// and the direction it was attached to.
func bound[T any](data []byte) (*T, stream.Direction, error) {
	b, err := resolve(data)
	if err != nil {
		return nil, 0, err
	}
	run, ok := b.run.(*T)
	if !ok {
		return nil, 0, fmt.Errorf("toxic handle is bound to %T, not %T", b.run, run)
	}
	return run, b.dir, nil
}
