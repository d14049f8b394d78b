package faultagent

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/stream"
	"github.com/Shopify/toxiproxy/v2/toxics"
	"github.com/rs/zerolog"

	"github.com/vecrosim/vecro/internal/testutil"
)

// The network behaviours use Toxiproxy as a library, through its exported
// API only, and rely on what these tests pin. Toxiproxy documents its HTTP
// API, not these Go calls, so a version bump must pass them first: they
// fail on a version other than the one they were read against, and say so.
//
//   - AddToxicJson makes the toxic from the registry and decodes its
//     attributes into it (our UnmarshalJSON) before any link runs it. This is
//     why a toxic finds its fault through a handle in its JSON (proxy.go's
//     bindings): the toxic exists only inside AddToxicJson, and a link may
//     run it before AddToxicJson returns.
//   - A toxic added to a collection joins the links already started on it
//     (connections open when a fault starts get it) and the links started
//     after.
//   - Adding or removing a toxic interrupts the toxics of a link and runs
//     them again with the same per-connection state (StatefulToxic): the
//     reason holdPipe keeps what it holds in that state.
//   - StartLink runs a link on any reader and writer, for a proxy that never
//     listens: the ingress path (ingress.go).
//   - After RemoveToxic, bytes pass again.

// contractVersion is the Toxiproxy these tests were read against.
const contractVersion = "v2.12.0"

func TestToxiproxyContractVersion(t *testing.T) {
	// A test binary carries no module versions (debug.ReadBuildInfo lists
	// no Deps), so ask the go command what this module requires.
	out, err := exec.Command("go", "list", "-m", "-f", "{{if .Replace}}{{.Replace.Version}}{{else}}{{.Version}}{{end}}", "github.com/Shopify/toxiproxy/v2").Output()
	if err != nil {
		testutil.SkipOrFail(t, "go list -m: %v", err)
	}
	if v := strings.TrimSpace(string(out)); v != contractVersion {
		t.Fatalf("Toxiproxy is %s, the contract in this file was checked against %s: re-read AddToxicJson, StartLink, "+
			"ToxicLink.AddToxic/RemoveToxic and the stub's interrupt in the new version, then update contractVersion", v, contractVersion)
	}
}

// probeToxic passes chunks through and records what Toxiproxy did to it.
type probeToxic struct {
	Tag string `json:"tag"`
	log *probeLog
}

type probeLog struct {
	mu      sync.Mutex
	decoded []string // tags, as UnmarshalJSON saw them
	runs    int      // Pipe calls
	states  []any    // the state each Pipe call got
}

var (
	probeOnce sync.Once
	probes    sync.Map // tag → *probeLog
	// unbound counts Pipe calls on a toxic whose attributes were not
	// decoded yet.
	unbound atomic.Int64
)

const probeType = "vecro-contract-probe"

