package main

import (
	"testing"
	"time"
)

func lat(ms ...int) Latencies {
	l := make(Latencies, len(ms))
	for i, m := range ms {
		l[i] = time.Duration(m) * time.Millisecond
	}
	return l
}

// seq is 1..n milliseconds.
func seq(n int) Latencies {
	l := make(Latencies, n)
	for i := range l {
		l[i] = time.Duration(i+1) * time.Millisecond
	}
	return l
}

func TestPercentile(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   Latencies // sorted
		p    float64
		want time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one value, any p", lat(7), 99.9, 7 * time.Millisecond},
		{"p0 is the minimum", lat(1, 2, 3), 0, time.Millisecond},
		{"p100 is the maximum", lat(1, 2, 3), 100, 3 * time.Millisecond},
		{"median of an even count is the lower middle", lat(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"median of an odd count is the middle", lat(1, 2, 3, 4, 5), 50, 3 * time.Millisecond},
		{"p50 of 1..100", seq(100), 50, 50 * time.Millisecond},
		{"p99 of 1..100", seq(100), 99, 99 * time.Millisecond},
		{"p99.9 of 1..100 rounds up to the last", seq(100), 99.9, 100 * time.Millisecond},
		{"p99.9 of 1..1000 is exactly rank 999", seq(1000), 99.9, 999 * time.Millisecond},
		{"p99.9 of 1..10000", seq(10000), 99.9, 9990 * time.Millisecond},
		{"p99 of 1..1000", seq(1000), 99, 990 * time.Millisecond},
		{"p1 of 1..1000", seq(1000), 1, 10 * time.Millisecond},
		{"tiny p is the minimum", seq(1000), 0.0001, time.Millisecond},
		{"p above 100 is the maximum", seq(10), 150, 10 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.in.Percentile(tc.p); got != tc.want {
				t.Errorf("Percentile(%v) of %d values = %v, want %v", tc.p, len(tc.in), got, tc.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   Latencies
		want Summary
	}{
		{"empty", nil, Summary{}},
		{"unsorted input is sorted", lat(5, 1, 3), Summary{N: 3, Min: ms1(1), P50: ms1(3), P99: ms1(5), P999: ms1(5), Max: ms1(5), Mean: ms1(3)}},
		{"1..1000", shuffled(seq(1000)), Summary{N: 1000, Min: ms1(1), P50: ms1(500), P99: ms1(990), P999: ms1(999), Max: ms1(1000), Mean: 500500 * time.Microsecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.in.Summarize(); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	got := merge([]Latencies{lat(1, 2), nil, lat(3)})
	if len(got) != 3 || got[2] != 3*time.Millisecond {
		t.Errorf("got %v, want [1ms 2ms 3ms]", got)
	}
}

func ms1(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// shuffled reverses and interleaves l: not sorted, deterministic.
func shuffled(l Latencies) Latencies {
	out := make(Latencies, 0, len(l))
	for i, j := 0, len(l)-1; i <= j; i, j = i+1, j-1 {
		out = append(out, l[j])
		if i != j {
			out = append(out, l[i])
		}
	}
	return out
}
