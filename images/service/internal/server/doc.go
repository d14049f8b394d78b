// Package server is the HTTP side of the service binary: the handler of the
// service port (any method, any path: workload, storage operations,
// downstream calls, payload) and the admin port's mux (/metrics and
// /healthz open, /faults for the fault agent), plus serving with graceful
// shutdown.
//
// Status codes on the service port: 200 with the payload; 502 when a
// downstream call failed (the body and the X-Vecro-Failed-Callee header name
// the callee); 500 when the workload or the database failed; 499 when the
// caller went away before the answer (nginx's "client closed request", so
// that metrics tell abandoned requests from served ones).
package server
