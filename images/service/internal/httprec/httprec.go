// Package httprec notes what a handler answered: the one response-writer
// wrapper of the service, shared by the metrics (outermost) and the
// telemetry middleware inside them, so that a request is wrapped once.
package httprec

import "net/http"

// Recorder notes the status and body bytes of a response.
type Recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

// Wrap returns w as a Recorder: w itself when an outer layer already
// wrapped it, so that the layers share one.
func Wrap(w http.ResponseWriter) *Recorder {
	if r, ok := w.(*Recorder); ok {
		return r
	}
	return &Recorder{ResponseWriter: w}
}

// Status is the status the handler answered: 200 when it wrote a body or
// nothing without a status, as net/http sends.
func (r *Recorder) Status() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}

// Bytes counts the body bytes written.
func (r *Recorder) Bytes() int64 { return r.bytes }

// WriteHeader implements http.ResponseWriter; informational (1xx) headers
// are not the answer.
func (r *Recorder) WriteHeader(code int) {
	if r.status == 0 && code >= 200 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (r *Recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the server's writer.
func (r *Recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
