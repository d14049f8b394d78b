package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"
)

// Handler serves the embedded data over a subset of the Prometheus HTTP API
// (v1), in Prometheus' own response format, so that another process (vecro
// collect) reads it with the HTTP source or any Prometheus client:
//
//	/api/v1/query, /api/v1/query_range   GET or POST, as Prometheus
//	/api/v1/series, /api/v1/labels, /api/v1/label/<name>/values
//	/api/v1/targets                      scrape health
//	/-/healthy, /-/ready
func (e *Embedded) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/query", e.apiFunc(e.apiQuery))
	mux.HandleFunc("/api/v1/query_range", e.apiFunc(e.apiQueryRange))
	mux.HandleFunc("/api/v1/series", e.apiFunc(e.apiSeries))
	mux.HandleFunc("/api/v1/labels", e.apiFunc(e.apiLabels))
	mux.HandleFunc("/api/v1/label/{name}/values", e.apiFunc(e.apiLabelValues))
	mux.HandleFunc("/api/v1/targets", e.apiFunc(e.apiTargets))
	ok := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("OK\n"))
	}
	mux.HandleFunc("/-/healthy", ok)
	mux.HandleFunc("/-/ready", ok)
	return mux
}

// apiError is an API failure as Prometheus reports it: a type string and a
// status code.
type apiError struct {
	typ  string
	code int
	err  error
}

func badData(param string, err error) *apiError {
	return &apiError{"bad_data", http.StatusBadRequest, fmt.Errorf("invalid parameter %q: %w", param, err)}
}

// queryError classifies an engine error the way Prometheus' API does.
func queryError(err error) *apiError {
	var (
		perr     parser.ParseErrors
		perr1    *parser.ParseErr
		canceled promql.ErrQueryCanceled
		timeout  promql.ErrQueryTimeout
		storErr  promql.ErrStorage
	)
	switch {
	case errors.As(err, &perr), errors.As(err, &perr1):
		return &apiError{"bad_data", http.StatusBadRequest, fmt.Errorf("invalid parameter %q: %w", "query", err)}
	case errors.As(err, &canceled), errors.Is(err, context.Canceled):
		return &apiError{"canceled", 499, err}
	case errors.As(err, &timeout), errors.Is(err, context.DeadlineExceeded):
		return &apiError{"timeout", http.StatusServiceUnavailable, err}
	case errors.As(err, &storErr):
		return &apiError{"internal", http.StatusInternalServerError, err}
	case errors.Is(err, errClosed):
		return &apiError{"unavailable", http.StatusServiceUnavailable, err}
	}
	return &apiError{"execution", http.StatusUnprocessableEntity, err}
}

