// Command vecro-bench-load measures `vecro load` against wrk in one run, on
// the same loopback server: the server pinned to one core, each generator
// in turn to the other (taskset), the same number of connections.
//
//  1. wrk -t1 -cN and vecro load --users N --delay 0 (closed loop, full
//     speed), taking turns for --rounds rounds: target median ≥ 0.8× wrk's
//     requests/s;
//  3. vecro load --rate R (open loop, default 5,000/s): target achieved rate
//     within 1% of R; the generator's CPU is reported.
//
// Usage: go build -o bin/vecro ./cmd/vecro && go run ./cmd/vecro-bench-load --vecro bin/vecro
//
// It needs wrk and taskset (Debian: wrk, util-linux) and two CPUs. The
// server is this program itself (`vecro-bench-load serve`): a plain net/http
// server answering "ok", the fastest Go server there is to stand in for a
// service.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		err = serve(ctx, os.Stdout)
	} else {
		err = bench(ctx, os.Args[1:], os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vecro-bench-load:", err)
		os.Exit(1)
	}
}

// serve answers "ok" to everything on 127.0.0.1:0 and prints its address.
func serve(ctx context.Context, out io.Writer) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	fmt.Fprintln(out, l.Addr().String())
	ok := []byte("ok")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = w.Write(ok)
	})}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

type config struct {
	vecro                string
	conns                int
	dur                  time.Duration
	rate                 float64
	rounds               int
	serverCPU, clientCPU int
}

func bench(ctx context.Context, args []string, out io.Writer) error {
	var c config
	fs := flag.NewFlagSet("vecro-bench-load", flag.ContinueOnError)
	fs.StringVar(&c.vecro, "vecro", "bin/vecro", "the vecro binary to measure")
	fs.IntVar(&c.conns, "connections", 32, "connections for wrk and users for vecro load at full speed")
	fs.DurationVar(&c.dur, "duration", 10*time.Second, "length of each measurement")
	fs.Float64Var(&c.rate, "rate", 5000, "open-loop rate to hold, requests/s")
	fs.IntVar(&c.rounds, "rounds", 3, "full-speed rounds of wrk and vecro load, taking turns")
	fs.IntVar(&c.serverCPU, "server-cpu", 0, "CPU the server is pinned to")
	fs.IntVar(&c.clientCPU, "client-cpu", 1, "CPU each generator is pinned to")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.rounds < 1 || c.conns < 1 || c.dur <= 0 || c.rate <= 0 {
		return fmt.Errorf("--rounds, --connections, --duration and --rate must be positive")
	}
	for _, tool := range []string{"taskset", "wrk", c.vecro} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("need %s: %w (wrk: apt-get install wrk; vecro: go build -o bin/vecro ./cmd/vecro)", tool, err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary for the server: %w", err)
	}
	addr, stopServer, err := startServer(ctx, self, c.serverCPU)
	if err != nil {
		return err
	}
	defer stopServer()
	url := "http://" + addr + "/"
	pin := strconv.Itoa(c.clientCPU)
	secs := strconv.FormatFloat(c.dur.Seconds(), 'f', -1, 64)

	fmt.Fprintf(out, "server: net/http on CPU %d at %s; generators on CPU %d; %v each; load average %s\n",
		c.serverCPU, url, c.clientCPU, c.dur, loadavg())
	// A short warm-up so that neither generator meets a cold server.
	if _, err := run(ctx, "taskset", "-c", pin, "wrk", "-t1", "-c"+strconv.Itoa(c.conns), "-d2s", url); err != nil {
		return err
	}

	// wrk and vecro load take turns, so that a change in the machine's
	// background load hits both alike; the medians are compared.
	var wrkRPS, vecRPS, wrkCPU, vecCPU []float64
	var full loadReport
	for i := range c.rounds {
		w, err := run(ctx, "taskset", "-c", pin, "wrk", "-t1", "-c"+strconv.Itoa(c.conns), "-d"+secs+"s", url)
		if err != nil {
			return err
		}
		rps, err := wrkRate(w.stdout)
		if err != nil {
			return err
		}
		v, err := run(ctx, "taskset", "-c", pin, c.vecro, "load", "--url", url, "--method", "GET",
			"--users", strconv.Itoa(c.conns), "--delay", "0", "--duration", c.dur.String(), "--json")
		if err != nil {
			return err
		}
		if full, err = report(v.stdout); err != nil {
			return err
		}
		if full.Errors > 0 {
			return fmt.Errorf("vecro load at full speed: %d errors", full.Errors)
		}
		fmt.Fprintf(out, "round %d: wrk %.0f req/s (CPU %.0f%%), vecro load %.0f req/s (CPU %.0f%%, p99 %.2fms): %.2f\n",
			i+1, rps, w.cpu*100, full.Achieved, v.cpu*100, full.Latency.P99, full.Achieved/rps)
		wrkRPS, vecRPS = append(wrkRPS, rps), append(vecRPS, full.Achieved)
		wrkCPU, vecCPU = append(wrkCPU, w.cpu), append(vecCPU, v.cpu)
	}

	o, err := run(ctx, "taskset", "-c", pin, c.vecro, "load", "--url", url, "--method", "GET",
		"--rate", strconv.FormatFloat(c.rate, 'f', -1, 64), "--duration", c.dur.String(), "--json")
	if err != nil {
		return err
	}
	open, err := report(o.stdout)
	if err != nil {
		return err
	}

	ratio := median(vecRPS) / median(wrkRPS)
	off := (open.Achieved - c.rate) / c.rate
	verdict := func(ok bool) string {
		if ok {
			return "meets target"
		}
		return "MISSES target"
	}
	fmt.Fprintf(out, "\n%-36s %12s %10s %10s\n", fmt.Sprintf("median of %d rounds", c.rounds), "req/s", "p99", "CPU")
	fmt.Fprintf(out, "%-36s %12.0f %10s %9.0f%%\n", fmt.Sprintf("wrk -t1 -c%d", c.conns), median(wrkRPS), "", median(wrkCPU)*100)
	fmt.Fprintf(out, "%-36s %12.0f %10s %9.0f%%\n", fmt.Sprintf("vecro load --users %d --delay 0", c.conns), median(vecRPS), "", median(vecCPU)*100)
	fmt.Fprintf(out, "%-36s %12.1f %8.2fms %9.0f%%\n", fmt.Sprintf("vecro load --rate %g", c.rate), open.Achieved, open.Latency.P99, o.cpu*100)
	fmt.Fprintf(out, "\nfull speed: vecro/wrk = %.2f (target ≥ 0.80): %s\n", ratio, verdict(ratio >= 0.8))
	fmt.Fprintf(out, "open loop: %.1f/s achieved of %g/s planned (%+.2f%%; target within 1%%): %s; sent %d of %d planned, %d late, send lag p99 %.2fms; errors %d\n",
		open.Achieved, c.rate, off*100, verdict(off >= -0.01 && off <= 0.01), open.Sent, open.Planned, open.Late, open.SendLag.P99, open.Errors)
	fmt.Fprintf(out, "generator CPU at %g/s: %.0f%% of one core\n", c.rate, o.cpu*100)
	fmt.Fprintf(out, "load average after: %s\n", loadavg())
	return nil
}

