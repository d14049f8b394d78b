package faultagent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/agent"
	"github.com/vecrosim/vecro/framework/behavior"
)

// BenchmarkNetRatePrecision downloads through a net-rate fault of 500 kB/s
// and reports the achieved rate as a fraction of the configured one (1.0 is
// exact), for one connection and for four sharing the link.
//
//	go test -run '^$' -bench NetRatePrecision -benchtime 1x ./images/service/internal/faultagent/
func BenchmarkNetRatePrecision(b *testing.B) {
	const rate = 500_000
	for _, conns := range []int{1, 4} {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			for b.Loop() {
				l, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					b.Fatal(err)
				}
				srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					n, _ := strconv.Atoi(r.URL.Query().Get("n"))
					_, _ = w.Write(bytes.Repeat([]byte("x"), n))
				})}
				go func() { _ = srv.Serve(l) }()
				b.Cleanup(func() { _ = srv.Close() })
				a, addr := newBenchAgent(b, l.Addr().String())
				params, _ := json.Marshal(behavior.NetRate{Rate: rate})
				now := time.Now()
				if _, _, err := a.put(agent.Fault{ID: "bench.net-rate", Behavior: "net-rate", Params: params,
					Start: now, End: now.Add(10 * time.Minute), Seed: 1}); err != nil {
					b.Fatal(err)
				}
				for st, _ := a.get("bench.net-rate"); st.Phase != agent.PhaseActive; st, _ = a.get("bench.net-rate") {
					time.Sleep(time.Millisecond)
				}
				// 2 s of transfer at the rate in total.
				size := 2 * rate / conns
				var wg sync.WaitGroup
				start := time.Now()
				for range conns {
					wg.Go(func() {
						resp, err := http.Get("http://" + addr + "/?n=" + strconv.Itoa(size))
						if err != nil {
							b.Error(err)
							return
						}
						defer resp.Body.Close()
						if n, err := io.Copy(io.Discard, resp.Body); err != nil || n != int64(size) {
							b.Errorf("read %d of %d bytes: %v", n, size, err)
						}
					})
				}
				wg.Wait()
				took := time.Since(start)
				achieved := float64(size*conns) / took.Seconds()
				b.ReportMetric(achieved/rate, "achieved/rate")
				b.Logf("%d conns, %d bytes in %s: %.0f B/s of %d (%.4f)", conns, size*conns, took, achieved, rate, achieved/rate)
			}
		})
	}
}
