// Package kubenode brings up and tears down a real single-node Kubernetes
// on this machine, with nothing pulled from the internet: the project's
// end-to-end test bed for the Kubernetes runtime where kind cannot run (no
// Docker daemon).
//
// The node is assembled from Debian's etcd, containerd, runc and CNI
// plugins; kube-apiserver, kube-controller-manager, kube-scheduler, kubelet
// and kube-proxy built from the Go module proxy (tools/kube); crictl
// (tools/crictl); and images packed without Docker by framework/image and
// imported into containerd: the pause image (images/pause), CoreDNS
// (tools/coredns), FerretDB, and the probe test program (probe/).
//
// [Up] is idempotent (running components are kept) and waits for each
// component to be ready, ending when the node is Ready, kube-proxy has
// synced and CoreDNS answers. [Down] stops everything and removes what the
// node put on the host; [Leftovers] lists anything that is still there.
// All state lives in a run dir (default $VECRO_CACHE/kubenode-run): PID
// files, logs, certificates and kubeconfigs (made with crypto/x509),
// containerd's and the kubelet's directories, and etcd on a tmpfs.
//
// `make kube-node-up` and `make kube-node-down` drive it through
// cmd/kubenode. The node rewires the host's networking (a bridge, nftables,
// sysctls), needs root, and is opt-in: its test runs only with
// VECRO_KUBE_NODE=1 or CI=true.
package kubenode
