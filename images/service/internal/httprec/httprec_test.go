package httprec_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/vecrosim/vecro/images/service/internal/httprec"
)

func TestRecorder(t *testing.T) {
	for _, tc := range []struct {
		name   string
		handle func(w http.ResponseWriter)
		status int
		bytes  int64
	}{
		{"nothing written", func(http.ResponseWriter) {}, 200, 0},
		{"body only", func(w http.ResponseWriter) { w.Write([]byte("hello")) }, 200, 5},
		{"status then body", func(w http.ResponseWriter) { w.WriteHeader(503); w.Write([]byte("no")) }, 503, 2},
		{"informational first", func(w http.ResponseWriter) { w.WriteHeader(103); w.WriteHeader(404) }, 404, 0},
	} {
		rec := httprec.Wrap(httptest.NewRecorder())
		tc.handle(rec)
		if rec.Status() != tc.status || rec.Bytes() != tc.bytes {
			t.Errorf("%s: status %d bytes %d, want %d and %d", tc.name, rec.Status(), rec.Bytes(), tc.status, tc.bytes)
		}
	}
	outer := httprec.Wrap(httptest.NewRecorder())
	if httprec.Wrap(outer) != outer {
		t.Error("a second layer wrapped the writer again instead of sharing it")
	}
}
