package quorum

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// TestRandomFaultsNeverTwoMasters drives the harness through random crashes,
// restarts, partitions, one-way cuts, message loss, random latency and clock
// rates that change within MaxDrift, checking after every step that at most
// one server serves and none serves alone. At the end the network heals and
// everybody restarts: a master must serve again (liveness).
func TestRandomFaultsNeverTwoMasters(t *testing.T) {
	seeds, rounds := 150, 30
	if testing.Short() {
		seeds = 25
	}
	timing := FastTiming()
	for seed := range seeds {
		rng := rand.New(rand.NewPCG(uint64(seed), 0x7ea))
		var trace []string
		rate := func() float64 { return 1 + rng.Float64()*timing.MaxDrift*0.999 }
		o := clusterOpts{
			pim:     rng.IntN(2) == 0,
			timing:  timing,
			rates:   [Size]float64{rate(), rate(), rate()},
			latency: func() int64 { return rng.Int64N(unitsPerTick) },
		}
		c := newCluster(t, o)
		c.run(rng.IntN(40))
		for range rounds {
			r, q := rng.IntN(Size), rng.IntN(Size)
			var what string
			switch rng.IntN(9) {
			case 0:
				c.crash(r)
				what = fmt.Sprint("crash ", r)
			case 1:
				c.restart(r)
				what = fmt.Sprint("restart ", r)
			case 2:
				c.net.Isolate(r)
				what = fmt.Sprint("isolate ", r)
			case 3:
				c.net.Cut(r, q)
				what = fmt.Sprint("cut ", r, q)
			case 4:
				c.net.CutOneWay(r, q)
				what = fmt.Sprint("cut-oneway ", r, q)
			case 5:
				c.net.HealAll()
				what = "heal"
			case 6:
				p := []float64{0, 0.1, 0.3, 0.6}[rng.IntN(4)]
				c.net.Drop(DropRandomly(p, rng))
				what = fmt.Sprint("drop ", p)
			case 7:
				c.setRate(r, rate())
				what = fmt.Sprintf("clock-rate %d %.3f", r, c.rate[r])
			case 8:
				c.net.Partition([]int{r}, []int{(r + 1) % Size, (r + 2) % Size})
				what = fmt.Sprintf("partition %d | others", r)
			}
			ticks := 1 + rng.IntN(60)
			c.run(ticks)
			trace = append(trace, fmt.Sprintf("%s; tick %d -> serving %v", what, ticks, c.servingRanks()))
			if len(c.violations) > 0 {
				t.Fatalf("seed %d (pim=%v rates=%v): %s\ntrace:\n%s\nlog:\n%s", seed, o.pim, o.rates,
					c.violations[0], strings.Join(trace, "\n"), strings.Join(c.takeLog(), "\n"))
			}
		}
		c.net.HealAll()
		c.net.Drop(nil)
		for r := range Size {
			c.restart(r)
		}
		_, ok := c.runUntil(3*timing.ElectionTicks+10, func() bool { return len(c.servingRanks()) == 1 })
		if !ok || c.servingRanks()[0] == Tertiary {
			t.Fatalf("seed %d: after healing, serving = %v\n%s\ntrace:\n%s", seed, c.servingRanks(),
				strings.Join(c.status(), "\n"), strings.Join(trace, "\n"))
		}
		c.takeLog()
	}
}

// TestDriftBeyondBoundIsCaught checks that the invariant checker is not vacuous:
// with the master's clock running at 0.6x (far outside MaxDrift), its lease
// outlives the peers' promises and two masters serve at once.
func TestDriftBeyondBoundIsCaught(t *testing.T) {
	c := newCluster(t, clusterOpts{rates: [Size]float64{0.6, 1, 1}})
	c.run(60)
	if got := c.servingRanks(); len(got) != 1 || got[0] != Primary {
		t.Fatalf("serving = %v, want [0]", got)
	}
	c.net.Isolate(Primary)
	c.run(60)
	if len(c.violations) == 0 {
		t.Fatalf("no violation with a 0.6x master clock; log:\n%s", strings.Join(c.takeLog(), "\n"))
	}
}

// TestFailoverWithinTwoSeconds measures, with FastTiming and skewed clocks,
// the time from the master's crash to the new master serving.
func TestFailoverWithinTwoSeconds(t *testing.T) {
	timing := FastTiming()
	for _, rates := range [][Size]float64{{1, 1, 1}, {1, 1.05, 1}, {1.1, 1, 1}, {1, 1, 1.1}} {
		for _, pim := range []bool{false, true} {
			c := newCluster(t, clusterOpts{pim: pim, rates: rates})
			c.run(40)
			c.crash(Primary)
			took, ok := c.runUntil(100, func() bool { return len(c.servingRanks()) == 1 })
			d := time.Duration(took * float64(timing.Tick))
			if !ok || d > 2*time.Second {
				t.Errorf("rates %v pim %v: failover took %.2f ticks (%v), want <= 2s", rates, pim, took, d)
			}
		}
	}
}

// TestIsolatedMasterStopsBeforeNewOneStarts checks the order of events on the
// real time axis: the old master stops serving strictly before the new one starts.
func TestIsolatedMasterStopsBeforeNewOneStarts(t *testing.T) {
	for _, rates := range [][Size]float64{{1, 1, 1}, {1, 1.0999, 1.0999}, {1.0999, 1, 1}} {
		c := newCluster(t, clusterOpts{rates: rates})
		c.run(40)
		c.net.Isolate(Primary)
		var stopped, started int64 = -1, -1
		for range 60 * unitsPerTick / stepUnits {
			c.step()
			if stopped < 0 && (c.nodes[Primary] == nil || !c.nodes[Primary].Serving()) {
				stopped = c.now
			}
			if started < 0 && c.nodes[Secondary].Serving() {
				started = c.now
			}
		}
		if stopped < 0 || started < 0 || stopped >= started {
			t.Errorf("rates %v: old master stopped at %d, new one started at %d", rates, stopped, started)
		}
		if len(c.violations) > 0 {
			t.Error(c.violations)
		}
	}
}
