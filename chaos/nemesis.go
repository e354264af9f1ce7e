package chaos

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
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
	// A process without the cluster key on a member's address (in its
	// namespace) keeps trying to vote, append, fetch and push state at the
	// two others ("lmchaos rogue"); stopped after the hold.
	FaultRogueNoKey = "rogue-nokey"
	// SIGKILL a standby, run an impostor lmgrd on its address with the same
	// license file, another cluster key and an empty state directory; after
	// the hold stop it and restart the member.
	FaultRogueStaleKey = "rogue-stalekey"
	// SIGKILL the lmgrd and vendord of all three members at once (a crash
	// of the whole triad); after the hold, start all three again on their
	// state directories (crash.go, check e).
	FaultKillAll = "kill-all"
	// Cut one member off (any of the three, the master included), enrol a
	// change of the license files on the majority side meanwhile (a file
	// dropped into a member's license directory, or lmutil lmenroll), and
	// sometimes edit the cut-off member's copy by hand; heal after the hold
	// and wait for the members to converge (enrol.go, check f).
	FaultEnrolPartition = "enrol-partition"
)

// AllFaults is every fault kind.
var AllFaults = []string{FaultKillMaster, FaultKillStandby, FaultKillTwo, FaultIsolateMaster,
	FaultIsolateStandby, FaultSplitAll, FaultCutMaster, FaultRogueNoKey, FaultRogueStaleKey, FaultKillAll,
	FaultEnrolPartition}

// KnownFault reports whether kind is one of AllFaults.
func KnownFault(kind string) bool {
	for _, k := range AllFaults {
		if k == kind {
			return true
		}
	}
	return false
}

// Episode is one fault of the plan: after Quiet, inject Fault, keep it for
// Hold, heal (for kill-two: restart one member, and the other after Hold2;
// for kill-all: restart all three, Hold being the pause; an
// enrol-partition is held longer if its enrolment takes longer, and waits
// after the heal until the members converge).
type Episode struct {
	Quiet, Hold, Hold2 time.Duration
	Fault              string
}

// Plan draws episodes from seed until they fill duration. Quiet and Hold
// are at least minGap, so that check (c) can judge every action; but the
// pause of a kill-all is KillAllPause: the crash leaves no quorum, so
// check (c) judges only the restart, and a short pause leaves holders that
// span the crash to reattach (check e).
func Plan(seed uint64, duration time.Duration, faults []string, minGap time.Duration) []Episode {
	return PlanFirst(seed, duration, nil, faults, minGap)
}

// PlanFirst is Plan whose first episodes are of the kinds in first, in
// that order (as far as they fit in duration); the rest are drawn.
func PlanFirst(seed uint64, duration time.Duration, first, faults []string, minGap time.Duration) []Episode {
	rnd := rand.New(rand.NewPCG(seed, 0x6c6d6368616f73))
	span := func() time.Duration { return minGap + time.Duration(rnd.Int64N(int64(2500*time.Millisecond))) }
	var plan []Episode
	var total time.Duration
	for {
		kind := faults[rnd.IntN(len(faults))]
		if len(plan) < len(first) {
			kind = first[len(plan)]
		}
		e := Episode{Quiet: span(), Fault: kind, Hold: span()}
		switch e.Fault {
		case FaultKillTwo:
			e.Hold2 = span()
		case FaultKillAll:
			e.Hold = KillAllPause[0] + time.Duration(rnd.Int64N(int64(KillAllPause[1]-KillAllPause[0])))
		}
		total += e.Quiet + e.Hold + e.Hold2
		if total > duration {
			return plan
		}
		plan = append(plan, e)
	}
}

// KillAllPause bounds the pause between the crash of the whole triad and
// its restart (kill-all).
var KillAllPause = [2]time.Duration{500 * time.Millisecond, 2 * time.Second}

