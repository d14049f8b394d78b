package rollout

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// DefaultTimeout bounds the wait for every Deployment of a system to
// be ready. Pulling mongo:4.2 on a fresh kind node takes most of it.
const DefaultTimeout = 5 * time.Minute

// Error says which Deployments were not ready by the deadline (or
// gave up on their own) and why, from their status, their pods and events.
type Error struct {
	Namespace string
	// Timeout is the wait's bound; Waited is how long it really waited,
	// shorter when the caller's context or a progress deadline ended it.
	Timeout, Waited time.Duration
	// NotReady has one report per Deployment that did not finish.
	NotReady []DeploymentReport
	// Cause is what ended the wait: the deadline, the context, or a
	// Deployment's progress deadline.
	Cause error
}

// DeploymentReport is the state of one unfinished Deployment.
type DeploymentReport struct {
	Name                                 string
	Want, Updated, Ready, Available, Old int32
	// Conditions are the Deployment's conditions that are not true, as
	// "Type=Status Reason: message".
	Conditions []string
	Pods       []PodReport
}

// PodReport is why one pod is not ready.
type PodReport struct {
	Name  string
	Phase corev1.PodPhase
	Node  string
	// Problems are the pod's own explanations: an unscheduled pod's
	// condition, each container's waiting reason or last termination.
	Problems []string
	// Events are the pod's latest warning events, oldest first.
	Events []string
}

func (e *Error) Error() string {
	var b strings.Builder
	names := make([]string, len(e.NotReady))
	for i, d := range e.NotReady {
		names[i] = d.Name
	}
	fmt.Fprintf(&b, "rollout in namespace %s: %d deployment(s) not ready after %v (%v): %s",
		e.Namespace, len(e.NotReady), e.Waited.Round(100*time.Millisecond), e.Cause, strings.Join(names, ", "))
	for _, d := range e.NotReady {
		fmt.Fprintf(&b, "\n  deployment %s: %d wanted, %d updated, %d ready, %d available", d.Name, d.Want, d.Updated, d.Ready, d.Available)
		if d.Old > 0 {
			fmt.Fprintf(&b, ", %d old", d.Old)
		}
		for _, c := range d.Conditions {
			fmt.Fprintf(&b, "\n    condition %s", c)
		}
		if len(d.Pods) == 0 {
			b.WriteString("\n    no pods")
		}
		for _, p := range d.Pods {
			fmt.Fprintf(&b, "\n    pod %s: %s", p.Name, p.Phase)
			if p.Node != "" {
				fmt.Fprintf(&b, " on %s", p.Node)
			}
			for _, pr := range p.Problems {
				fmt.Fprintf(&b, "\n      %s", pr)
			}
			for _, ev := range p.Events {
				fmt.Fprintf(&b, "\n      event %s", ev)
			}
		}
	}
	if h := e.hint(); h != "" {
		b.WriteString("\n" + h)
	}
	return b.String()
}

// hint says what a user can do about the commonest causes seen in the
// reports: requests larger than the cluster (the original's 200m per
// service is 5 cores for the social system) and images that cannot be
// pulled (a cluster with no internet).
func (e *Error) hint() string {
	var cpu, mem, pull bool
	for _, d := range e.NotReady {
		for _, p := range d.Pods {
			for _, s := range slices.Concat(p.Problems, p.Events) {
				cpu = cpu || strings.Contains(s, "Insufficient cpu")
				mem = mem || strings.Contains(s, "Insufficient memory")
				pull = pull || strings.Contains(s, "ErrImagePull") || strings.Contains(s, "ImagePullBackOff")
			}
		}
	}
	var hints []string
	if cpu || mem {
		hints = append(hints, "hint: the pods ask for more than the nodes have; lower every container's request with --cpu-request (e.g. 20m) or --memory-request (Options.CPURequest, MemoryRequest)")
	}
	if pull {
		hints = append(hints, "hint: an image cannot be pulled; on a cluster without internet, load vecro's images with --registry or --containerd-socket and name local database images with --db-image (Options.Loader, DBImages)")
	}
	return strings.Join(hints, "\n")
}

// Unwrap is what ended the wait.
func (e *Error) Unwrap() error { return e.Cause }

// errProgressDeadline is the cause when a Deployment gave up by itself.
var errProgressDeadline = errors.New("progress deadline exceeded")

// Wait waits until every named Deployment in namespace has rolled out (as
// `kubectl rollout status`: observed, all replicas updated, available, no
// old ones) or timeout passes, and then reports what is not ready and why
// as an *Error.
func Wait(ctx context.Context, cs kubernetes.Interface, namespace string, names []string, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	start := time.Now()
	pending := slices.Clone(names)
	var lastErr error
	cond := func(ctx context.Context) (bool, error) {
		var still []string
		for _, name := range pending {
			d, err := cs.AppsV1().Deployments(namespace).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				// Transient API errors must not end the wait; the
				// report says what the last one was, unless it only
				// says that the deadline is near.
				if dl, ok := ctx.Deadline(); ctx.Err() == nil && (!ok || time.Until(dl) > time.Second) {
					lastErr = err
				}
				still = append(still, name)
				continue
			}
			done, err := rolledOut(d)
			if err != nil {
				return false, err
			}
			if !done {
				still = append(still, name)
			}
		}
		pending = still
		return len(pending) == 0, nil
	}
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, timeout, true, cond)
	if err == nil {
		return nil
	}
	waited := time.Since(start)
	cause := err
	switch {
	case errors.Is(err, errProgressDeadline):
	case ctx.Err() != nil:
		cause = ctx.Err()
	case errors.Is(err, context.DeadlineExceeded):
		cause = fmt.Errorf("deadline of %v passed", timeout)
	}
	if lastErr != nil {
		cause = fmt.Errorf("%w; last API error: %v", cause, lastErr)
	}
	// The report is worth a few seconds even when ctx is done.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	re := &Error{Namespace: namespace, Timeout: timeout, Waited: waited, Cause: cause}
	for _, name := range pending {
		re.NotReady = append(re.NotReady, diagnose(dctx, cs, namespace, name))
	}
	return re
}

