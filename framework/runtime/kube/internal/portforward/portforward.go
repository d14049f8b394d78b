package portforward

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	cgpf "k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
	streamhttp "k8s.io/streaming/pkg/httpstream"
)

// Forward is one port-forward from 127.0.0.1 to a pod's port, through the
// API server and the pod's kubelet, as `kubectl port-forward` does. Nothing
// in the cluster needs to be exposed.
type Forward struct {
	Namespace, Pod string
	RemotePort     int
	// LocalPort on 127.0.0.1.
	LocalPort int

	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// URL is the forward's local base URL.
func (f *Forward) URL() string { return "http://127.0.0.1:" + strconv.Itoa(f.LocalPort) }

// Done is closed when the forward has stopped: closed, or its connection to
// the pod was lost (the pod went away).
func (f *Forward) Done() <-chan struct{} { return f.done }

// Err is why the forward stopped on its own; nil while it runs or after
// Close.
func (f *Forward) Err() error {
	select {
	case <-f.done:
		return f.err
	default:
		return nil
	}
}

// Close stops the forward and waits for it. Safe to call twice.
func (f *Forward) Close() {
	f.cancel()
	<-f.done
}

// forwardReadyTimeout bounds the wait for the local listener; the stream to
// the pod is dialled before it.
const forwardReadyTimeout = 30 * time.Second

// Open forwards a local port on 127.0.0.1 to port of pod. It prefers
// WebSockets and falls back to SPDY for API servers without them, as
// kubectl does. The forward lives until Close or until ctx ends.
func Open(ctx context.Context, cfg *rest.Config, namespace, pod string, port int, logger *slog.Logger) (*Forward, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	what := fmt.Sprintf("port-forward to %s/%s:%d", namespace, pod, port)
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	url := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(namespace).Name(pod).SubResource("portforward").URL()
	klogger := logr.FromSlogHandler(logger.Handler())
	ws, err := cgpf.NewSPDYOverWebsocketDialerForStreamingWithLogger(klogger, url, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	rt, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	sp := spdy.NewDialerForStreaming(upgrader, &http.Client{Transport: rt}, http.MethodPost, url)
	dialer := cgpf.NewFallbackDialerForStreaming(ws, sp, func(err error) bool {
		return streamhttp.IsUpgradeFailure(err) || streamhttp.IsHTTPSProxyError(err)
	})

	fctx, cancel := context.WithCancel(ctx)
	ready := make(chan struct{})
	pf, err := cgpf.NewOnAddressesForStreamingWithContext(fctx, dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(port)}, ready, io.Discard, &logWriter{logger: logger, msg: what})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	f := &Forward{Namespace: namespace, Pod: pod, RemotePort: port, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		err := pf.ForwardPorts()
		if fctx.Err() == nil {
			if err == nil {
				err = errors.New("connection to the pod was lost")
			}
			f.err = fmt.Errorf("%s: %w", what, err)
			logger.Warn("port-forward stopped", "namespace", namespace, "pod", pod, "port", port, "err", err)
		}
		cancel()
	}()
	select {
	case <-ready:
	case <-f.done:
		cancel()
		if f.err != nil {
			return nil, f.err
		}
		return nil, fmt.Errorf("%s: %w", what, ctx.Err())
	case <-time.After(forwardReadyTimeout):
		f.Close()
		return nil, fmt.Errorf("%s: not ready after %v", what, forwardReadyTimeout)
	}
	ports, err := pf.GetPorts()
	if err != nil || len(ports) != 1 {
		f.Close()
		return nil, fmt.Errorf("%s: no local port (%v)", what, err)
	}
	f.LocalPort = int(ports[0].Local)
	return f, nil
}

// logWriter turns client-go's per-connection error lines into log records.
type logWriter struct {
	logger *slog.Logger
	msg    string
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.logger.Warn(w.msg, "err", string(p))
	return len(p), nil
}

// Set is a set of port-forwards closed together; its zero value is empty
// and ready.
type Set struct {
	mu   sync.Mutex
	list []*Forward
}

// Add puts f in the set.
func (fs *Set) Add(f *Forward) {
	fs.mu.Lock()
	fs.list = append(fs.list, f)
	fs.mu.Unlock()
}

// List is the set's forwards now.
func (fs *Set) List() []*Forward {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return slices.Clone(fs.list)
}

// CloseAll closes every forward and empties the set.
func (fs *Set) CloseAll() {
	fs.mu.Lock()
	list := fs.list
	fs.list = nil
	fs.mu.Unlock()
	for _, f := range list {
		f.Close()
	}
}
