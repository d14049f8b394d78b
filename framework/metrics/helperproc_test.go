package metrics_test

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vecrosim/vecro/framework/metrics"
)

// The helper processes of the CPU benchmark are this test binary run again
// with helperEnv set; they print "READY <urls…>" and live until their stdin
// closes.
const (
	helperEnv     = "VECRO_METRICS_HELPER"
	helperCount   = "VECRO_METRICS_TARGETS"
	helperURLs    = "VECRO_METRICS_URLS"
	helperVariant = "VECRO_METRICS_VARIANT"
	// helperNative, set to 1, makes the targets' duration histograms
	// native too, as the service's are.
	helperNative = "VECRO_METRICS_NATIVE"
)

// helperTargets serves N service-like metric endpoints whose values keep
// changing, as a loaded system's would.
func helperTargets() int {
	n, err := strconv.Atoi(os.Getenv(helperCount))
	if err != nil || n <= 0 {
		fmt.Fprintf(os.Stderr, "%s=%q: want a positive number\n", helperCount, os.Getenv(helperCount))
		return 2
	}
	urls := make([]string, n)
	var all []*serviceMetrics
	for i := range n {
		svc := fmt.Sprintf("svc%d", i/2)
		reg, m := newServiceRegistry("bench", svc, fmt.Sprintf("%s-%d", svc, i%2), os.Getenv(helperNative) == "1")
		for _, c := range []string{"200", "500"} {
			m.Requests.WithLabelValues(c, "GET")
			m.Downstream.WithLabelValues("user-info", c)
		}
		m.Requests.WithLabelValues("200", "POST")
		m.Duration.WithLabelValues("POST")
		m.Downstream.WithLabelValues("posts-storage", "200")
		m.Fault.WithLabelValues("none", "none")
		all = append(all, m)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		go func() { _ = http.Serve(ln, promhttp.HandlerFor(reg, promhttp.HandlerOpts{})) }()
		urls[i] = "http://" + ln.Addr().String() + "/metrics"
	}
	go func() {
		rng := rand.New(rand.NewPCG(1, 2))
		for range time.Tick(100 * time.Millisecond) {
			for _, m := range all {
				for range 3 {
					d := rng.ExpFloat64() * 0.02
					m.Requests.WithLabelValues("200", "GET").Inc()
					m.Duration.WithLabelValues("GET").Observe(d)
					m.Downstream.WithLabelValues("user-info", "200").Observe(d / 2)
					m.RespBytes.Add(256)
					m.NetRx.Add(180)
					m.NetTx.Add(420)
				}
				m.InFlight.Set(float64(rng.IntN(4)))
			}
		}
	}()
	fmt.Println("READY " + strings.Join(urls, " "))
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// helperEmbedded runs an embedded source over the URLs and serves its API.
func helperEmbedded() int {
	opts := metrics.EmbeddedOptions{ScrapeInterval: time.Second}
	if os.Getenv(helperVariant) == "wal-gzip" {
		opts.WAL, opts.Compression = true, true
	}
	e, err := metrics.NewEmbedded(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer e.Close()
	var targets []metrics.Target
	for i, u := range strings.Fields(os.Getenv(helperURLs)) {
		targets = append(targets, metrics.Target{URL: u, Labels: map[string]string{"job": "bench", "instance": fmt.Sprintf("i%d", i)}})
	}
	if err := e.SetTargets(targets); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go func() { _ = http.Serve(ln, e.Handler()) }()
	fmt.Println("READY http://" + ln.Addr().String())
	_, _ = io.Copy(io.Discard, bufio.NewReader(os.Stdin))
	return 0
}
