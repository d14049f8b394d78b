package kubenode

import (
	"fmt"
	"path/filepath"
	"strconv"
)

// containerdConfig is containerd's config.toml. Each setting here was
// needed on this kind of machine:
//   - restrict_oom_score_adj: the sandbox has no CAP_SYS_RESOURCE, so runc
//     may not lower a container's oom_score_adj; without it every pod
//     sandbox fails with "can't get final child's PID from pipe";
//   - SystemdCgroup = false: no systemd; the kubelet uses cgroupfs too;
//   - sandbox_image: the node's own pause image (nothing can be pulled);
//   - every path under the run dir, so that nothing of it lands in
//     /var/lib/containerd, /run/containerd or /opt/containerd.
func (c Config) containerdConfig(b binaries, pauseRef string) string {
	d := c.containerdDir()
	return fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = %q

[ttrpc]
  address = %q

[plugins."io.containerd.internal.v1.opt"]
  path = %q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  restrict_oom_score_adj = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = %q
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %q
    conf_dir = %q
`, filepath.Join(d, "root"), filepath.Join(d, "state"), c.containerdSock(), c.containerdSock()+".ttrpc",
		filepath.Join(d, "opt"), pauseRef, b.runc, b.cniBin, c.cniConfDir())
}

// cniConfig is the pod network: a bridge with host-local addresses from
// PodCIDR (the node's share of ClusterCIDR, which kube-controller-manager
// allocates to it), and portmap for hostPorts. No masquerading: pods only
// talk to each other, the node and Services, and the guard drops anything
// they send off the machine.
func (c Config) cniConfig() string {
	return fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": "vecro",
  "plugins": [
    {
      "type": "bridge",
      "bridge": %q,
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": %q, "gateway": %q}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": %q
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
`, Bridge, PodCIDR, PodGateway, c.path("cni", "ipam"))
}

// kubeletConfig is the KubeletConfiguration. On this machine:
// cgroupDriver cgroupfs (no systemd), failCgroupV1 false (a hybrid cgroup
// v1 host), failSwapOn false; eviction thresholds low and image GC off so
// that a full disk on a shared machine neither evicts the test pods nor
// deletes the preloaded images, which cannot be pulled again.
//
// Container logs rotate at 128 KiB (the default is 10 MiB), two files
// kept: the busiest services of the e2e's social run (20 requests/s)
// write about 1,100 lines of ~300 bytes, 2–3 times that, so their logs
// rotate during the run and a read at its end finds the last file only.
// Only a runtime that follows the logs while the system runs reads them
// all; the e2e checks that it does.
func (c Config) kubeletConfig() string {
	pki := c.pkiDir()
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: %q
port: %d
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: %d
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: %q
authorization:
  mode: Webhook
tlsCertFile: %q
tlsPrivateKeyFile: %q
containerRuntimeEndpoint: unix://%s
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
clusterDNS: [%q]
clusterDomain: %q
resolvConf: %q
evictionHard:
  memory.available: "50Mi"
  nodefs.available: "1%%"
  nodefs.inodesFree: "1%%"
  imagefs.available: "1%%"
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
maxPods: 110
podPidsLimit: -1
registerNode: true
syncFrequency: 10s
fileCheckFrequency: 5s
nodeStatusUpdateFrequency: 5s
containerLogMaxSize: 128Ki
containerLogMaxFiles: 2
`, c.NodeIP, KubeletPort, KubeletHealth, filepath.Join(pki, "ca.crt"), filepath.Join(pki, "kubelet.crt"), filepath.Join(pki, "kubelet.key"),
		c.containerdSock(), DNSServiceIP, ClusterDomain, c.path("resolv.conf"))
}

// kubeProxyConfig runs kube-proxy in nftables mode with its conntrack
// settings zeroed (= leave the kernel's as they are: the sandbox may not
// change them). Without kube-proxy a ClusterIP is not translated at all.
func (c Config) kubeProxyConfig() string {
	return fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: %q
mode: nftables
hostnameOverride: %q
clusterCIDR: %q
bindAddress: %q
healthzBindAddress: 127.0.0.1:%d
metricsBindAddress: 127.0.0.1:%d
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
  udpTimeout: 0s
  udpStreamTimeout: 0s
nftables:
  syncPeriod: 30s
  minSyncPeriod: 0s
`, c.kubeconfig("kube-proxy"), NodeName, ClusterCIDR, c.NodeIP, ProxyHealth, ProxyMetrics)
}