func (p *probeToxic) UnmarshalJSON(b []byte) error {
	var v struct {
		Tag string `json:"tag"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	l, _ := probes.LoadOrStore(v.Tag, &probeLog{})
	p.Tag, p.log = v.Tag, l.(*probeLog)
	p.log.mu.Lock()
	p.log.decoded = append(p.log.decoded, v.Tag)
	p.log.mu.Unlock()
	return nil
}

func (p *probeToxic) NewState() any { return new(int) }

func (p *probeToxic) Pipe(stub *toxics.ToxicStub) {
	if p.log == nil {
		unbound.Add(1)
		new(toxics.NoopToxic).Pipe(stub)
		return
	}
	p.log.mu.Lock()
	p.log.runs++
	p.log.states = append(p.log.states, stub.State)
	p.log.mu.Unlock()
	for {
		select {
		case <-stub.Interrupt:
			return
		case c := <-stub.Input:
			if c == nil {
				stub.Close()
				return
			}
			stub.Output <- c
		}
	}
}

func (l *probeLog) snapshot() (decoded []string, runs int, states []any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.decoded...), l.runs, append([]any(nil), l.states...)
}

func addProbe(t *testing.T, coll *toxiproxy.ToxicCollection, name, tag string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"name": name, "type": probeType, "stream": "upstream", "toxicity": 1.0, "attributes": map[string]string{"tag": tag}})
	if _, err := coll.AddToxicJson(bytes.NewReader(body)); err != nil {
		t.Fatalf("AddToxicJson %s: %v", name, err)
	}
}

// TestToxiproxyContract runs one link on a collection of a proxy that
// never listens, as ingress.go does, and adds and removes toxics on it.
func TestToxiproxyContract(t *testing.T) {
	probeOnce.Do(func() { toxics.Register(probeType, new(probeToxic)) })
	probes.Clear() // a run of its own under -count
	unbound.Store(0)
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	proxy := toxiproxy.NewProxy(srv, "contract", "127.0.0.1:0", "")

	// A link started before any toxic, on plain pipes.
	inR, inW := io.Pipe()
	var out syncBuffer
	proxy.Toxics.StartLink(srv, "contract-upstream", inR, &out, stream.Upstream)
	send := func(s string) {
		t.Helper()
		if _, err := inW.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
		out.waitFor(t, s)
	}
	send("before;")

	// The toxic is decoded, with its attributes, inside AddToxicJson, and
	// joins the running link.
	addProbe(t, proxy.Toxics, "a", "contract-a")
	la, _ := probes.Load("contract-a")
	a := la.(*probeLog)
	dec, _, _ := a.snapshot()
	if len(dec) != 1 || dec[0] != "contract-a" {
		t.Fatalf("UnmarshalJSON saw %q by the time AddToxicJson returned, want the attributes' tag once", dec)
	}
	send("with-a;")
	if _, runs, _ := a.snapshot(); runs != 1 {
		t.Fatalf("the running link ran the new toxic %d times, want 1", runs)
	}

	// A second toxic interrupts the first and runs it again with the same
	// per-connection state.
	addProbe(t, proxy.Toxics, "b", "contract-b")
	send("with-a-and-b;")
	_, runs, states := a.snapshot()
	if n := unbound.Load(); n != 0 {
		t.Fatalf("a link ran a toxic %d times before its attributes were decoded", n)
	}
	if runs < 2 {
		t.Fatalf("adding a toxic behind it did not run the first one again (%d runs)", runs)
	}
	for _, s := range states[1:] {
		if s != states[0] {
			t.Fatalf("the first toxic's state changed across runs: %p then %p", states[0], s)
		}
	}

	// A link started now gets both toxics from the start.
	in2R, in2W := io.Pipe()
	var out2 syncBuffer
	proxy.Toxics.StartLink(srv, "contract-upstream-2", in2R, &out2, stream.Upstream)
	if _, err := in2W.Write([]byte("second link;")); err != nil {
		t.Fatal(err)
	}
	out2.waitFor(t, "second link;")
	_, runs2, states2 := a.snapshot()
	if runs2 <= runs || states2[len(states2)-1] == states[0] {
		t.Fatalf("the link started later did not run the toxic with a state of its own (%d runs)", runs2)
	}

	// Removed, both; bytes still pass, and in order.
	for _, n := range []string{"a", "b"} {
		if err := proxy.Toxics.RemoveToxic(context.Background(), n); err != nil {
			t.Fatalf("RemoveToxic %s: %v", n, err)
		}
	}
	if err := proxy.Toxics.RemoveToxic(context.Background(), "a"); err == nil {
		t.Error("removing a removed toxic is not an error (detach relies on ErrToxicNotFound)")
	}
	send("after;")
	if got := out.String(); got != "before;with-a;with-a-and-b;after;" {
		t.Errorf("the link carried %q", got)
	}
	inW.Close()
	in2W.Close()
}

// syncBuffer is a link's output: a link closes what it writes to.
type syncBuffer struct{ testutil.SyncBuffer }

func (s *syncBuffer) Close() error { return nil }

// waitFor waits until the output ends with want.
func (s *syncBuffer) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !bytes.HasSuffix([]byte(s.String()), []byte(want)) {
		if time.Now().After(deadline) {
			t.Fatalf("the link did not carry %q in 10 s; output %q", want, s.String())
		}
		time.Sleep(time.Millisecond)
	}
}
