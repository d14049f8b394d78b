package kube

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/vecrosim/vecro/framework/logs"
)

// serviceContainer is the container of a service pod that runs the service
// binary (manifest's pod template), whose stdout holds its request log.
const serviceContainer = "service"

// podLogs is a Deployment's logs.Source on Kubernetes: the service
// containers' own stdout, the same JSON lines the embedded runtime reads
// from its files, followed through the API server from the moment the
// system is up into a spool file per pod.
//
// Following, not reading once at the end: the kubelet rotates a
// container's log at its size limit (10 MiB by default, about 40,000
// request lines) and a read afterwards gets the newest file only, so a
// long run would lose its start. A follow stream goes on across the
// kubelet's rotations. A pod whose log could never be followed is read
// once at the end instead.
type podLogs struct {
	cs        kubernetes.Interface
	ns        string
	followers []*follower
}

var _ logs.Source = (*podLogs)(nil)

// followLogs starts following every pod's service container until ctx
// ends, spooling into dir, which is removed when the last follower ends.
func followLogs(ctx context.Context, cs kubernetes.Interface, ns string, pods []string) (*podLogs, error) {
	dir, err := os.MkdirTemp("", "vecro-podlogs-")
	if err != nil {
		return nil, fmt.Errorf("spool for pod logs: %w", err)
	}
	p := &podLogs{cs: cs, ns: ns}
	var wg sync.WaitGroup
	for _, pod := range pods {
		f := &follower{pod: pod, path: filepath.Join(dir, pod+".log")}
		p.followers = append(p.followers, f)
		wg.Go(func() { f.run(ctx, cs, ns) })
	}
	go func() {
		wg.Wait()
		_ = os.RemoveAll(dir)
	}()
	return p, nil
}

// Lines implements logs.Source: the spooled lines of the window, once the
// followers have gone quiet (the load has ended by the time a run reads
// its logs, so what is still on its way is milliseconds behind).
func (p *podLogs) Lines(ctx context.Context, from, to time.Time) ([]logs.Line, logs.Stats, error) {
	deadline := time.Now().Add(followSettle)
	for time.Now().Before(deadline) && !p.quiet(followQuiet) {
		select {
		case <-ctx.Done():
			return nil, logs.Stats{}, ctx.Err()
		case <-time.After(followQuiet / 3):
		}
	}
	var spooled logs.Files
	var unfollowed []string
	for _, f := range p.followers {
		if path, ok := f.spool(); ok {
			spooled = append(spooled, path)
		} else {
			unfollowed = append(unfollowed, f.pod)
		}
	}
	out, st, err := spooled.Lines(ctx, from, to)
	if err != nil {
		return nil, st, err
	}
	for _, pod := range unfollowed {
		if err := p.readOnce(ctx, pod, from, to, &out, &st); err != nil {
			return nil, st, err
		}
	}
	slices.SortStableFunc(out, func(a, b logs.Line) int { return a.Time.Compare(b.Time) })
	return out, st, nil
}

const (
	// followQuiet is how long every follower must have written nothing
	// for the spool to count as caught up.
	followQuiet = 300 * time.Millisecond
	// followSettle bounds the wait for that.
	followSettle = 5 * time.Second
)

func (p *podLogs) quiet(d time.Duration) bool {
	for _, f := range p.followers {
		if !f.quietFor(d) {
			return false
		}
	}
	return true
}

// readOnce reads pod's current log file through the API server, the lines
// of the window only.
func (p *podLogs) readOnce(ctx context.Context, pod string, from, to time.Time, out *[]logs.Line, st *logs.Stats) error {
	// A second of slack: the kubelet's timestamps are its own, not the
	// lines', and a line of the window's first instant must not be lost.
	since := metav1.NewTime(from.Add(-time.Second))
	rc, err := p.cs.CoreV1().Pods(p.ns).GetLogs(pod, &corev1.PodLogOptions{Container: serviceContainer, SinceTime: &since}).Stream(ctx)
	if err != nil {
		return fmt.Errorf("read the log of pod %s/%s: %w", p.ns, pod, err)
	}
	defer rc.Close()
	err = logs.Parse(rc, func(l logs.Line) {
		if !l.Time.Before(from) && l.Time.Before(to) {
			*out = append(*out, l)
			st.Lines++
		}
	}, &st.Other)
	if err != nil {
		return fmt.Errorf("read the log of pod %s/%s: %w", p.ns, pod, err)
	}
	return nil
}

// follower follows one pod's service container log into a spool file.
type follower struct {
	pod, path string

	// last is the kubelet's timestamp of the last line spooled (with
	// Timestamps on, every line starts with it): a stream opened again
	// after a break starts at its second and skips what was spooled. Only
	// the follower's own goroutine (run, copy) touches it.
	last time.Time

	mu        sync.Mutex
	connected bool      // a stream was open at least once
	lastWrite time.Time // when a line was last spooled
}

func (f *follower) run(ctx context.Context, cs kubernetes.Interface, ns string) {
	out, err := os.Create(f.path)
	if err != nil {
		return // spool() then reports no spool: the pod is read once
	}
	defer out.Close()
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		opts := &corev1.PodLogOptions{Container: serviceContainer, Follow: true, Timestamps: true}
		if !f.last.IsZero() {
			since := metav1.NewTime(f.last)
			opts.SinceTime = &since
		}
		rc, err := cs.CoreV1().Pods(ns).GetLogs(f.pod, opts).Stream(ctx)
		if err == nil {
			f.mu.Lock()
			f.connected = true
			f.mu.Unlock()
			f.copy(rc, out)
			rc.Close()
			backoff = 100 * time.Millisecond
		}
		// The stream ended: the container exited, the API server or the
		// kubelet closed it, or ctx ended. Open it again unless ctx did.
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// copy spools the stream's lines without their kubelet timestamps,
// skipping lines a reopened stream repeats.
func (f *follower) copy(r io.Reader, out io.Writer) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 2<<20)
	var buf []byte
	for sc.Scan() {
		line := sc.Bytes()
		ts, rest, ok := bytes.Cut(line, []byte{' '})
		at, err := time.Parse(time.RFC3339Nano, string(ts))
		if !ok || err != nil {
			// Not a timestamped line (the kubelet prefixes every one):
			// keep it whole.
			at, rest = time.Time{}, line
		}
		if !at.IsZero() && !at.After(f.last) {
			continue
		}
		buf = append(append(buf[:0], rest...), '\n')
		if _, err := out.Write(buf); err != nil {
			return
		}
		if !at.IsZero() {
			f.last = at
		}
		f.mu.Lock()
		f.lastWrite = time.Now()
		f.mu.Unlock()
	}
}

func (f *follower) quietFor(d time.Duration) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return time.Since(f.lastWrite) >= d
}

// spool is the follower's spool file, if its pod's log was ever followed.
func (f *follower) spool() (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.path, f.connected
}
