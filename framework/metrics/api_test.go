package metrics_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/vecrosim/vecro/framework/metrics"
)

// newAPI serves e's Handler on 127.0.0.1:0 and returns an HTTP source over
// it, both closed when the test ends.
func newAPI(t testing.TB, e *metrics.Embedded) (metrics.Source, string) {
	t.Helper()
	srv := httptest.NewServer(e.Handler())
	t.Cleanup(srv.Close)
	src, err := metrics.NewHTTP(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src, srv.URL
}

// sameSeries compares results in any order: an instant vector's order is
// the engine's, which differs between evaluations.
func sameSeries(a, b []metrics.Series) bool {
	if len(a) != len(b) {
		return false
	}
	byLabels := func(x, y metrics.Series) int { return strings.Compare(fmt.Sprint(x.Labels), fmt.Sprint(y.Labels)) }
	a, b = slices.Clone(a), slices.Clone(b)
	slices.SortFunc(a, byLabels)
	slices.SortFunc(b, byLabels)
	for i := range a {
		if !reflect.DeepEqual(a[i].Labels, b[i].Labels) || len(a[i].Points) != len(b[i].Points) {
			return false
		}
		for j := range a[i].Points {
			if !a[i].Points[j].T.Equal(b[i].Points[j].T) || !sameFloat(a[i].Points[j].V, b[i].Points[j].V) {
				return false
			}
		}
	}
	return true
}

// TestHTTPSourceRoundTripsEmbeddedAPI reads an embedded source through its
// Prometheus API with the client_golang client and gets what the source
// answers directly.
func TestHTTPSourceRoundTripsEmbeddedAPI(t *testing.T) {
	t.Parallel()
	e := newEmbedded(t, metrics.EmbeddedOptions{ScrapeInterval: testInterval})
	a := newServiceTarget(t, "shop", "a", "a-0")
	b := newServiceTarget(t, "shop", "b", "b-0")
	for i, st := range []*serviceTarget{a, b} {
		st.Requests.WithLabelValues("200", "GET").Add(float64(10 * (i + 1)))
		st.Duration.WithLabelValues("GET").Observe(0.03)
	}
	if err := e.SetTargets([]metrics.Target{a.Target, b.Target}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "scraped for a while", func() (bool, string) {
		n := instant(t, e, `count_over_time(up[5s])`, "instance")
		return n["a-0"] >= 6 && n["b-0"] >= 6, fmt.Sprint(n)
	})
	src, base := newAPI(t, e)
	ctx := context.Background()
	now := time.Now()
	for _, q := range []string{
		`vecro_http_requests_total`,
		`sum by (vecro_service) (rate(vecro_http_requests_total[1s]))`,
		`histogram_quantile(0.9, sum by (le, vecro_service) (vecro_http_request_duration_seconds_bucket))`,
		`1 + 1`,
		`up == 7`, // empty
	} {
		direct, err := e.Query(ctx, q, now)
		if err != nil {
			t.Fatal(err)
		}
		viaHTTP, err := src.Query(ctx, q, now)
		if err != nil {
			t.Fatal(err)
		}
		if !sameSeries(direct, viaHTTP) {
			t.Errorf("query %s:\ndirect:\n%svia HTTP:\n%s", q, fmtSeries(direct), fmtSeries(viaHTTP))
		}
		r := metrics.Range{Start: now.Add(-1500 * time.Millisecond), End: now, Step: 100 * time.Millisecond}
		direct, err = e.QueryRange(ctx, q, r)
		if err != nil {
			t.Fatal(err)
		}
		viaHTTP, err = src.QueryRange(ctx, q, r)
		if err != nil {
			t.Fatal(err)
		}
		if !sameSeries(direct, viaHTTP) {
			t.Errorf("range query %s:\ndirect:\n%svia HTTP:\n%s", q, fmtSeries(direct), fmtSeries(viaHTTP))
		}
	}
	fam, err := metrics.LookupFamily("request_rate")
	if err != nil {
		t.Fatal(err)
	}
	// Both targets have been scraped for over a second by now.
	r := metrics.Range{Start: now.Add(-2 * time.Second), End: now, Step: 500 * time.Millisecond}
	t1, err := metrics.CollectTable(ctx, e, fam, metrics.FlavorLocal, metrics.Scope{System: "shop"}, r)
	if err != nil {
		t.Fatal(err)
	}
	t2, err := metrics.CollectTable(ctx, src, fam, metrics.FlavorLocal, metrics.Scope{System: "shop"}, r)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(t1) != fmt.Sprint(t2) || len(t1.Columns) != 2 {
		t.Errorf("tables differ:\n%v\n%v", t1, t2)
	}

	// Errors name the query and carry the server's type.
	_, err = src.Query(ctx, `sum(`, now)
	if err == nil || !strings.Contains(err.Error(), `"sum("`) || !strings.Contains(err.Error(), "bad_data") {
		t.Errorf("bad query: %v", err)
	}
	_, err = src.QueryRange(ctx, `up`, metrics.Range{Start: now, End: now.Add(-time.Second), Step: time.Second})
	if err == nil || !strings.Contains(err.Error(), `"up"`) {
		t.Errorf("bad range: %v", err)
	}

	// The exact response format, as Prometheus writes it.
	code, body := get(t, base+"/api/v1/query?query=1%2B1&time=1700000000.5")
	if code != 200 || body != `{"status":"success","data":{"resultType":"scalar","result":[1700000000.5,"2"]}}` {
		t.Errorf("scalar response %d %s", code, body)
	}
	code, body = get(t, base+"/api/v1/query_range?query=up&start=1&end=0&step=1")
	if code != 400 || !strings.Contains(body, `"errorType":"bad_data"`) || !strings.Contains(body, `"status":"error"`) {
		t.Errorf("bad range response %d %s", code, body)
	}
	code, body = get(t, base+"/api/v1/query?query="+url.QueryEscape(`rate(up[1s])`)+"&time=1")
	if code != 200 || body != `{"status":"success","data":{"resultType":"vector","result":[]}}` {
		t.Errorf("empty response %d %s", code, body)
	}

	// Series, labels and targets through client_golang's own API client.
	c, err := api.NewClient(api.Config{Address: base})
	if err != nil {
		t.Fatal(err)
	}
	pa := v1.NewAPI(c)
	sets, _, _, err := pa.Series(ctx, []string{`up`, `vecro_http_requests_total{vecro_service="a"}`}, now.Add(-time.Minute), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(sets) != 3 {
		t.Errorf("series: %v", sets)
	}
	names, _, _, err := pa.LabelNames(ctx, []string{`up`}, time.Time{}, time.Time{})
	if err != nil || names.String() != "__name__, instance, job, service, system" {
		t.Errorf("label names %v, %v", names, err)
	}
	vals, _, _, err := pa.LabelValues(ctx, "vecro_service", nil, time.Time{}, time.Time{})
	if err != nil || fmt.Sprint(vals) != "[a b]" {
		t.Errorf("label values %v, %v", vals, err)
	}
	tr, err := pa.Targets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	urls := map[string]v1.HealthStatus{}
	for _, at := range tr.Active {
		urls[at.ScrapeURL] = at.Health
	}
	if len(urls) != 2 || urls[a.URL] != v1.HealthGood || urls[b.URL] != v1.HealthGood {
		j, _ := json.Marshal(tr)
		t.Errorf("targets %s", j)
	}
	if _, _, _, err := pa.Series(ctx, []string{`{job=~".*"}`}, now.Add(-time.Minute), now); err == nil {
		t.Error("series with an all-matching selector accepted")
	}

	// After Close, the API says so.
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Query(ctx, "up", now); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("query of a closed source: %v", err)
	}
}

func TestNewHTTPRejectsBadURL(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "localhost:9090", "ftp://x", "http://"} {
		if _, err := metrics.NewHTTP(u); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", u)) {
			t.Errorf("NewHTTP(%q): %v", u, err)
		}
	}
}
