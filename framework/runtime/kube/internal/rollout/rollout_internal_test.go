package rollout

import (
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The pod states a kubelet reports, turned into the report's lines.
func TestPodProblems(t *testing.T) {
	cases := []struct {
		name string
		pod  corev1.Pod
		want []string
	}{
		{
			name: "image pull",
			pod: corev1.Pod{Status: corev1.PodStatus{
				Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse, Message: "containers with unready status: [service]"}},
				ContainerStatuses: []corev1.ContainerStatus{{Name: "service", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
					Reason: "ImagePullBackOff", Message: `Back-off pulling image "vecro.local/service:nope"`}}}},
			}},
			want: []string{
				"Ready: containers with unready status: [service]",
				`container service waiting: ImagePullBackOff: Back-off pulling image "vecro.local/service:nope"`,
			},
		},
		{
			name: "crash loop",
			pod: corev1.Pod{Status: corev1.PodStatus{
				InitContainerStatuses: []corev1.ContainerStatus{{Name: "db", Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}},
				ContainerStatuses: []corev1.ContainerStatus{{Name: "service", RestartCount: 4,
					State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 40s"}},
					LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error", Message: "seed dataset: connection refused\n"}}}},
			}},
			want: []string{
				"container service waiting: CrashLoopBackOff: back-off 40s",
				"container service restarted 4 time(s), last exit 1 (Error): seed dataset: connection refused",
			},
		},
		{
			name: "unscheduled",
			pod: corev1.Pod{Status: corev1.PodStatus{Conditions: []corev1.PodCondition{{
				Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: "0/3 nodes are available: 3 Insufficient cpu."}}}},
			want: []string{"not scheduled (Unschedulable): 0/3 nodes are available: 3 Insufficient cpu."},
		},
		{
			name: "probe failing",
			pod: corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &metav1.Time{Time: time.Unix(1, 0)}}, Status: corev1.PodStatus{
				ContainerStatuses: []corev1.ContainerStatus{{Name: "service", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}},
			}},
			want: []string{"being deleted", "container service running but not ready (readiness probe)"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := PodProblems(&tc.pod)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestRolloutErrorMessage(t *testing.T) {
	e := &Error{Namespace: "social", Timeout: time.Minute, Waited: time.Minute + 40*time.Millisecond, Cause: errors.New("deadline of 1m0s passed"), NotReady: []DeploymentReport{{
		Name: "social-text", Want: 2, Updated: 2, Ready: 1, Available: 1, Old: 1,
		Conditions: []string{"Available=False MinimumReplicasUnavailable: Deployment does not have minimum availability."},
		Pods:       []PodReport{{Name: "social-text-abc-12345", Phase: corev1.PodPending, Node: "w1", Problems: []string{"container service waiting: ErrImagePull: not found"}, Events: []string{"Failed (×3): Error: ErrImagePull"}}},
	}}}
	want := `rollout in namespace social: 1 deployment(s) not ready after 1m0s (deadline of 1m0s passed): social-text
  deployment social-text: 2 wanted, 2 updated, 1 ready, 1 available, 1 old
    condition Available=False MinimumReplicasUnavailable: Deployment does not have minimum availability.
    pod social-text-abc-12345: Pending on w1
      container service waiting: ErrImagePull: not found
      event Failed (×3): Error: ErrImagePull
hint: an image cannot be pulled; on a cluster without internet, load vecro's images with --registry or --containerd-socket and name local database images with --db-image (Options.Loader, DBImages)`
	if got := e.Error(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if !errors.Is(e, e.Cause) {
		t.Error("Error does not unwrap to its cause")
	}
	// The node of TestSocialDelayE2E, before --cpu-request existed: 25
	// services at 200m on 2 cores.
	e.NotReady[0].Pods[0].Problems = []string{"not scheduled (Unschedulable): 0/1 nodes are available: 1 Insufficient cpu."}
	e.NotReady[0].Pods[0].Events = nil
	if got := e.Error(); !strings.HasSuffix(got, "\nhint: the pods ask for more than the nodes have; lower every container's request with --cpu-request (e.g. 20m) or --memory-request (Options.CPURequest, MemoryRequest)") {
		t.Errorf("no hint for Insufficient cpu:\n%s", got)
	}
}
