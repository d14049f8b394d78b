package load

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
)

// ErrorKind is why a request failed: a transport failure or an HTTP error
// status. A run never stops on a failed request; it counts it by kind.
type ErrorKind string

// Error kinds, in the order of Kinds.
const (
	// KindTimeout: no complete answer within Spec.Timeout (dial, headers or body).
	KindTimeout ErrorKind = "timeout"
	// KindRefused: the connection was refused (nothing listening).
	KindRefused ErrorKind = "refused"
	// KindReset: the peer reset the connection or the pipe broke.
	KindReset ErrorKind = "reset"
	// KindEOF: the server closed the connection before a complete answer.
	KindEOF ErrorKind = "eof"
	// KindDNS: the target's host name did not resolve.
	KindDNS ErrorKind = "dns"
	// KindCanceled: the run stopped while the request was in flight.
	KindCanceled ErrorKind = "canceled"
	// KindOther: any other transport error (Report.ErrorSamples has the text).
	KindOther ErrorKind = "other"
	// KindStatus4xx and KindStatus5xx: the server answered with that class
	// of status (Report.Status has each code).
	KindStatus4xx ErrorKind = "http_4xx"
	KindStatus5xx ErrorKind = "http_5xx"
)

// Kinds lists every ErrorKind in a fixed order: the order of load.csv's
// err_* columns and of the reports.
var Kinds = []ErrorKind{
	KindTimeout, KindRefused, KindReset, KindEOF, KindDNS, KindCanceled, KindOther,
	KindStatus4xx, KindStatus5xx,
}

// classify names a transport error's kind. runCtx is the run's context, to
// tell a stop (canceled) from the request's own deadline (timeout).
func classify(runCtx context.Context, err error) ErrorKind {
	var nerr net.Error
	var dnsErr *net.DNSError
	switch {
	case runCtx.Err() != nil:
		// Stopping fails the requests in flight by moving their deadlines
		// to now: whatever error that gives, the stop caused it.
		return KindCanceled
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &nerr) && nerr.Timeout():
		return KindTimeout
	case errors.As(err, &dnsErr):
		return KindDNS
	case errors.Is(err, syscall.ECONNREFUSED):
		return KindRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED):
		return KindReset
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return KindEOF
	}
	return KindOther
}

func statusKind(code int) (ErrorKind, bool) {
	switch {
	case code >= 500:
		return KindStatus5xx, true
	case code >= 400:
		return KindStatus4xx, true
	}
	return "", false
}
