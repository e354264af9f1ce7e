package chaos

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"
)

// Fault kinds. "master" and "standby" are resolved when the fault is
// injected (lmstat from the clients' namespace); the plan fixes which kind
// comes when and for how long, and the seed fixes the plan.
const (
	FaultKillMaster     = "kill-master"     // SIGKILL lmgrd+vendord of the master; restart after the hold
	FaultKillStandby    = "kill-standby"    // the same for a non-master
	FaultKillTwo        = "kill-two"        // kill the master and a standby (no quorum); restart one, later the other
	FaultIsolateMaster  = "isolate-master"  // master's veth down: nobody reaches it; heal after the hold
	FaultIsolateStandby = "isolate-standby" // the same for a non-master
	FaultSplitAll       = "split-all"       // blackhole every member pair: no quorum, clients reach all; heal
	FaultCutMaster      = "cut-master"      // blackhole master↔peers only: clients still reach the deposed master; heal
)

// AllFaults is every fault kind.
var AllFaults = []string{FaultKillMaster, FaultKillStandby, FaultKillTwo, FaultIsolateMaster,
	FaultIsolateStandby, FaultSplitAll, FaultCutMaster}

// Episode is one fault of the plan: after Quiet, inject Fault, keep it for
// Hold, heal (for kill-two: restart one member, and the other after Hold2).
type Episode struct {
	Quiet, Hold, Hold2 time.Duration
	Fault              string
}

// Plan draws episodes from seed until they fill duration. Quiet and Hold
// are at least minGap, so that check (c) can judge every action.
func Plan(seed uint64, duration time.Duration, faults []string, minGap time.Duration) []Episode {
	rnd := rand.New(rand.NewPCG(seed, 0x6c6d6368616f73))
	span := func() time.Duration { return minGap + time.Duration(rnd.Int64N(int64(2500*time.Millisecond))) }
	var plan []Episode
	var total time.Duration
	for {
		e := Episode{Quiet: span(), Fault: faults[rnd.IntN(len(faults))], Hold: span()}
		if e.Fault == FaultKillTwo {
			e.Hold2 = span()
		}
		total += e.Quiet + e.Hold + e.Hold2
		if total > duration {
			return plan
		}
		plan = append(plan, e)
	}
}

// PrintPlan writes the plan with times since the nemesis starts.
func PrintPlan(w io.Writer, seed uint64, plan []Episode) {
	fmt.Fprintf(w, "nemesis plan (seed %d, %d episodes):\n", seed, len(plan))
	var t time.Duration
	for _, e := range plan {
		t += e.Quiet
		line := fmt.Sprintf("  +%6.1fs %-16s heal after %.1fs", t.Seconds(), e.Fault, e.Hold.Seconds())
		if e.Hold2 > 0 {
			line = fmt.Sprintf("  +%6.1fs %-16s restart one after %.1fs, the other %.1fs later", t.Seconds(), e.Fault, e.Hold.Seconds(), e.Hold2.Seconds())
		}
		fmt.Fprintln(w, line)
		t += e.Hold + e.Hold2
	}
}

// Nemesis injects the plan's faults into a cluster and records each action
// with whether a quorum reachable by the clients exists after it.
type Nemesis struct {
	Cluster *Cluster
	Rec     *Recorder
	Logf    func(string, ...any)

	down     [3]bool
	isolated [3]bool
	cut      [3][3]bool
	Faults   map[string]int
}

// quorum: two members that run, are reachable and are not cut apart.
func (n *Nemesis) quorum() bool {
	ok := func(i int) bool { return !n.down[i] && !n.isolated[i] }
	for i := range 3 {
		for j := i + 1; j < 3; j++ {
			if ok(i) && ok(j) && !n.cut[i][j] {
				return true
			}
		}
	}
	return false
}

func (n *Nemesis) record(what string, restore bool) {
	q := n.quorum()
	n.Rec.Add(Record{Kind: KindFault, T: Now(), Fault: what, Quorum: q, Restore: restore})
	n.Logf("nemesis: %s (quorum %v)", what, q)
}

// Start records the start of the nemesis (the cluster is healthy).
func (n *Nemesis) Start() {
	n.Faults = map[string]int{}
	n.record("start", false)
}

// pick resolves "master" or "standby" to a member that is up.
func (n *Nemesis) pick(ctx context.Context, master bool, rnd *rand.Rand) int {
	m := n.Cluster.Master(ctx)
	if master {
		if m >= 0 {
			return m
		}
		n.Logf("nemesis: no master found; picking the first member that is up")
		for i := range 3 {
			if !n.down[i] {
				return i
			}
		}
		return 0
	}
	var others []int
	for i := range 3 {
		if i != m && !n.down[i] {
			others = append(others, i)
		}
	}
	if len(others) == 0 {
		return (m + 1) % 3
	}
	return others[rnd.IntN(len(others))]
}

