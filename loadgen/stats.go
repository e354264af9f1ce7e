package main

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Latencies collects durations. Each worker keeps its own and the results
// are merged once at the end, so recording costs no locking.
type Latencies []time.Duration

// Summary is what loadgen prints for a set of latencies.
type Summary struct {
	N                   int
	Min, P50, P99, P999 time.Duration
	Max, Mean           time.Duration
}

// Summarize sorts l in place and returns its summary.
func (l Latencies) Summarize() Summary {
	if len(l) == 0 {
		return Summary{}
	}
	slices.Sort(l)
	var sum time.Duration
	for _, d := range l {
		sum += d
	}
	return Summary{
		N:    len(l),
		Min:  l[0],
		P50:  l.Percentile(50),
		P99:  l.Percentile(99),
		P999: l.Percentile(99.9),
		Max:  l[len(l)-1],
		Mean: sum / time.Duration(len(l)),
	}
}

// Percentile returns the p-th percentile (0 < p <= 100) of l, which must be
// sorted, by the nearest-rank method: the smallest value such that at least
// p percent of the values are at most it. It is always one of the values
// measured, never an interpolation. An empty l gives 0.
func (l Latencies) Percentile(p float64) time.Duration {
	n := len(l)
	if n == 0 {
		return 0
	}
	if p <= 0 {
		return l[0]
	}
	// The rank is computed in per-mille steps on integers where possible,
	// so that 99.9 of 1000 is rank 999 and not 999.0000000000001 → 1000.
	rank := int(math.Ceil(math.Round(p*1e6)/1e8*float64(n) - 1e-9))
	rank = min(max(rank, 1), n)
	return l[rank-1]
}

func (s Summary) String() string {
	if s.N == 0 {
		return "n=0"
	}
	return fmt.Sprintf("n=%d p50=%s p99=%s p99.9=%s max=%s mean=%s",
		s.N, ms(s.P50), ms(s.P99), ms(s.P999), ms(s.Max), ms(s.Mean))
}

// ms prints a duration in milliseconds with three decimals (µs resolution).
func ms(d time.Duration) string {
	return fmt.Sprintf("%.3fms", float64(d)/float64(time.Millisecond))
}

func merge(parts []Latencies) Latencies {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	all := make(Latencies, 0, n)
	for _, p := range parts {
		all = append(all, p...)
	}
	return all
}
