package faultagent

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync/atomic"

	"github.com/vecrosim/vecro/framework/agent"
	"github.com/vecrosim/vecro/framework/behavior"
)

// http-abort: percent of requests answered with status without being served.
//
// Model. In the service's HTTP middleware (Agent.Middleware), each request
// that arrives while the fault is on draws once from the fault's seeded
// source and, with probability percent/100, is answered at once with status
// (default 503) and a one-line text body naming the fault, without running
// the workload or calling downstream. The request body is not read. Units:
// percent 0–100 (more than 0); status an HTTP status code 400–599.
//
// Effect: requests_seen (requests while on), requests_aborted.
type httpAbort struct {
	id     string
	p      float64
	status int
	rng    *lockedRand
	agent  *Agent

	seen    atomic.Int64
	aborted atomic.Int64
}

func parseHTTPAbort(a *Agent, f agent.Fault) (behaviour, string, error) {
	var p behavior.HTTPAbort
	if err := decodeParams(f.Params, &p); err != nil {
		return nil, "", err
	}
	return &httpAbort{id: f.ID, p: p.Percent.Fraction(), status: p.StatusCode(),
		rng: newLockedRand(a.seedFor(f)), agent: a}, f.Behavior, nil
}

func (h *httpAbort) start() error {
	h.agent.editAborts(func(l []*httpAbort) []*httpAbort { return append(l, h) })
	return nil
}

func (h *httpAbort) stop() {
	h.agent.editAborts(func(l []*httpAbort) []*httpAbort {
		return slices.DeleteFunc(l, func(x *httpAbort) bool { return x == h })
	})
}

func (h *httpAbort) effect() map[string]float64 {
	return map[string]float64{
		"requests_seen":    float64(h.seen.Load()),
		"requests_aborted": float64(h.aborted.Load()),
	}
}

// hit draws whether this request is aborted.
func (h *httpAbort) hit() bool {
	h.seen.Add(1)
	var u float64
	h.rng.with(func(r *rand.Rand) { u = r.Float64() })
	if u >= h.p {
		return false
	}
	h.aborted.Add(1)
	return true
}

// editAborts replaces the list of active aborts (copy on write).
func (a *Agent) editAborts(edit func([]*httpAbort) []*httpAbort) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var cur []*httpAbort
	if p := a.aborts.Load(); p != nil {
		cur = slices.Clone(*p)
	}
	next := edit(cur)
	a.aborts.Store(&next)
}

// Middleware applies http-abort faults to the service's requests. With no
// such fault on it costs one atomic load per request.
func (a *Agent) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if list := a.aborts.Load(); list != nil {
			for _, h := range *list {
				if h.hit() {
					w.Header().Set("Content-Type", "text/plain; charset=utf-8")
					w.Header().Set("X-Vecro-Fault", h.id)
					w.WriteHeader(h.status)
					fmt.Fprintf(w, "request aborted by fault %s\n", h.id)
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}
