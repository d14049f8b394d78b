//go:build linux

package metrics_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/metrics"
)

// helperProc is this test binary running as a benchmark helper.
type helperProc struct {
	Pid   int
	Ready []string // the words after READY
}

// startHelper runs a helper process until the benchmark ends.
func startHelper(b *testing.B, mode string, env ...string) *helperProc {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), append(env, helperEnv+"="+mode)...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatalf("start helper %s: %v", mode, err)
	}
	b.Cleanup(func() {
		stdin.Close() // the helper's signal to stop
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		s.Buffer(make([]byte, 1<<20), 1<<20)
		if s.Scan() {
			line <- s.Text()
		}
		close(line)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case l, ok := <-line:
		words := strings.Fields(l)
		if !ok || len(words) < 2 || words[0] != "READY" {
			b.Fatalf("helper %s: no READY line (got %q)", mode, l)
		}
		return &helperProc{Pid: cmd.Process.Pid, Ready: words[1:]}
	case <-time.After(60 * time.Second):
		b.Fatalf("helper %s not ready within 60s", mode)
	}
	return nil
}

// cpuSeconds is the user+system CPU time a process has used, from
// /proc/<pid>/stat (in clock ticks of 1/100 s on Linux).
func cpuSeconds(b *testing.B, pid int) float64 {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name in parentheses, which may hold spaces.
	s := string(raw)
	rest := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	utime, err1 := strconv.ParseFloat(rest[11], 64)
	stime, err2 := strconv.ParseFloat(rest[12], 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("/proc/%d/stat: %q", pid, s)
	}
	return (utime + stime) / 100
}

// BenchmarkScrapeCPU measures, in one run, the CPU seconds per scrape
// round of 100 service-like targets at 1 s: the embedded scraper (default
// options, and with WAL and gzip like Prometheus) against the Debian
// Prometheus server scraping the same targets at the same time. Each
// scraper runs in its own process; CPU comes from /proc/<pid>/stat, rounds
// from the scrapes each stored (count_over_time(up[…])). Run it without
// -race:
//
//	go test -run '^$' -bench ScrapeCPU -benchtime 1x ./framework/metrics/
//
// One iteration is the whole measurement; b.N is not used.
func BenchmarkScrapeCPU(b *testing.B) { scrapeCPU(b, false) }

// BenchmarkScrapeCPUNative is BenchmarkScrapeCPU with the targets' duration
// histograms native beside their classic buckets, as the service serves
// them, and Prometheus ingesting native histograms
// (--enable-feature=native-histograms; 2.42 then stores only the native
// series, the embedded scraper both, as Prometheus 3 does with
// always_scrape_classic_histograms).
func BenchmarkScrapeCPUNative(b *testing.B) { scrapeCPU(b, true) }

func scrapeCPU(b *testing.B, native bool) {
	prometheusBinary(b)
	const (
		n        = 100
		interval = time.Second
		warmUp   = 10 * time.Second
		window   = 30 * time.Second
	)
	nativeEnv, promFlags := helperNative+"=0", []string(nil)
	if native {
		nativeEnv, promFlags = helperNative+"=1", []string{"--enable-feature=native-histograms"}
	}
	tp := startHelper(b, "targets", fmt.Sprintf("%s=%d", helperCount, n), nativeEnv)
	urls := tp.Ready
	if len(urls) != n {
		b.Fatalf("%d target URLs, want %d", len(urls), n)
	}
	var targets []metrics.Target
	for i, u := range urls {
		targets = append(targets, metrics.Target{URL: u, Labels: map[string]string{"job": "bench", "instance": fmt.Sprintf("i%d", i)}})
	}
	type scraper struct {
		name string
		pid  int
		src  metrics.Source
		cpu0 float64
	}
	var scrapers []*scraper
	for _, variant := range []string{"default", "wal-gzip"} {
		h := startHelper(b, "embedded", helperURLs+"="+strings.Join(urls, " "), helperVariant+"="+variant)
		src, err := metrics.NewHTTP(h.Ready[0])
		if err != nil {
			b.Fatal(err)
		}
		scrapers = append(scrapers, &scraper{name: "embedded-" + variant, pid: h.Pid, src: src})
	}
	prom := startPrometheus(b, interval, "bench", targets, promFlags...)
	scrapers = append(scrapers, &scraper{name: "prometheus", pid: prom.Pid, src: prom.Src})

	for _, s := range scrapers {
		eventually(b, 60*time.Second, s.name+": every target up", func() (bool, string) {
			v := instant(b, s.src, `count(up == 1)`, "")
			return v[""] == n, fmt.Sprint(v)
		})
	}
	time.Sleep(warmUp)
	tcpu0 := cpuSeconds(b, tp.Pid)
	for _, s := range scrapers {
		s.cpu0 = cpuSeconds(b, s.pid)
	}
	start := time.Now()
	time.Sleep(window)
	elapsed := time.Since(start)
	tcpu := cpuSeconds(b, tp.Pid) - tcpu0
	perRound := map[string]float64{}
	for _, s := range scrapers {
		cpu := cpuSeconds(b, s.pid) - s.cpu0
		ss, err := s.src.Query(context.Background(), fmt.Sprintf(`sum(count_over_time(up[%dms]))`, elapsed.Milliseconds()), time.Now())
		if err != nil || len(ss) != 1 {
			b.Fatalf("%s: scrapes in the window: %v %v", s.name, ss, err)
		}
		samples := instant(b, s.src, `sum(scrape_samples_scraped)`, "")[""]
		rounds := ss[0].Points[0].V / n
		perRound[s.name] = cpu / rounds
		b.Logf("%-20s %.2f CPU s over %.1f s, %.1f rounds of %d targets (%.0f samples per round): %.2f ms CPU per round",
			s.name, cpu, elapsed.Seconds(), rounds, n, samples, 1000*perRound[s.name])
	}
	b.Logf("targets process: %.2f CPU s serving all three", tcpu)
	for _, s := range scrapers {
		b.ReportMetric(perRound[s.name], "cpu-s/round-"+s.name)
	}
	ratio := perRound["embedded-default"] / perRound["prometheus"]
	b.ReportMetric(ratio, "ratio-default/prometheus")
	b.ReportMetric(perRound["embedded-wal-gzip"]/perRound["prometheus"], "ratio-wal-gzip/prometheus")
	b.Logf("embedded/prometheus CPU per round: %.2f (default), %.2f (with WAL and gzip); target ≤ 1.5",
		ratio, perRound["embedded-wal-gzip"]/perRound["prometheus"])
}
