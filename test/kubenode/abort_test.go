package kubenode_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// abortExperiment is a run of the chain system whose timeline is long
// enough that a pod deleted early in it ends the run well before it would
// have: a fault at 40 s, the run over at about 75 s.
const abortExperiment = `apiVersion: vecro/v1
kind: Experiment
name: chain-abort
system: SYSTEM
faults:
  name: chain-abort
  namespace: chain
  faults:
    - {name: leaf-delay, target: leaf, start: 40s, duration: 20s, behaviors: {net-delay: {time: 20ms}}}
seed: 3
step: 1s
phases: {warm-up: 10s, recovery: 5s}
load: {rate: "10"}
`

// deletedPodAbortsRun deletes a pod of a running experiment on the node:
// the run must end on the runtime's failure report (the channel a dead
// service process reaches locally, TestADeadInstanceAbortsTheRun), long
// before its timeline would, with an error naming the phase and the pod,
// and remove its namespace on the way out.
func deletedPodAbortsRun(ctx context.Context, t *testing.T, vecro, root string, kubeFlags []string, cs kubernetes.Interface) {
	t.Helper()
	dir := t.TempDir()
	exp := filepath.Join(dir, "chain-abort.yaml")
	body := strings.Replace(abortExperiment, "SYSTEM", filepath.Join(root, "fixtures", "systems", "chain.yaml"), 1)
	if err := os.WriteFile(exp, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"run", "-v", "--no-plots", "--artifacts", dir, "--runtime", "kube"}, kubeFlags...)
	args = append(args, exp)
	cmd := exec.CommandContext(ctx, vecro, args...)
	cmd.Dir = root
	var stdout strings.Builder
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// -v logs "deployed" when Start has returned: from then on the run
	// watches its pods.
	var log strings.Builder
	deployed := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		seen := false
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if !seen && strings.Contains(sc.Text(), "deployed") {
				seen = true
				close(deployed)
			}
		}
	}()
	select {
	case <-deployed:
	case <-done:
		_ = cmd.Wait()
		t.Fatalf("vecro run ended before it deployed:\n%s%s", stdout.String(), log.String())
	case <-ctx.Done():
		t.Fatalf("vecro run never deployed: %v\n%s", ctx.Err(), log.String())
	}
	time.Sleep(5 * time.Second) // into the warm-up
	pods, err := cs.CoreV1().Pods("chain").List(ctx, metav1.ListOptions{LabelSelector: "vecro-sim/service-name=mid"})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("mid's pod: %v (%v)", pods, err)
	}
	victim := pods.Items[0].Name
	if err := cs.CoreV1().Pods("chain").Delete(ctx, victim, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deleted := time.Now()
	<-done
	err = cmd.Wait()
	took := time.Since(deleted)
	out := stdout.String() + log.String()
	if err == nil {
		t.Fatalf("the run succeeded although pod %s was deleted in its warm-up:\n%s", victim, out)
	}
	reason := ""
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "failed during") {
			reason = l
		}
	}
	t.Logf("vecro run ended %s after pod %s was deleted (%v): %s", took.Round(time.Second), victim, err, reason)
	// "is being deleted", or "is gone" had the deletion been over before
	// the watch saw it.
	for _, want := range []string{"the system failed during", "pod chain/" + victim + " is "} {
		if !strings.Contains(out, want) {
			t.Errorf("vecro run's output does not say %q:\n%s", want, out)
		}
	}
	// Its timeline had about 70 s left, and Stop's teardown comes after
	// either way: a run that ended on its timeline would take 70 s plus
	// that. Two runs here beside a build: 14 s and 32 s, teardown
	// included.
	if took > 60*time.Second {
		t.Errorf("vecro run ended %s after the deletion: the failure did not end it", took.Round(time.Second))
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		_, err := cs.CoreV1().Namespaces().Get(ctx, "chain", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("namespace chain 2 min after the aborted run: %v", err)
			break
		}
		time.Sleep(2 * time.Second)
	}
}