// PrintPlan writes the plan with times since the nemesis starts.
func PrintPlan(w io.Writer, seed uint64, plan []Episode) {
	fmt.Fprintf(w, "nemesis plan (seed %d, %d episodes):\n", seed, len(plan))
	var t time.Duration
	for _, e := range plan {
		t += e.Quiet
		line := fmt.Sprintf("  +%6.1fs %-16s heal after %.1fs", t.Seconds(), e.Fault, e.Hold.Seconds())
		if e.Fault == FaultKillAll {
			line = fmt.Sprintf("  +%6.1fs %-16s restart all after %.1fs", t.Seconds(), e.Fault, e.Hold.Seconds())
		}
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

	// Rogues: what check (d) judges of every rogue fault, in order.
	Rogues []RogueEpisode
	// refusalFree[i]: from then on a refusal naming member i's address is
	// logged again (the members rate-limit them, RefusalLogEvery).
	refusalFree [3]time.Time
	rogue       *rogueRun // the rogue fault being held, if any
	seq         int       // rogue faults so far: names their files

	// The kill-all episodes (crash.go); a restart's takeover is watched in
	// the background until found, TakeoverWithin, or Close.
	crashMu   sync.Mutex
	crashes   []*CrashEpisode
	watchers  sync.WaitGroup
	closed    chan struct{}
	closeOnce sync.Once

	// NoHandEdits: enrol-partition episodes never edit the cut-off
	// member's copy by hand (TestChaosShort, while that is a known bug).
	NoHandEdits bool
	// Enrolments: what check (f) judges of every enrol-partition episode,
	// in order (enrol.go).
	Enrolments  []EnrolEpisode
	enrolSeq    int               // enrol-partition episodes so far: numbers their features
	enrolWant   map[string]string // the enrolled files as the majority side enrolled them
	enrolUnsure []string          // files whose enrolment is not known (an lmenroll that failed)
}

// rogueRun is a rogue fault in progress.
type rogueRun struct {
	ep       RogueEpisode
	member   int // whose address the rogue has
	start    time.Time
	hold     time.Duration
	offsets  map[int]int64 // targeted members' log sizes at the injection
	proc     *Rogue        // rogue-nokey
	impostor *Impostor     // rogue-stalekey
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
	n.closed = make(chan struct{})
	n.startEnrol()
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
		case FaultKillAll:
			ce := n.killAll()
			if !sleep(ctx, e.Hold) {
				return // the final heal restarts them; not judged
			}
			n.restartAll(ce)
		case FaultEnrolPartition:
			if !n.enrolPartition(ctx, e.Hold, rnd) {
				return
			}
		case FaultRogueNoKey, FaultRogueStaleKey:
			hold := n.startRogue(ctx, e.Fault, e.Hold, rnd)
			ok := sleep(ctx, hold)
			n.endRogue(ctx)
			if !ok {
				return
			}
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
	if n.rogue != nil {
		n.endRogue(context.Background())
	}
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

// pickRogue picks the member whose address a rogue takes: among the
// members that are up (for a standby: not the master), the one whose
// address was refused longest ago, so that the members' rate limit of
// refusal lines (RefusalLogEvery per address) lets this fault's through.
func (n *Nemesis) pickRogue(ctx context.Context, standby bool, rnd *rand.Rand) int {
	m := -1
	if standby {
		m = n.Cluster.Master(ctx)
	}
	var cands []int
	for i := range 3 {
		if !n.down[i] && i != m {
			cands = append(cands, i)
		}
	}
	if len(cands) == 0 {
		return n.pick(ctx, !standby, rnd)
	}
	rnd.Shuffle(len(cands), func(a, b int) { cands[a], cands[b] = cands[b], cands[a] })
	best := cands[0]
	for _, i := range cands[1:] {
		if n.refusalFree[i].Before(n.refusalFree[best]) {
			best = i
		}
	}
	return best
}

// startRogue injects a rogue fault and returns how long to hold it: at
// least hold, and long enough for the members to log a refusal of the
// rogue's address despite their rate limit.
func (n *Nemesis) startRogue(ctx context.Context, fault string, hold time.Duration, rnd *rand.Rand) time.Duration {
	stale := fault == FaultRogueStaleKey
	i := n.pickRogue(ctx, stale, rnd)
	addr := n.Cluster.Net.Addr(i)
	// A rogue's first refusal is logged within margin of when the rate
	// limit lets it (the impostor first has to start and dial).
	margin := 1500 * time.Millisecond
	if stale {
		margin = 2500 * time.Millisecond
	}
	now := time.Now()
	logAt := now
	if n.refusalFree[i].After(now) {
		logAt = n.refusalFree[i]
	}
	if need := logAt.Sub(now) + margin; need > hold {
		n.Logf("nemesis: %s on %s held %.1fs instead of %.1fs: its last refusal was logged less than %v ago", fault, addr, need.Seconds(), hold.Seconds(), RefusalLogEvery)
		hold = need
	}
	n.refusalFree[i] = logAt.Add(RefusalLogEvery + margin)
	n.seq++
	rr := &rogueRun{ep: RogueEpisode{Fault: fault, Addr: addr}, member: i, start: now, hold: hold, offsets: map[int]int64{}}
	var targets []string
	for j := range 3 {
		if j != i {
			rr.offsets[j] = logSize(n.Cluster.LogPath(j))
			targets = append(targets, n.Cluster.Net.Addr(j))
		}
	}
	name := fmt.Sprintf("%s-%s-%d", fault, memberNames[i], n.seq)
	if stale {
		n.Cluster.Kill(i)
		n.down[i] = true
		im, err := n.Cluster.StartImpostor(i, filepath.Join(n.Cluster.Dir, name))
		if err != nil {
			rr.ep.Problems = append(rr.ep.Problems, "starting the impostor: "+err.Error())
		}
		rr.impostor = im
		rr.ep.At = Now()
		n.record(fmt.Sprintf("%s: SIGKILL member %s, impostor lmgrd with another cluster key on its address", fault, addr), false)
	} else {
		p, err := n.Cluster.StartRogue(i, filepath.Join(n.Cluster.Dir, name+".jsonl"), hold+5*time.Second)
		if err != nil {
			rr.ep.Problems = append(rr.ep.Problems, "starting the rogue: "+err.Error())
		}
		rr.proc = p
		rr.ep.At = Now()
		n.record(fmt.Sprintf("%s: rogue without the key on %s against %s", fault, addr, strings.Join(targets, " ")), false)
	}
	n.rogue = rr
	return hold
}

// endRogue heals the rogue fault in progress and gathers what check (d)
// judges: the targets' log lines written during it, the rogue's attempts,
// the impostor's log and the targets' INFO at the end of the hold.
func (n *Nemesis) endRogue(ctx context.Context) {
	rr := n.rogue
	if rr == nil {
		return
	}
	n.rogue = nil
	ep := &rr.ep
	ep.Short = time.Since(rr.start) < rr.hold
	if rr.impostor != nil {
		if ctx.Err() == nil {
			for j := range 3 {
				if _, ok := rr.offsets[j]; ok {
					ep.Probes = append(ep.Probes, n.Cluster.Probe(ctx, j))
				}
			}
		}
		rr.impostor.Stop()
		if logSize(rr.impostor.LogPath()) > 0 {
			ep.ImpostorRan = true
		}
		lines, err := logLines(rr.impostor.LogPath(), 0, -1, rogueLine)
		if err != nil && ep.ImpostorRan {
			ep.Problems = append(ep.Problems, "reading the impostor's log: "+err.Error())
		}
		ep.ImpostorLog = lines
	}
	if rr.proc != nil {
		if err := rr.proc.Stop(); err != nil {
			ep.Problems = append(ep.Problems, err.Error())
		}
		if f, err := os.Open(rr.proc.Out); err != nil {
			ep.Problems = append(ep.Problems, err.Error())
		} else {
			as, err := ReadRogueAttempts(f)
			f.Close()
			if err != nil {
				ep.Problems = append(ep.Problems, "reading the rogue's attempts: "+err.Error())
			}
			ep.Attempts = as
		}
	}
	for j := range 3 {
		from, ok := rr.offsets[j]
		if !ok {
			continue
		}
		path := n.Cluster.LogPath(j)
		lines, err := logLines(path, from, logSize(path), rogueLine)
		if err != nil {
			ep.Problems = append(ep.Problems, fmt.Sprintf("reading %s: %v", path, err))
		}
		ep.Windows = append(ep.Windows, LogWindow{Member: n.Cluster.Net.Addr(j), Lines: lines})
	}
	n.Rogues = append(n.Rogues, *ep)
	if rr.impostor != nil {
		n.restart(rr.member)
	} else {
		n.record("heal: rogue on "+ep.Addr+" stopped", true)
	}
}