// components are the node's programs with their arguments, in start order.
func (c Config) components(b binaries) map[string]component {
	pki := func(f string) string { return filepath.Join(c.pkiDir(), f) }
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(EtcdPort)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(EtcdPeerPort)
	return map[string]component{
		"etcd": {name: "etcd", path: b.etcd, args: []string{
			"--name=vecro-node", "--data-dir=" + c.etcdDir(),
			"--listen-client-urls=" + etcdURL, "--advertise-client-urls=" + etcdURL,
			"--listen-peer-urls=" + peerURL, "--initial-advertise-peer-urls=" + peerURL,
			"--initial-cluster=vecro-node=" + peerURL, "--initial-cluster-state=new",
			"--quota-backend-bytes=1073741824", "--log-level=warn",
		}},
		"kube-apiserver": {name: "kube-apiserver", path: b.apiserver, args: []string{
			"--etcd-servers=" + etcdURL,
			"--advertise-address=" + c.NodeIP,
			"--bind-address=0.0.0.0",
			"--secure-port=" + strconv.Itoa(APIServerPort),
			"--service-cluster-ip-range=" + ServiceCIDR,
			"--service-account-issuer=https://kubernetes.default.svc." + ClusterDomain,
			"--service-account-key-file=" + pki("sa.pub"),
			"--service-account-signing-key-file=" + pki("sa.key"),
			"--api-audiences=https://kubernetes.default.svc." + ClusterDomain,
			"--client-ca-file=" + pki("ca.crt"),
			"--tls-cert-file=" + pki("apiserver.crt"),
			"--tls-private-key-file=" + pki("apiserver.key"),
			"--kubelet-client-certificate=" + pki("apiserver-kubelet-client.crt"),
			"--kubelet-client-key=" + pki("apiserver-kubelet-client.key"),
			"--kubelet-certificate-authority=" + pki("ca.crt"),
			"--kubelet-preferred-address-types=InternalIP",
			"--authorization-mode=Node,RBAC",
			"--enable-admission-plugins=NodeRestriction",
			"--allow-privileged=true",
			"--profiling=false",
			"--endpoint-reconciler-type=lease",
			"--v=1",
		}},
		"kube-controller-manager": {name: "kube-controller-manager", path: b.controllerManager, args: []string{
			"--kubeconfig=" + c.kubeconfig("controller-manager"),
			"--authentication-kubeconfig=" + c.kubeconfig("controller-manager"),
			"--authorization-kubeconfig=" + c.kubeconfig("controller-manager"),
			"--bind-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(CMPort),
			"--cert-dir=" + c.path("controller-manager"),
			"--leader-elect=false",
			"--use-service-account-credentials=true",
			"--service-account-private-key-file=" + pki("sa.key"),
			"--root-ca-file=" + pki("ca.crt"),
			"--cluster-signing-cert-file=" + pki("ca.crt"),
			"--cluster-signing-key-file=" + pki("ca.key"),
			"--allocate-node-cidrs=true",
			"--cluster-cidr=" + ClusterCIDR,
			"--node-cidr-mask-size=24",
			"--service-cluster-ip-range=" + ServiceCIDR,
			"--v=1",
		}},
		"kube-scheduler": {name: "kube-scheduler", path: b.scheduler, args: []string{
			"--kubeconfig=" + c.kubeconfig("scheduler"),
			"--authentication-kubeconfig=" + c.kubeconfig("scheduler"),
			"--authorization-kubeconfig=" + c.kubeconfig("scheduler"),
			"--bind-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(SchedulerPort),
			"--cert-dir=" + c.path("scheduler"),
			"--leader-elect=false",
			"--v=1",
		}},
		"containerd": {name: "containerd", path: b.containerd, args: []string{
			"--config=" + c.path("containerd", "config.toml"), "--log-level=warn",
		}},
		"kubelet": {name: "kubelet", path: b.kubelet, args: []string{
			"--config=" + c.path("kubelet-config.yaml"),
			"--kubeconfig=" + c.kubeconfig("kubelet"),
			"--root-dir=" + c.kubeletDir(),
			"--cert-dir=" + c.path("kubelet-pki"),
			"--hostname-override=" + NodeName,
			"--node-ip=" + c.NodeIP,
			// cAdvisor refreshes a container's stats every 10-15 s by
			// default, and /metrics/cadvisor serves them with those
			// timestamps: too coarse for the 5 s rate windows of a
			// test-length experiment. 1 s (growing while a container is
			// idle) costs the node little.
			"--housekeeping-interval=1s",
			"--v=1",
		}},
		"kube-proxy": {name: "kube-proxy", path: b.proxy, args: []string{
			// v=2 logs each sync of the rules and how long it took.
			"--config=" + c.path("kube-proxy-config.yaml"), "--v=2",
		}},
	}
}