// Run plays the plan; on ctx's end it stops early. Heal restores
// everything afterwards in any case.
func (n *Nemesis) Run(ctx context.Context, seed uint64, plan []Episode) {
	rnd := rand.New(rand.NewPCG(seed, 0x7069636b))
	for _, e := range plan {
		if !sleep(ctx, e.Quiet) {
			return
		}
		n.Faults[e.Fault]++
		switch e.Fault {
		case FaultKillMaster, FaultKillStandby:
			i := n.pick(ctx, e.Fault == FaultKillMaster, rnd)
			n.kill(i, e.Fault)
			if !sleep(ctx, e.Hold) {
				return
			}
			n.restart(i)
		case FaultKillTwo:
			i := n.pick(ctx, true, rnd)
			j := (i + 1 + rnd.IntN(2)) % 3
			n.kill(i, e.Fault)
			n.kill(j, e.Fault)
			if !sleep(ctx, e.Hold) {
				return
			}
			first, second := i, j
			if rnd.IntN(2) == 0 {
				first, second = j, i
			}
			n.restart(first)
			if !sleep(ctx, e.Hold2) {
				return
			}
			n.restart(second)
		case FaultIsolateMaster, FaultIsolateStandby:
			i := n.pick(ctx, e.Fault == FaultIsolateMaster, rnd)
			n.isolate(i, true, e.Fault)
			if !sleep(ctx, e.Hold) {
				return
			}
			n.isolate(i, false, "heal")
		case FaultSplitAll:
			for _, p := range [][2]int{{0, 1}, {0, 2}, {1, 2}} {
				n.cutPair(p[0], p[1], true)
			}
			n.record(e.Fault+" "+n.cutString(), false)
			if !sleep(ctx, e.Hold) {
				return
			}
			n.healCuts()
		case FaultCutMaster:
			m := n.pick(ctx, true, rnd)
			for j := range 3 {
				if j != m {
					n.cutPair(m, j, true)
				}
			}
			n.record(fmt.Sprintf("%s %s (master %s)", e.Fault, n.cutString(), n.Cluster.Net.Addr(m)), false)
			if !sleep(ctx, e.Hold) {
				return
			}
			n.healCuts()
		}
	}
}

func (n *Nemesis) kill(i int, why string) {
	n.Cluster.Kill(i)
	n.down[i] = true
	n.record(fmt.Sprintf("%s: SIGKILL member %s", why, n.Cluster.Net.Addr(i)), false)
}

func (n *Nemesis) restart(i int) {
	if err := n.Cluster.Start(i); err != nil {
		n.Logf("nemesis: restarting member %d: %v", i, err)
		return
	}
	n.down[i] = false
	n.record("restart member "+n.Cluster.Net.Addr(i), true)
}

func (n *Nemesis) isolate(i int, on bool, why string) {
	if err := n.Cluster.Net.Isolate(i, on); err != nil {
		n.Logf("nemesis: %v", err)
		return
	}
	n.isolated[i] = on
	verb := "isolate"
	if !on {
		verb = "reconnect"
	}
	n.record(fmt.Sprintf("%s: %s member %s", why, verb, n.Cluster.Net.Addr(i)), !on)
}

func (n *Nemesis) cutPair(i, j int, on bool) {
	if err := n.Cluster.Net.Cut(i, j, on); err != nil {
		n.Logf("nemesis: %v", err)
		return
	}
	n.cut[i][j], n.cut[j][i] = on, on
}

func (n *Nemesis) cutString() string {
	var parts []string
	for i := range 3 {
		for j := i + 1; j < 3; j++ {
			if n.cut[i][j] {
				parts = append(parts, fmt.Sprintf("%d|%d", i, j))
			}
		}
	}
	return "cut " + strings.Join(parts, " ")
}

func (n *Nemesis) healCuts() {
	for i := range 3 {
		for j := i + 1; j < 3; j++ {
			if n.cut[i][j] {
				n.cutPair(i, j, false)
			}
		}
	}
	n.record("heal: all member links restored", true)
}

// Heal undoes every fault: links up, routes gone, members running.
func (n *Nemesis) Heal() {
	changed := false
	for i := range 3 {
		if n.isolated[i] {
			_ = n.Cluster.Net.Isolate(i, false)
			n.isolated[i], changed = false, true
		}
	}
	for i := range 3 {
		for j := i + 1; j < 3; j++ {
			if n.cut[i][j] {
				n.cutPair(i, j, false)
				changed = true
			}
		}
	}
	for i := range 3 {
		if n.down[i] || !n.Cluster.Running(i) {
			if err := n.Cluster.Start(i); err == nil {
				n.down[i], changed = false, true
			}
		}
	}
	if changed {
		n.record("final heal", true)
	}
}
