package faultagent

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func TestLossHold(t *testing.T) {
	cases := []struct {
		losses int
		want   time.Duration
	}{
		{0, 0},
		{1, 200 * time.Millisecond},
		{2, 600 * time.Millisecond},
		{3, 1400 * time.Millisecond},
		// 200ms·(2^10−1) = 204.6 s would exceed the 120 s cap at the 11th
		// RTO: 0.2+0.4+…+102.4 (10 RTOs) = 204.6 s, then 120 s each.
		{10, 204600 * time.Millisecond},
		{11, 324600 * time.Millisecond},
		{15, 804600 * time.Millisecond},
	}
	for _, c := range cases {
		if got := lossHold(c.losses); got != c.want {
			t.Errorf("lossHold(%d) = %s, want %s", c.losses, got, c.want)
		}
	}
}

// TestDrawLosses checks the consecutive-loss count against its geometric
// law P(k) = p^k (1−p) for k < 15: the count of each k is within 5 standard
// deviations of its expectation.
func TestDrawLosses(t *testing.T) {
	const n, p = 100000, 0.3
	r := rand.New(rand.NewPCG(5, 6))
	counts := map[int]int{}
	for range n {
		counts[drawLosses(r, p)]++
	}
	for k := range 4 {
		pk := math.Pow(p, float64(k)) * (1 - p)
		mean, sd := n*pk, math.Sqrt(n*pk*(1-pk))
		if got := float64(counts[k]); math.Abs(got-mean) > 5*sd {
			t.Errorf("P(%d losses): %v of %d, want %.0f ± %.0f", k, got, n, mean, 5*sd)
		}
	}
	if k := drawLosses(r, 1); k != maxLosses {
		t.Errorf("p = 1: %d losses, want the cap %d", k, maxLosses)
	}
}

func TestTransmitTime(t *testing.T) {
	cases := []struct {
		n     int
		rate  float64
		want  time.Duration
		piece int
	}{
		{1000, 1000, time.Second, 10},
		{125000, 125000, time.Second, 1250}, // 1 mbit/s
		{1, 1, time.Second, 1},              // a piece is at least a byte
		{32768, 1e9, 32768 * time.Nanosecond, 10000000},
	}
	for _, c := range cases {
		if got := transmitTime(c.n, c.rate); got != c.want {
			t.Errorf("transmitTime(%d, %v) = %s, want %s", c.n, c.rate, got, c.want)
		}
		if got := pieceBytes(c.rate); got != c.piece {
			t.Errorf("pieceBytes(%v) = %d, want %d", c.rate, got, c.piece)
		}
	}
}

// TestRateReservations checks that the shared transmitter serialises
// reservations, keeps its schedule when a pacer wakes late, and saves idle
// time up to one piece only.
func TestRateReservations(t *testing.T) {
	r := &netRate{rate: 1000} // one piece: 10 bytes, 10 ms
	t0 := time.Unix(1000, 0)
	steps := []struct {
		at   time.Duration
		n    int
		want time.Duration
	}{
		{0, 10, 0},                     // idle: may use the saved-up piece
		{0, 10, 10 * time.Millisecond}, // queued behind the first
		{13 * time.Millisecond, 10, 20 * time.Millisecond}, // woke 3 ms late: schedule kept
		{20 * time.Millisecond, 10, 30 * time.Millisecond},
		{time.Second, 10, time.Second}, // idle long: one piece saved, not more
		{time.Second, 10, time.Second + 10*time.Millisecond},
	}
	for i, s := range steps {
		if got := r.reserve(0, s.n, t0.Add(s.at)).Sub(t0); got != s.want {
			t.Errorf("step %d: done at %s, want %s", i, got, s.want)
		}
	}
}
