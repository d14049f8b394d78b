package jaeger

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/toolcache"
	"github.com/vecrosim/vecro/framework/traces"
	"github.com/vecrosim/vecro/internal/testutil"
)

// TestQueriesLeaveNothingToExport: Jaeger traces its own query service by
// default, exporting to an OTLP collector on localhost:4317 that is not
// there; every query then left a span that its SDK kept retrying, and
// SIGTERM waited 10 s on that export. The configuration turns the query
// service's tracing off: after queries, Jaeger's output names no export to
// 4317 and it exits on SIGTERM with status 0.
func TestQueriesLeaveNothingToExport(t *testing.T) {
	bin, err := toolcache.Find("jaeger", toolcache.JaegerVersion)
	if err != nil {
		testutil.SkipOrFail(t, "%v", err)
	}
	ctx := context.Background()
	s, err := Start(ctx, Options{Binary: bin})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	// The queries the runtimes make: the services, then a search.
	if _, _, err := (&traces.Jaeger{URL: s.QueryURL()}).Spans(ctx, time.Now().Add(-time.Minute), time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(s.QueryURL() + "/api/traces?service=x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("trace search: %s", resp.Status)
	}
	// A grace far beyond the 10 s the retried export held it, so that the
	// output shows the export's errors if there is one, not a SIGKILL.
	start := time.Now()
	s.proc.Stop(30 * time.Second)
	t.Logf("jaeger exited %v after SIGTERM", time.Since(start).Round(10*time.Millisecond))
	if err := s.proc.Wait(); err != nil {
		t.Errorf("jaeger did not exit cleanly on SIGTERM: %v", err)
	}
	if out := s.proc.Output(); strings.Contains(out, ":4317") {
		t.Errorf("jaeger tried to export its own spans:\n%s", out)
	}
}
