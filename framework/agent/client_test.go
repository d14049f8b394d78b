package agent

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The client against the real agent is tested in
// images/service/internal/faultagent (this package cannot import it); here
// are the parts that do not need an agent.

func TestErrorMessage(t *testing.T) {
	cases := []struct{ body, want string }{
		{`{"error":"fault \"x\": end is in the past"}`, `fault "x": end is in the past`},
		{"Bad Gateway\n", "Bad Gateway"},
		{"", "(no message)"},
		{`{"other":1}`, `{"other":1}`},
		{strings.Repeat("x", 600), strings.Repeat("x", 512) + "…"},
	}
	for _, c := range cases {
		if got := errorMessage([]byte(c.body)); got != c.want {
			t.Errorf("errorMessage(%.30q) = %.40q, want %.40q", c.body, got, c.want)
		}
	}
}

// TestForeignError checks an answer that is not the agent's (a proxy in
// between answering 502 in plain text).
func TestForeignError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "upstream connect error", http.StatusBadGateway)
	}))
	defer srv.Close()
	c := NewClient(Endpoint{Instance: "db-0", URL: srv.URL + "/", Token: "t"})
	_, err := c.List(context.Background())
	var ae *Error
	if !errors.As(err, &ae) || ae.StatusCode != 502 || ae.Message != "upstream connect error" || ae.Path != "/faults" {
		t.Fatalf("err = %v (%#v), want *Error 502 with the proxy's text", err, ae)
	}
	want := "agent db-0: GET /faults: 502 Bad Gateway: upstream connect error"
	if err.Error() != want {
		t.Errorf("error text %q, want %q", err, want)
	}
}

func TestPutNeedsID(t *testing.T) {
	c := NewClient(Endpoint{URL: "http://127.0.0.1:1"})
	if _, err := c.Put(context.Background(), Fault{Behavior: "net-delay"}); err == nil || !strings.Contains(err.Error(), "no id") {
		t.Errorf("Put without id: %v, want an error saying so", err)
	}
}

func TestPushAllNothing(t *testing.T) {
	sts, err := PushAll(context.Background(), nil)
	if err != nil || len(sts) != 0 {
		t.Errorf("PushAll(nil) = %v, %v; want nothing, no error", sts, err)
	}
}
