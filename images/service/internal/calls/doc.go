// Package calls makes a service's downstream calls: GET each callee's URL,
// in list order one after the other (sequential, the original's way) or all
// at once (parallel).
//
// It fixes the original's gaps: a non-2xx answer is an error like a
// transport failure, and the error names the callee (the service turns it
// into a 502); each call is bounded by the incoming request's context (a
// caller that gives up cancels the whole subtree below it) and by a ceiling
// of 120 s, the original's per-call timeout; one keep-alive client with a
// pool sized for load is shared by all requests, and every response body is
// drained and closed, so a deep call graph under load neither leaks
// goroutines nor opens a connection per request.
//
// In parallel mode a failing callee does not cancel its siblings: every
// call runs to its end and the first failure in list order is reported, so
// a fault in one subtree changes neither the load on the others nor their
// connections (a cancelled HTTP/1.1 call costs its connection).
package calls