// rolledOut is kubectl's rollout status test; a Deployment past its
// progress deadline is an error, since it will not make progress by itself.
func rolledOut(d *appsv1.Deployment) (bool, error) {
	if d.Generation > d.Status.ObservedGeneration {
		return false, nil
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" {
			return false, fmt.Errorf("deployment %s: %w: %s", d.Name, errProgressDeadline, c.Message)
		}
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	return s.UpdatedReplicas >= want && s.Replicas == s.UpdatedReplicas && s.AvailableReplicas >= s.UpdatedReplicas, nil
}

// diagnose reads why a Deployment is not ready: its conditions, its pods'
// conditions and container states, and their warning events.
func diagnose(ctx context.Context, cs kubernetes.Interface, namespace, name string) DeploymentReport {
	r := DeploymentReport{Name: name}
	d, err := cs.AppsV1().Deployments(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			r.Conditions = append(r.Conditions, "deployment does not exist")
		} else {
			r.Conditions = append(r.Conditions, "cannot read deployment: "+err.Error())
		}
		return r
	}
	r.Want = 1
	if d.Spec.Replicas != nil {
		r.Want = *d.Spec.Replicas
	}
	r.Updated, r.Ready, r.Available = d.Status.UpdatedReplicas, d.Status.ReadyReplicas, d.Status.AvailableReplicas
	r.Old = d.Status.Replicas - d.Status.UpdatedReplicas
	for _, c := range d.Status.Conditions {
		if c.Status != corev1.ConditionTrue || c.Type == appsv1.DeploymentReplicaFailure {
			r.Conditions = append(r.Conditions, fmt.Sprintf("%s=%s %s: %s", c.Type, c.Status, c.Reason, c.Message))
		}
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		r.Conditions = append(r.Conditions, "bad selector: "+err.Error())
		return r
	}
	pods, err := cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		r.Conditions = append(r.Conditions, "cannot list pods: "+err.Error())
		return r
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.Namespace != namespace || PodReady(p) {
			continue
		}
		r.Pods = append(r.Pods, PodReport{
			Name:     p.Name,
			Phase:    p.Status.Phase,
			Node:     p.Spec.NodeName,
			Problems: PodProblems(p),
			Events:   podEvents(ctx, cs, p),
		})
	}
	return r
}

// PodReady tells whether p is Ready.
func PodReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// PodProblems explains a pod in the terms `kubectl describe` uses.
func PodProblems(p *corev1.Pod) []string {
	var out []string
	if p.DeletionTimestamp != nil {
		out = append(out, "being deleted")
	}
	for _, c := range p.Status.Conditions {
		if c.Status == corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case corev1.PodScheduled:
			out = append(out, fmt.Sprintf("not scheduled (%s): %s", c.Reason, c.Message))
		case corev1.PodReady, corev1.ContainersReady:
			if c.Message != "" {
				out = append(out, fmt.Sprintf("%s: %s", c.Type, c.Message))
			}
		default:
			out = append(out, fmt.Sprintf("%s=%s %s: %s", c.Type, c.Status, c.Reason, c.Message))
		}
	}
	statuses := append(slices.Clone(p.Status.InitContainerStatuses), p.Status.ContainerStatuses...)
	for _, cs := range statuses {
		switch {
		case cs.State.Waiting != nil:
			out = append(out, fmt.Sprintf("container %s waiting: %s: %s", cs.Name, cs.State.Waiting.Reason, cs.State.Waiting.Message))
		case cs.State.Terminated != nil:
			t := cs.State.Terminated
			out = append(out, fmt.Sprintf("container %s terminated: exit %d (%s): %s", cs.Name, t.ExitCode, t.Reason, t.Message))
		case !cs.Ready:
			out = append(out, fmt.Sprintf("container %s running but not ready (readiness probe)", cs.Name))
		}
		if t := cs.LastTerminationState.Terminated; t != nil {
			out = append(out, fmt.Sprintf("container %s restarted %d time(s), last exit %d (%s): %s", cs.Name, cs.RestartCount, t.ExitCode, t.Reason, strings.TrimSpace(t.Message)))
		}
	}
	return out
}

// maxEvents is how many of a pod's warning events a report quotes.
const maxEvents = 4

func podEvents(ctx context.Context, cs kubernetes.Interface, p *corev1.Pod) []string {
	sel := fields.Set{"involvedObject.kind": "Pod", "involvedObject.namespace": p.Namespace, "involvedObject.name": p.Name}.AsSelector().String()
	evs, err := cs.CoreV1().Events(p.Namespace).List(ctx, metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		return []string{"cannot list events: " + err.Error()}
	}
	var warn []corev1.Event
	for _, e := range evs.Items {
		if e.Type == corev1.EventTypeWarning {
			warn = append(warn, e)
		}
	}
	slices.SortFunc(warn, func(a, b corev1.Event) int { return cmp.Compare(eventTime(a).UnixNano(), eventTime(b).UnixNano()) })
	if len(warn) > maxEvents {
		warn = warn[len(warn)-maxEvents:]
	}
	out := make([]string, len(warn))
	for i, e := range warn {
		n := ""
		if e.Count > 1 {
			n = fmt.Sprintf(" (×%d)", e.Count)
		}
		out[i] = fmt.Sprintf("%s%s: %s", e.Reason, n, strings.TrimSpace(e.Message))
	}
	return out
}

func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}
