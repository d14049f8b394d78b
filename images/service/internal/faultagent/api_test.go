package faultagent_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/agent"
	"github.com/vecrosim/vecro/framework/behavior"
)

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTokenRefusal(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	open := newRig(t, withToken(""))
	now := time.Now()
	body := mustJSON(t, fault(t, "x.http-abort", "http-abort", behavior.HTTPAbort{Percent: 10}, now.Add(time.Hour), now.Add(2*time.Hour)))
	calls := []struct{ method, path string }{
		{"GET", "/faults"}, {"DELETE", "/faults"}, {"PUT", "/faults/x.http-abort"},
		{"GET", "/faults/x.http-abort"}, {"DELETE", "/faults/x.http-abort"},
	}
	cases := []struct {
		name   string
		rig    *rig
		token  string
		header string
		want   string
	}{
		{"no token sent", r, "", "", "missing bearer token"},
		{"wrong token", r, "not-" + testToken, "", "wrong bearer token"},
		{"token as a prefix", r, testToken[:4], "", "wrong bearer token"},
		{"basic auth", r, "", "Basic " + testToken, "missing bearer token"},
		{"agent has no token, none sent", open, "", "", "no token configured"},
		{"agent has no token, one sent", open, testToken, "", "no token configured"},
	}
	for _, c := range cases {
		for _, call := range calls {
			req, err := http.NewRequest(call.method, c.rig.admin+call.path, strings.NewReader(string(body)))
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case c.header != "":
				req.Header.Set("Authorization", c.header)
			case c.token != "":
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var eb agent.ErrorBody
			_ = json.NewDecoder(resp.Body).Decode(&eb)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(eb.Error, c.want) {
				t.Errorf("%s: %s %s → %d %q, want 401 %q", c.name, call.method, call.path, resp.StatusCode, eb.Error, c.want)
			}
		}
	}
	// Nothing got in, and the right token works.
	for _, rr := range []*rig{r} {
		sts, err := rr.client.List(context.Background())
		if err != nil || len(sts) != 0 {
			t.Errorf("after refused calls: %v faults, err %v; want none", len(sts), err)
		}
	}
	if code, _ := r.call(t, "PUT", "/faults/x.http-abort", testToken, body); code != http.StatusCreated {
		t.Errorf("PUT with the token: %d, want 201", code)
	}
}

func TestBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	now := time.Now()
	start, end := now.Add(time.Hour), now.Add(2*time.Hour)
	existing := fault(t, "slow.net-delay", "net-delay", behavior.NetDelay{Time: behavior.Duration(100 * time.Millisecond)}, start, end)
	r.put(t, existing)
	snapshot := func() string {
		code, body := r.call(t, "GET", "/faults", testToken, nil)
		if code != 200 {
			t.Fatalf("GET /faults: %d %s", code, body)
		}
		return body
	}
	before := snapshot()

	withParams := func(id, behavior, params string) []byte {
		return []byte(`{"id":"` + id + `","behavior":"` + behavior + `","params":` + params +
			`,"start":"` + start.Format(time.RFC3339Nano) + `","end":"` + end.Format(time.RFC3339Nano) + `","seed":1}`)
	}
	f := func(mod func(*agent.Fault)) []byte {
		x := fault(t, "new.http-abort", "http-abort", behavior.HTTPAbort{Percent: 10}, now.Add(3*time.Hour), now.Add(4*time.Hour))
		mod(&x)
		return mustJSON(t, x)
	}
	cases := []struct {
		name string
		id   string
		body []byte
		code int
		msg  string
	}{
		{"malformed JSON", "a", []byte(`{"behavior":`), 400, "malformed JSON"},
		{"not an object", "a", []byte(`[1,2]`), 400, "malformed JSON"},
		{"trailing data", "new.http-abort", append(f(func(*agent.Fault) {}), []byte(`{}`)...), 400, "trailing data"},
		{"unknown field", "a", []byte(`{"behaviour":"net-delay"}`), 400, "unknown field"},
		{"unknown behaviour", "a.net-jitter", withParams("a.net-jitter", "net-jitter", `{}`), 400, `unknown behavior "net-jitter"`},
		{"bad id", "-a", withParams("-a", "http-abort", `{"percent":5}`), 400, "fault id"},
		{"id mismatch", "b", withParams("a", "http-abort", `{"percent":5}`), 400, "does not match"},
		{"no start", "new.http-abort", f(func(x *agent.Fault) { x.Start = time.Time{} }), 400, "start and end are both required"},
		{"end before start", "new.http-abort", f(func(x *agent.Fault) { x.End = x.Start.Add(-time.Second) }), 400, "is not after start"},
		{"end equals start", "new.http-abort", f(func(x *agent.Fault) { x.End = x.Start }), 400, "is not after start"},
		{"end in the past", "new.http-abort", f(func(x *agent.Fault) { x.Start, x.End = now.Add(-time.Hour), now.Add(-time.Minute) }), 400, "in the past"},
		{"params not an object", "a", withParams("a", "http-abort", `5`), 400, "want a JSON object"},
		{"unknown param", "a", withParams("a", "net-delay", `{"time":"1s","jiter":"1ms"}`), 400, "unknown field"},
		{"negative delay", "a", withParams("a", "net-delay", mustString(t, behavior.NetDelay{Time: behavior.Duration(-time.Second)})), 400, "delay time is -1s"},
		{"zero delay", "a", withParams("a", "net-delay", `{}`), 400, "delay time is 0s"},
		{"jitter above time", "a", withParams("a", "net-delay", mustString(t, behavior.NetDelay{Time: behavior.Duration(time.Millisecond), Jitter: behavior.Duration(time.Second)})), 400, "exceeds time"},
		{"bad distribution", "a", withParams("a", "net-delay", mustString(t, behavior.NetDelay{Time: behavior.Duration(time.Second), Distribution: "pareto"})), 400, "distribution"},
		{"unknown link", "a", withParams("a", "net-delay", mustString(t, behavior.NetDelay{Time: behavior.Duration(time.Second), On: "egress"})), 400, "unknown link"},
		{"no db link", "a", withParams("a", "net-delay", mustString(t, behavior.NetDelay{Time: behavior.Duration(time.Second), On: behavior.LinkDB})), 400, "no database link"},
		{"loss 0%", "a", withParams("a", "net-loss", `{"percent":0}`), 400, "percent"},
		{"loss 150%", "a", withParams("a", "net-loss", `{"percent":150}`), 400, "percent"},
		{"rate 0", "a", withParams("a", "net-rate", `{"rate":0}`), 400, "rate"},
		{"cpu load 0", "a", withParams("a", "cpu-stress", `{"load":0}`), 400, "load"},
		{"cpu workers -1", "a", withParams("a", "cpu-stress", `{"load":10,"workers":-1}`), 400, "workers"},
		{"cpu method", "a", withParams("a", "cpu-stress", `{"load":10,"method":"fft"}`), 400, "method"},
		{"io method", "a", withParams("a", "io-stress", `{"method":"read"}`), 400, "method"},
		{"mem size 0", "a", withParams("a", "mem-stress", `{"size":0}`), 400, "size"},
		{"mem size above RAM", "a", withParams("a", "mem-stress", `{"size":9000000000000000}`), 400, "exceeds"},
		{"abort status 200", "a", withParams("a", "http-abort", `{"percent":5,"status":200}`), 400, "status"},
		{"overlap, same behaviour and link", "other.net-delay",
			mustJSON(t, fault(t, "other.net-delay", "net-delay", behavior.NetDelay{Time: behavior.Duration(time.Second)}, start.Add(30*time.Minute), end.Add(time.Hour))), 409, "overlaps"},
		{"same id, different body", "slow.net-delay",
			mustJSON(t, fault(t, "slow.net-delay", "net-delay", behavior.NetDelay{Time: behavior.Duration(time.Second)}, start, end)), 409, "different body"},
	}
	for _, c := range cases {
		code, body := r.call(t, "PUT", "/faults/"+c.id, testToken, c.body)
		var eb agent.ErrorBody
		if err := json.Unmarshal([]byte(body), &eb); err != nil {
			t.Errorf("%s: error body is not JSON: %q", c.name, body)
		}
		if code != c.code || !strings.Contains(eb.Error, c.msg) {
			t.Errorf("%s: %d %q, want %d containing %q", c.name, code, eb.Error, c.code, c.msg)
		}
		if after := snapshot(); after != before {
			t.Fatalf("%s changed the agent's state:\nbefore %s\nafter  %s", c.name, before, after)
		}
	}

	// An identical push is idempotent: 200, same state.
	code, _ := r.call(t, "PUT", "/faults/slow.net-delay", testToken, mustJSON(t, existing))
	if code != http.StatusOK {
		t.Errorf("identical push: %d, want 200", code)
	}
	if after := snapshot(); after != before {
		t.Errorf("identical push changed the state:\nbefore %s\nafter  %s", before, after)
	}
	// Adjacent windows do not overlap, and other behaviours may overlap.
	r.put(t, fault(t, "next.net-delay", "net-delay", behavior.NetDelay{Time: behavior.Duration(time.Second)}, end, end.Add(time.Hour)))
	r.put(t, fault(t, "same-time.net-loss", "net-loss", behavior.NetLoss{Percent: 5}, start, end))
	// Unknown ids are 404.
	if code, _ := r.call(t, "DELETE", "/faults/nope", testToken, nil); code != http.StatusNotFound {
		t.Errorf("DELETE unknown: %d, want 404", code)
	}
	if code, _ := r.call(t, "GET", "/faults/nope", testToken, nil); code != http.StatusNotFound {
		t.Errorf("GET unknown: %d, want 404", code)
	}
}

