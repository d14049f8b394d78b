package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Client calls one agent's fault API. It is safe for concurrent use.
type Client struct {
	ep Endpoint
	hc *http.Client
}

// ClientOption configures a Client.
type ClientOption func(*Client)

// WithHTTPClient makes the client use hc (e.g. through a port-forward's
// transport). The default is an http.Client with a 30 s timeout; a context
// deadline, when shorter, wins.
func WithHTTPClient(hc *http.Client) ClientOption {
	return func(c *Client) { c.hc = hc }
}

// NewClient returns a client of the agent at ep.
func NewClient(ep Endpoint, opts ...ClientOption) *Client {
	c := &Client{ep: ep, hc: &http.Client{Timeout: 30 * time.Second}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Endpoint is the agent this client calls.
func (c *Client) Endpoint() Endpoint { return c.ep }

// Error is an agent's answer other than success: its HTTP status and its
// message.
type Error struct {
	// Instance is the agent's instance (or its URL when unnamed).
	Instance   string
	Method     string
	Path       string
	StatusCode int
	// Message is the agent's error text.
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("agent %s: %s %s: %d %s: %s", e.Instance, e.Method, e.Path,
		e.StatusCode, http.StatusText(e.StatusCode), e.Message)
}

// Put pushes one fault (PUT /faults/{id}); pushing the identical fault again
// is a no-op. It returns the agent's status of the fault.
func (c *Client) Put(ctx context.Context, f Fault) (Status, error) {
	if f.ID == "" {
		return Status{}, fmt.Errorf("agent %s: put fault: no id", c.name())
	}
	body, err := json.Marshal(f)
	if err != nil {
		return Status{}, fmt.Errorf("agent %s: encode fault %q: %w", c.name(), f.ID, err)
	}
	var st Status
	err = c.do(ctx, http.MethodPut, "/faults/"+url.PathEscape(f.ID), body, &st)
	return st, err
}

// Get returns one fault's status.
func (c *Client) Get(ctx context.Context, id string) (Status, error) {
	var st Status
	err := c.do(ctx, http.MethodGet, "/faults/"+url.PathEscape(id), nil, &st)
	return st, err
}

// Delete switches a fault off and removes it; it returns the fault's final
// status (its applied window and effect).
func (c *Client) Delete(ctx context.Context, id string) (Status, error) {
	var st Status
	err := c.do(ctx, http.MethodDelete, "/faults/"+url.PathEscape(id), nil, &st)
	return st, err
}

// Clear switches every fault off and removes them all; it returns their
// final statuses.
func (c *Client) Clear(ctx context.Context) ([]Status, error) {
	var sts []Status
	err := c.do(ctx, http.MethodDelete, "/faults", nil, &sts)
	return sts, err
}

// List returns every fault's status.
func (c *Client) List(ctx context.Context) ([]Status, error) {
	var sts []Status
	err := c.do(ctx, http.MethodGet, "/faults", nil, &sts)
	return sts, err
}

// Health checks the admin port's open /healthz.
func (c *Client) Health(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/healthz", nil, nil)
}

func (c *Client) name() string {
	if c.ep.Instance != "" {
		return c.ep.Instance
	}
	return c.ep.URL
}

// do makes one call; out, if not nil, receives the JSON answer.
func (c *Client) do(ctx context.Context, method, path string, body []byte, out any) error {
	u := strings.TrimSuffix(c.ep.URL, "/") + path
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("agent %s: %s %s: %w", c.name(), method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.ep.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.ep.Token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("agent %s: %s %s: %w", c.name(), method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("agent %s: %s %s: read answer: %w", c.name(), method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &Error{Instance: c.name(), Method: method, Path: path, StatusCode: resp.StatusCode, Message: errorMessage(data)}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("agent %s: %s %s: decode answer: %w", c.name(), method, path, err)
	}
	return nil
}

// errorMessage is the agent's {"error": …} text, or the raw body (trimmed)
// when the answer is not the agent's JSON (a proxy or the mux answered).
func errorMessage(data []byte) string {
	var eb ErrorBody
	if json.Unmarshal(data, &eb) == nil && eb.Error != "" {
		return eb.Error
	}
	msg := strings.TrimSpace(string(data))
	if len(msg) > 512 {
		msg = msg[:512] + "…"
	}
	if msg == "" {
		msg = "(no message)"
	}
	return msg
}

// Assignment is one fault for one agent.
type Assignment struct {
	Endpoint Endpoint
	Fault    Fault
}

// rollbackTimeout bounds the clean-up after a failed push, which runs even
// when the caller's context is already cancelled.
const rollbackTimeout = 30 * time.Second

// PushAll pushes every assignment: agents in parallel, one agent's faults in
// order. Either all are pushed, and their statuses are returned in the order
// of as, or none stays: on any failure PushAll deletes every fault it pushed
// (even if ctx is cancelled by then) and returns the failures joined, each
// naming its instance and fault, together with any failure to roll back.
func PushAll(ctx context.Context, as []Assignment, opts ...ClientOption) ([]Status, error) {
	type group struct {
		client *Client
		idx    []int
	}
	var order []string
	groups := map[string]*group{}
	for i, a := range as {
		key := a.Endpoint.Instance + "\x00" + a.Endpoint.URL
		g, ok := groups[key]
		if !ok {
			g = &group{client: NewClient(a.Endpoint, opts...)}
			groups[key] = g
			order = append(order, key)
		}
		g.idx = append(g.idx, i)
	}

	out := make([]Status, len(as))
	pushed := make([]bool, len(as))
	errs := make([]error, len(as))
	var wg sync.WaitGroup
	for _, key := range order {
		g := groups[key]
		wg.Go(func() {
			for _, i := range g.idx {
				st, err := g.client.Put(ctx, as[i].Fault)
				if err != nil {
					errs[i] = fmt.Errorf("push fault %q to %s: %w", as[i].Fault.ID, g.client.name(), err)
					return // the rest of this agent's faults are not pushed
				}
				out[i], pushed[i] = st, true
			}
		})
	}
	wg.Wait()
	failed := errors.Join(errs...)
	if failed == nil {
		return out, nil
	}

	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	rerrs := make([]error, len(as))
	for _, key := range order {
		g := groups[key]
		wg.Go(func() {
			for _, i := range g.idx {
				if !pushed[i] {
					continue
				}
				if _, err := g.client.Delete(rctx, as[i].Fault.ID); err != nil {
					rerrs[i] = fmt.Errorf("roll back fault %q on %s: %w", as[i].Fault.ID, g.client.name(), err)
				}
			}
		})
	}
	wg.Wait()
	return nil, errors.Join(failed, errors.Join(rerrs...))
}

// ClearAll clears every agent in parallel and returns their faults' final
// statuses by instance (or URL when unnamed); failures are joined, each
// naming its instance, and do not stop the others.
func ClearAll(ctx context.Context, eps []Endpoint, opts ...ClientOption) (map[string][]Status, error) {
	return eachAgent(ctx, eps, opts, (*Client).Clear)
}

// ListAll lists every agent's faults in parallel, by instance (or URL when
// unnamed); failures are joined, each naming its instance.
func ListAll(ctx context.Context, eps []Endpoint, opts ...ClientOption) (map[string][]Status, error) {
	return eachAgent(ctx, eps, opts, (*Client).List)
}

func eachAgent(ctx context.Context, eps []Endpoint, opts []ClientOption,
	call func(*Client, context.Context) ([]Status, error)) (map[string][]Status, error) {
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		out  = map[string][]Status{}
		errs []error
	)
	for _, ep := range eps {
		c := NewClient(ep, opts...)
		wg.Go(func() {
			sts, err := call(c, ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			out[c.name()] = sts
		})
	}
	wg.Wait()
	return out, errors.Join(errs...)
}