// startServer runs `self serve` pinned to cpu and reads its address.
func startServer(ctx context.Context, self string, cpu int) (string, func(), error) {
	cmd := exec.CommandContext(ctx, "taskset", "-c", strconv.Itoa(cpu), self, "serve")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, fmt.Errorf("start server: %w", err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start server %v: %w", cmd.Args, err)
	}
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		stop()
		return "", nil, fmt.Errorf("start server %v: no address: %w", cmd.Args, err)
	}
	return strings.TrimSpace(line), stop, nil
}

type result struct {
	stdout []byte
	cpu    float64 // CPU seconds (user+system) per wall second
}

func run(ctx context.Context, name string, args ...string) (result, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return result{}, fmt.Errorf("run %s: %w\n%s%s", strings.Join(cmd.Args, " "), err, stdout.String(), stderr.String())
	}
	st := cmd.ProcessState
	cpu := (st.UserTime() + st.SystemTime()).Seconds() / wall.Seconds()
	return result{stdout: []byte(stdout.String()), cpu: cpu}, nil
}

var wrkRPSLine = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)

func wrkRate(out []byte) (float64, error) {
	m := wrkRPSLine.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("wrk output has no Requests/sec line:\n%s", out)
	}
	return strconv.ParseFloat(string(m[1]), 64)
}

// loadReport is the part of vecro load's JSON report the bench reads.
type loadReport struct {
	Planned  uint64  `json:"planned"`
	Sent     uint64  `json:"sent"`
	Late     uint64  `json:"late"`
	Errors   uint64  `json:"errors"`
	Achieved float64 `json:"achieved_per_second"`
	Latency  struct {
		P50 float64 `json:"p50_ms"`
		P99 float64 `json:"p99_ms"`
	} `json:"latency"`
	SendLag struct {
		P99 float64 `json:"p99_ms"`
	} `json:"send_lag"`
}

func report(out []byte) (loadReport, error) {
	var r loadReport
	if err := json.Unmarshal(out, &r); err != nil {
		return r, fmt.Errorf("read vecro load's JSON report: %w\n%s", err, out)
	}
	return r, nil
}

func median(x []float64) float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// loadavg is the machine's 1-, 5- and 15-minute load averages: the bench
// shares the machine, and its numbers mean little if others were busy.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}