func mustString(t testing.TB, v any) string { return string(mustJSON(t, v)) }

func TestDeleteAndClear(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	now := time.Now()
	on := fault(t, "on.http-abort", "http-abort", behavior.HTTPAbort{Percent: 100}, now, now.Add(time.Hour))
	later := fault(t, "later.cpu-stress", "cpu-stress", behavior.CPUStress{Load: 10, Workers: 1}, now.Add(time.Hour), now.Add(2*time.Hour))
	r.put(t, on)
	r.put(t, later)
	r.waitPhase(t, on.ID, agent.PhaseActive, pollLimit)
	if code := get(t, r.service+"/"); code != 503 {
		t.Fatalf("service answered %d with the abort on, want 503", code)
	}
	st, err := r.client.Delete(ctx, on.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Phase != agent.PhaseCancelled || st.AppliedStart == nil || st.AppliedEnd == nil {
		t.Errorf("deleted active fault: %+v, want cancelled with an applied window", st)
	}
	if code := get(t, r.service+"/"); code != 200 {
		t.Errorf("service answered %d after the delete, want 200", code)
	}
	sts, err := r.client.Clear(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 1 || sts[0].ID != later.ID || sts[0].Phase != agent.PhaseCancelled || sts[0].AppliedStart != nil {
		t.Errorf("clear returned %+v, want the pending fault cancelled, never applied", sts)
	}
	if sts, _ := r.client.List(ctx); len(sts) != 0 {
		t.Errorf("%d faults after clear, want 0", len(sts))
	}
	// A finished id may be reused.
	r.put(t, on)
}

// TestClientErrors checks that client errors carry the status and the
// agent's message.
func TestClientErrors(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	now := time.Now()
	_, err := r.client.Put(context.Background(), fault(t, "bad.net-loss", "net-loss", behavior.NetLoss{Percent: 500}, now, now.Add(time.Minute)))
	var ae *agent.Error
	if !errors.As(err, &ae) || ae.StatusCode != 400 || !strings.Contains(ae.Message, "percent") || ae.Instance != "svc-0" {
		t.Fatalf("error %v (%#v), want *agent.Error 400 naming percent and svc-0", err, ae)
	}
	if !strings.Contains(err.Error(), "svc-0") || !strings.Contains(err.Error(), "400") {
		t.Errorf("error text %q should name the instance and status", err)
	}
	bad := agent.NewClient(agent.Endpoint{Instance: "svc-0", URL: r.admin, Token: "wrong"})
	if _, err := bad.List(context.Background()); !errors.As(err, &ae) || ae.StatusCode != 401 {
		t.Errorf("wrong token: %v, want 401", err)
	}
	dead := agent.NewClient(agent.Endpoint{Instance: "gone-0", URL: "http://" + freeAddr(t), Token: "x"})
	if _, err := dead.List(context.Background()); err == nil || !strings.Contains(err.Error(), "gone-0") {
		t.Errorf("dead agent: %v, want an error naming gone-0", err)
	}
}

func TestPushAll(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rigs := []*rig{newRig(t), newRig(t), newRig(t)}
	eps := make([]agent.Endpoint, len(rigs))
	for i, r := range rigs {
		eps[i] = r.client.Endpoint()
		eps[i].Instance = "svc-" + string(rune('a'+i))
	}
	now := time.Now()
	good := func(id string) agent.Fault {
		return fault(t, id, "cpu-stress", behavior.CPUStress{Load: 5, Workers: 1}, now.Add(time.Hour), now.Add(2*time.Hour))
	}
	assign := func(fs ...agent.Fault) []agent.Assignment {
		var as []agent.Assignment
		for i, f := range fs {
			as = append(as, agent.Assignment{Endpoint: eps[i%len(eps)], Fault: f})
		}
		return as
	}
	total := func() int {
		all, err := agent.ListAll(ctx, eps)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, sts := range all {
			n += len(sts)
		}
		return n
	}

	other := fault(t, "d.http-abort", "http-abort", behavior.HTTPAbort{Percent: 5}, now.Add(time.Hour), now.Add(2*time.Hour))
	sts, err := agent.PushAll(ctx, assign(good("a.cpu-stress"), good("b.cpu-stress"), good("c.cpu-stress"), other))
	if err != nil || len(sts) != 4 || total() != 4 {
		t.Fatalf("push all good: %v, %d statuses, %d on agents; want 4", err, len(sts), total())
	}
	if _, err := agent.ClearAll(ctx, eps); err != nil || total() != 0 {
		t.Fatalf("clear all: %v, %d left", err, total())
	}

	// One bad fault (agent svc-c) and one unreachable agent: nothing stays.
	badFault := fault(t, "z.net-loss", "net-loss", behavior.NetLoss{Percent: 0}, now.Add(time.Hour), now.Add(2*time.Hour))
	as := assign(good("a.cpu-stress"), good("b.cpu-stress"), badFault, other)
	as = append(as, agent.Assignment{Endpoint: agent.Endpoint{Instance: "gone-0", URL: "http://" + freeAddr(t), Token: "x"}, Fault: good("e.cpu-stress")})
	_, err = agent.PushAll(ctx, as)
	if err == nil {
		t.Fatal("push with a bad fault succeeded")
	}
	for _, want := range []string{"svc-c", `"z.net-loss"`, "percent", "gone-0"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if n := total(); n != 0 {
		t.Errorf("%d faults left after a failed push, want 0 (rolled back)", n)
	}
}

// TestFrontDB delays the database link of a storage service: a real TCP
// echo server stands for the database.
func TestFrontDB(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	db := newEchoServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	proxyAddr, err := r.agent.FrontDB(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.agent.FrontDB(ctx, db); err == nil {
		t.Error("a second FrontDB succeeded")
	}
	conn := dialEcho(t, proxyAddr)
	if rt := conn.roundTrip(t); rt > 150*time.Millisecond {
		t.Logf("slow round trip before the fault: %s", rt)
	}
	now := time.Now()
	const delay = 300 * time.Millisecond
	r.put(t, fault(t, "deep.net-delay", "net-delay", behavior.NetDelay{Time: behavior.Duration(delay), On: behavior.LinkDB}, now, now.Add(time.Minute)))
	// An ingress delay at the same time is another link: allowed.
	r.put(t, fault(t, "front.net-delay", "net-delay", behavior.NetDelay{Time: behavior.Duration(time.Millisecond)}, now, now.Add(time.Minute)))
	r.waitPhase(t, "deep.net-delay", agent.PhaseActive, pollLimit)
	for range 3 {
		if rt := conn.roundTrip(t); rt < delay {
			t.Errorf("database round trip %s with the db delay on, want ≥ %s", rt, delay)
		}
	}
	if _, err := r.client.Delete(context.Background(), "deep.net-delay"); err != nil {
		t.Fatal(err)
	}
	if rt := conn.roundTrip(t); rt >= delay {
		t.Errorf("database round trip %s after the delete, want < %s", rt, delay)
	}
}

// TestToxicSurvivesRewiring adds a second toxic to a link while the first
// holds a request: the held request must keep its full delay (Toxiproxy's
// own latency toxic would let it go at once).
func TestToxicSurvivesRewiring(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	db := newEchoServer(t)
	proxyAddr, err := r.agent.FrontDB(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	conn := dialEcho(t, proxyAddr)
	conn.roundTrip(t)
	now := time.Now()
	const delay = 800 * time.Millisecond
	r.put(t, fault(t, "deep.net-delay", "net-delay", behavior.NetDelay{Time: behavior.Duration(delay), On: behavior.LinkDB}, now, now.Add(time.Minute)))
	r.waitPhase(t, "deep.net-delay", agent.PhaseActive, pollLimit)
	done := make(chan time.Duration)
	go func() { done <- conn.roundTrip(t) }()
	time.Sleep(delay / 4)
	n := time.Now()
	r.put(t, fault(t, "deep.net-rate", "net-rate", behavior.NetRate{Rate: 1e9, On: behavior.LinkDB}, n, n.Add(time.Minute)))
	r.put(t, fault(t, "deep.net-loss", "net-loss", behavior.NetLoss{Percent: 0.001, On: behavior.LinkDB}, n, n.Add(time.Minute)))
	if rt := <-done; rt < delay {
		t.Errorf("held request took %s, want ≥ %s: rewiring the chain released it early", rt, delay)
	}
}

func TestCloseCancelsEverything(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	now := time.Now()
	r.put(t, fault(t, "hot.cpu-stress", "cpu-stress", behavior.CPUStress{Load: 20, Workers: 1}, now, now.Add(time.Hour)))
	r.put(t, fault(t, "later.http-abort", "http-abort", behavior.HTTPAbort{Percent: 20}, now.Add(time.Hour), now.Add(2*time.Hour)))
	r.waitPhase(t, "hot.cpu-stress", agent.PhaseActive, pollLimit)
	if err := r.agent.Close(); err != nil {
		t.Fatal(err)
	}
	sts, err := r.client.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range sts {
		if st.Phase != agent.PhaseCancelled {
			t.Errorf("%s is %s after Close, want cancelled", st.ID, st.Phase)
		}
	}
	if code, _ := r.call(t, "PUT", "/faults/x", testToken, mustJSON(t, fault(t, "x", "http-abort", behavior.HTTPAbort{Percent: 1}, now, now.Add(time.Hour)))); code != http.StatusConflict {
		t.Errorf("PUT after Close: %d, want 409", code)
	}
	if _, err := http.Get(r.service); err == nil {
		t.Error("the ingress proxy still accepts connections after Close")
	}
}