// apiResponse is Prometheus' response envelope.
type apiResponse struct {
	Status    string   `json:"status"`
	Data      any      `json:"data,omitempty"`
	ErrorType string   `json:"errorType,omitempty"`
	Error     string   `json:"error,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
	Infos     []string `json:"infos,omitempty"`
}

type apiResult struct {
	data            any
	warnings, infos []string
}

func (e *Embedded) apiFunc(f func(*http.Request) (apiResult, *apiError)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			w.Header().Set("Allow", "GET, POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if err := r.ParseForm(); err != nil {
			e.respond(w, apiResponse{Status: "error", ErrorType: "bad_data", Error: fmt.Sprintf("error parsing form values: %v", err)}, http.StatusBadRequest)
			return
		}
		res, aerr := f(r)
		if aerr != nil {
			e.respond(w, apiResponse{Status: "error", ErrorType: aerr.typ, Error: aerr.err.Error()}, aerr.code)
			return
		}
		e.respond(w, apiResponse{Status: "success", Data: res.data, Warnings: res.warnings, Infos: res.infos}, http.StatusOK)
	}
}

func (e *Embedded) respond(w http.ResponseWriter, resp apiResponse, code int) {
	b, err := json.Marshal(resp)
	if err != nil {
		e.opts.Logger.Error("encode API response", "err", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if _, err := w.Write(b); err != nil {
		e.opts.Logger.Debug("write API response", "err", err)
	}
}

// queryData is the data of a query response; the engine's value types
// marshal themselves in the API's format.
type queryData struct {
	ResultType parser.ValueType `json:"resultType"`
	Result     json.RawMessage  `json:"result"`
}

func (e *Embedded) apiQuery(r *http.Request) (apiResult, *apiError) {
	ts := time.Now()
	if s := r.FormValue("time"); s != "" {
		t, err := parseAPITime(s)
		if err != nil {
			return apiResult{}, badData("time", err)
		}
		ts = t
	}
	q := r.FormValue("query")
	return e.apiExec(r, q, func(ctx context.Context) (promql.Query, error) {
		return e.engine.NewInstantQuery(ctx, e.db, nil, q, ts)
	})
}

func (e *Embedded) apiQueryRange(r *http.Request) (apiResult, *apiError) {
	start, err := parseAPITime(r.FormValue("start"))
	if err != nil {
		return apiResult{}, badData("start", err)
	}
	end, err := parseAPITime(r.FormValue("end"))
	if err != nil {
		return apiResult{}, badData("end", err)
	}
	if end.Before(start) {
		return apiResult{}, badData("end", errors.New("end timestamp must not be before start time"))
	}
	step, err := parseAPIDuration(r.FormValue("step"))
	if err != nil {
		return apiResult{}, badData("step", err)
	}
	if step <= 0 {
		return apiResult{}, badData("step", errors.New("zero or negative query resolution step widths are not accepted. Try a positive integer"))
	}
	if end.Sub(start)/step > maxSteps {
		return apiResult{}, &apiError{"bad_data", http.StatusBadRequest, errors.New("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)")}
	}
	q := r.FormValue("query")
	return e.apiExec(r, q, func(ctx context.Context) (promql.Query, error) {
		return e.engine.NewRangeQuery(ctx, e.db, nil, q, start, end, step)
	})
}

// apiExec runs a query for the API and encodes its value before the query
// releases its memory.
func (e *Embedded) apiExec(r *http.Request, q string, newQuery func(context.Context) (promql.Query, error)) (apiResult, *apiError) {
	ctx := r.Context()
	if s := r.FormValue("timeout"); s != "" {
		d, err := parseAPIDuration(s)
		if err != nil {
			return apiResult{}, badData("timeout", err)
		}
		if d <= 0 {
			return apiResult{}, badData("timeout", fmt.Errorf("timeout must be positive, got %s", s))
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	var res apiResult
	err := e.execRaw(ctx, func() (promql.Query, error) { return newQuery(ctx) }, func(pr *promql.Result) error {
		v := pr.Value
		// An empty result is [] in Prometheus' API, never null.
		switch m := v.(type) {
		case promql.Matrix:
			if m == nil {
				v = promql.Matrix{}
			}
		case promql.Vector:
			if m == nil {
				v = promql.Vector{}
			}
		}
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode result: %w", err)
		}
		res.data = queryData{ResultType: v.Type(), Result: b}
		res.warnings, res.infos = pr.Warnings.AsStrings(q, 10, 10)
		return nil
	})
	if err != nil {
		return apiResult{}, queryError(err)
	}
	return res, nil
}

// matchersParam parses the match[] selectors; Prometheus rejects
// selectors that match every series (all matchers match "").
func (e *Embedded) matchersParam(r *http.Request, required bool) ([][]*labels.Matcher, *apiError) {
	sels := r.Form["match[]"]
	if len(sels) == 0 {
		if required {
			return nil, &apiError{"bad_data", http.StatusBadRequest, errors.New("no match[] parameter provided")}
		}
		return nil, nil
	}
	sets, err := e.parser.ParseMetricSelectors(sels)
	if err != nil {
		return nil, badData("match[]", err)
	}
	for _, set := range sets {
		if !slices.ContainsFunc(set, func(m *labels.Matcher) bool { return !m.Matches("") }) {
			return nil, badData("match[]", errors.New("match[] must contain at least one non-empty matcher"))
		}
	}
	return sets, nil
}

// timeRange reads start and end, defaulting to all time.
func timeRange(r *http.Request) (int64, int64, *apiError) {
	mint, maxt := int64(math.MinInt64/2), int64(math.MaxInt64/2)
	if s := r.FormValue("start"); s != "" {
		t, err := parseAPITime(s)
		if err != nil {
			return 0, 0, badData("start", err)
		}
		mint = t.UnixMilli()
	}
	if s := r.FormValue("end"); s != "" {
		t, err := parseAPITime(s)
		if err != nil {
			return 0, 0, badData("end", err)
		}
		maxt = t.UnixMilli()
	}
	if maxt < mint {
		return 0, 0, badData("end", errors.New("end timestamp must not be before start time"))
	}
	return mint, maxt, nil
}

// withQuerier runs f on a TSDB querier over the request's time range,
// holding the source open.
func (e *Embedded) withQuerier(r *http.Request, f func(q storage.Querier, mint, maxt int64) error) *apiError {
	mint, maxt, aerr := timeRange(r)
	if aerr != nil {
		return aerr
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return queryError(errClosed)
	}
	q, err := e.db.Querier(mint, maxt)
	if err != nil {
		return &apiError{"internal", http.StatusInternalServerError, err}
	}
	defer q.Close()
	if err := f(q, mint, maxt); err != nil {
		return &apiError{"internal", http.StatusInternalServerError, err}
	}
	return nil
}

func (e *Embedded) apiSeries(r *http.Request) (apiResult, *apiError) {
	sets, aerr := e.matchersParam(r, true)
	if aerr != nil {
		return apiResult{}, aerr
	}
	found := map[string]labels.Labels{}
	var warnings annotations.Annotations
	aerr = e.withQuerier(r, func(q storage.Querier, mint, maxt int64) error {
		// The TSDB reads only the hints' time range.
		hints := &storage.SelectHints{Start: mint, End: maxt, Func: "series"}
		for _, set := range sets {
			ss := q.Select(r.Context(), false, hints, set...)
			for ss.Next() {
				ls := ss.At().Labels()
				found[ls.String()] = ls
			}
			warnings.Merge(ss.Warnings())
			if err := ss.Err(); err != nil {
				return err
			}
		}
		return nil
	})
	if aerr != nil {
		return apiResult{}, aerr
	}
	out := make([]labels.Labels, 0, len(found))
	for _, ls := range found {
		out = append(out, ls)
	}
	slices.SortFunc(out, labels.Compare)
	w, i := warnings.AsStrings("", 10, 10)
	return apiResult{data: out, warnings: w, infos: i}, nil
}

func (e *Embedded) apiLabels(r *http.Request) (apiResult, *apiError) {
	sets, aerr := e.matchersParam(r, false)
	if aerr != nil {
		return apiResult{}, aerr
	}
	names := map[string]struct{}{}
	aerr = e.withQuerier(r, func(q storage.Querier, _, _ int64) error {
		if len(sets) == 0 {
			sets = [][]*labels.Matcher{nil}
		}
		for _, set := range sets {
			ns, _, err := q.LabelNames(r.Context(), nil, set...)
			if err != nil {
				return err
			}
			for _, n := range ns {
				names[n] = struct{}{}
			}
		}
		return nil
	})
	if aerr != nil {
		return apiResult{}, aerr
	}
	out := make([]string, 0, len(names))
	for n := range names {
		out = append(out, n)
	}
	slices.Sort(out)
	return apiResult{data: out}, nil
}

func (e *Embedded) apiLabelValues(r *http.Request) (apiResult, *apiError) {
	name := r.PathValue("name")
	if !model.UTF8Validation.IsValidLabelName(name) {
		return apiResult{}, &apiError{"bad_data", http.StatusBadRequest, fmt.Errorf("invalid label name: %q", name)}
	}
	sets, aerr := e.matchersParam(r, false)
	if aerr != nil {
		return apiResult{}, aerr
	}
	vals := map[string]struct{}{}
	aerr = e.withQuerier(r, func(q storage.Querier, _, _ int64) error {
		if len(sets) == 0 {
			sets = [][]*labels.Matcher{nil}
		}
		for _, set := range sets {
			vs, _, err := q.LabelValues(r.Context(), name, nil, set...)
			if err != nil {
				return err
			}
			for _, v := range vs {
				vals[v] = struct{}{}
			}
		}
		return nil
	})
	if aerr != nil {
		return apiResult{}, aerr
	}
	out := make([]string, 0, len(vals))
	for v := range vals {
		out = append(out, v)
	}
	slices.Sort(out)
	return apiResult{data: out}, nil
}

// apiTarget is one entry of /api/v1/targets' activeTargets.
type apiTarget struct {
	DiscoveredLabels   map[string]string `json:"discoveredLabels"`
	Labels             map[string]string `json:"labels"`
	ScrapePool         string            `json:"scrapePool"`
	ScrapeURL          string            `json:"scrapeUrl"`
	GlobalURL          string            `json:"globalUrl"`
	LastError          string            `json:"lastError"`
	LastScrape         time.Time         `json:"lastScrape"`
	LastScrapeDuration float64           `json:"lastScrapeDuration"`
	Health             string            `json:"health"`
	ScrapeInterval     string            `json:"scrapeInterval"`
	ScrapeTimeout      string            `json:"scrapeTimeout"`
}

func (e *Embedded) apiTargets(*http.Request) (apiResult, *apiError) {
	active := []apiTarget{}
	for _, h := range e.Targets() {
		active = append(active, apiTarget{
			DiscoveredLabels:   map[string]string{},
			Labels:             h.Target.Labels,
			ScrapePool:         h.Target.Labels["job"],
			ScrapeURL:          h.Target.URL,
			GlobalURL:          h.Target.URL,
			LastError:          h.LastError,
			LastScrape:         h.LastScrape,
			LastScrapeDuration: h.LastDuration.Seconds(),
			Health:             h.Health,
			ScrapeInterval:     model.Duration(e.opts.ScrapeInterval).String(),
			ScrapeTimeout:      model.Duration(e.opts.ScrapeTimeout).String(),
		})
	}
	return apiResult{data: map[string]any{"activeTargets": active, "droppedTargets": []apiTarget{}}}, nil
}

// parseAPITime reads a time as the Prometheus API does: Unix seconds with
// an optional fraction, or RFC 3339.
func parseAPITime(s string) (time.Time, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		sec, frac := math.Modf(f)
		frac = math.Round(frac*1000) / 1000
		return time.Unix(int64(sec), int64(frac*float64(time.Second))).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("cannot parse %q to a valid timestamp", s)
}

// parseAPIDuration reads a duration as the Prometheus API does: seconds
// with an optional fraction, or a Prometheus duration (1m30s).
func parseAPIDuration(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		ns := f * float64(time.Second)
		if math.IsNaN(ns) || ns >= math.MaxInt64 || ns < math.MinInt64 {
			return 0, fmt.Errorf("cannot parse %q to a valid duration. It overflows int64", s)
		}
		return time.Duration(ns), nil
	}
	if d, err := model.ParseDuration(strings.TrimSpace(s)); err == nil {
		return time.Duration(d), nil
	}
	return 0, fmt.Errorf("cannot parse %q to a valid duration", s)
}
