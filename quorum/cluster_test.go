package quorum

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/cryptotest"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// The simulator runs three Nodes on one simulated real-time axis, in the
// style of etcd's rafttest: everything is driven from here, one goroutine,
// so a run is reproducible (raft's randomized election timeouts draw on
// crypto/rand, which the tests make deterministic with
// testing/cryptotest.SetGlobalRandom).
//
// Real time advances in steps of stepUnits; unitsPerTick units are one
// nominal tick. Server r ticks every unitsPerTick/rate[r] units, so clock
// drift is exact. Envelopes are encoded with Envelope.Marshal when sent and
// decoded with UnmarshalEnvelope when delivered; in between they may be cut
// (per direction), lost, delayed by latency and jitter, and reordered. A
// crash discards the Node and its memory; a restart makes a new Node with
// fresh storage, New(cfg, nil) (a lost state directory), or with simOpts
// durable, on the storage it had (as lmgrd does with BoltStorage).
//
// Each server runs the license table, a tiny replicated state machine: the
// serving master proposes "gN" (grant) and "rN" (release) entries, only
// while its applied count plus its own grants in flight stays within the
// capacity, and every server applies committed entries in order.
//
// After every step the invariants are checked:
//
//	(a) at most one server is Serving;
//	(b) the tertiary never serves (nor becomes raft leader), and a serving
//	    server hears a peer; one raft leader per term (a restarted server
//	    counts as another);
//	(c) the applied logs agree: every server applies at an index the entry
//	    (term and data) applied there first, across crashes, and no table
//	    ever counts more grants than the capacity or fewer than 0;
//	(d) an acknowledged entry (applied at the server that proposed it) is
//	    applied at every later master before it starts serving.
//
// A raft panic inside a Node is recovered, counted as a violation, and the
// server is treated as crashed (the process would have died); a Node that
// returns ErrBroken takes no further part (a violation too). With simOpts
// excuse, the one loss fresh storage cannot avoid (a committed entry lost
// after fewer than two live servers held it: two of three stores gone) is
// noted instead (see TestRandomFaultsNeverTwoMasters). checkStuck is a
// liveness check the random test adds.
const (
	unitsPerTick = 1000
	stepUnits    = 50
)

var testHosts = [Size]string{"host0", "host1", "host2"}

type simOpts struct {
	pim     bool
	timing  Timing
	down    []int         // ranks that start crashed
	rates   [Size]float64 // 0 means 1
	latency int64         // units every envelope takes
	jitter  int64         // extra random latency in [0, jitter) units
	loss    float64       // probability that an envelope is lost
	reorder float64       // probability that an envelope is delayed by up to one more tick
	seed    uint64        // network randomness
	// excuse makes the checker log, instead of reporting as violations, the
	// loss that volatile storage cannot avoid: an entry lost after fewer
	// than two live members held it (and a table that counted it).
	excuse   bool
	capacity int // license table capacity; 0 means 5
	license  string
	// compactEvery > 0 makes every server snapshot its table and compact its
	// log every compactEvery applied entries, keeping compactKeep.
	compactEvery, compactKeep uint64
	// durable makes a restart keep what the member's storage held at the
	// crash (as BoltStorage does), instead of New(cfg, nil).
	durable bool
	// faulty gives every member a faultyStorage, whose writes fail while
	// its fail is set (a full disk).
	faulty bool
}

// faultyStorage is a Storage whose writes fail, changing nothing, while
// fail is set.
type faultyStorage struct {
	Storage
	fail error
}

func (f *faultyStorage) Save(hs raftpb.HardState, ents []raftpb.Entry, sync bool) error {
	if f.fail != nil {
		return fmt.Errorf("saving %d entries: %w", len(ents), f.fail)
	}
	return f.Storage.Save(hs, ents, sync)
}

func (f *faultyStorage) ApplySnapshot(snap raftpb.Snapshot) error {
	if f.fail != nil {
		return fmt.Errorf("saving a snapshot: %w", f.fail)
	}
	return f.Storage.ApplySnapshot(snap)
}

func (f *faultyStorage) CreateSnapshot(i uint64, cs *raftpb.ConfState, data []byte) (raftpb.Snapshot, error) {
	if f.fail != nil {
		return raftpb.Snapshot{}, fmt.Errorf("saving a snapshot: %w", f.fail)
	}
	return f.Storage.CreateSnapshot(i, cs, data)
}

func (f *faultyStorage) Compact(i uint64) error {
	if f.fail != nil {
		return fmt.Errorf("compacting: %w", f.fail)
	}
	return f.Storage.Compact(i)
}

type flight struct {
	at, seq  int64
	from, to int // slots (testHosts indexes)
	data     []byte
}

// member is the server of slot i (host testHosts[i]); its rank is its host's
// position in its own SERVER lines, which a reordered file changes.
type member struct {
	cfg     Config
	node    *Node   // nil while down
	store   Storage // what it held when it crashed (durable restarts)
	rate    float64
	next    float64 // units of its next tick
	serving bool
	since   int64 // start of the current serving stretch, in units
	inc     int   // incarnation: how many times it started
	lose    bool  // its next start is from fresh storage, even when durable
	keep    bool  // its next start keeps its storage, even when not durable
	diskErr error // its Node stopped on a storage failure (ErrStorage)
	broken  bool  // its Node returned ErrBroken: it takes no further part
	logLost bool  // it logged EventLogLost (its raft log is behind what the leader counts on)
	tab     table
	terms   map[uint64]uint64 // index -> term of every non-empty entry it applied
	compact uint64            // applied index of the last compaction

	// proposals of the current reign (term): data -> grant
	reign                    uint64
	pending                  map[string]bool
	pendGrants, pendReleases int
}

// table is the license table: how many licenses are granted, and which
// entry (index, term) was applied last.
type table struct {
	applied  uint64 // Node.Applied after the last Advance
	last     uint64 // index of the last non-empty entry applied (or of the snapshot's)
	lastTerm uint64
	granted  int
	lost     bool     // it applied entries of a history that was lost (volatile storage)
	log      []string // data applied since start or the last snapshot, for scripts
}

// encode is the table's snapshot: what Node.Compact stores and a lagging
// member restores.
func (t table) encode() []byte {
	b := binary.AppendUvarint(nil, t.last)
	b = binary.AppendUvarint(b, t.lastTerm)
	b = binary.AppendVarint(b, int64(t.granted))
	if t.lost {
		return append(b, 1)
	}
	return append(b, 0)
}

func decodeTable(b []byte) (table, error) {
	var t table
	var k int
	bad := errors.New("bad table snapshot")
	if t.last, k = binary.Uvarint(b); k <= 0 {
		return t, bad
	}
	b = b[k:]
	if t.lastTerm, k = binary.Uvarint(b); k <= 0 {
		return t, bad
	}
	b = b[k:]
	g, k := binary.Varint(b)
	if k <= 0 || len(b[k:]) != 1 {
		return t, bad
	}
	t.granted, t.lost = int(g), b[k] == 1
	return t, nil
}

// rec is what the simulator knows of a committed index: the entry that was
// applied there first.
type rec struct {
	term uint64
	data string
	// atRisk: at some point since it was committed, fewer than two live
	// members held it. Raft with volatile storage (a restart forgets the
	// log) may then lose it; the random test excuses such losses unless -bugs.
	atRisk bool
}

type ack struct {
	index, term uint64
	data        string
	at          int64
}

type sim struct {
	tb     testing.TB
	o      simOpts
	m      [Size]*member
	now    int64 // units
	seq    int64
	queue  []flight
	rng    *rand.Rand
	cut    [Size][Size]bool // cut[a][b]: a's envelopes do not reach b
	nextID int
	wall   [Size]time.Duration // each slot's wall clock minus the simulated real time

	hist    map[uint64]*rec   // every committed index any member applied
	leaders map[uint64]leader // term -> who led it first
	doubled map[uint64]bool   // terms that had two leaders
	acked   []ack
	excused []string // what excuse turned from violations into notes

	// hook, when set, runs once per step after the Ready round (the random
	// test's proposals).
	hook func()
	// tap, when set, sees every envelope sent, and its encoding.
	tap func(e Envelope, b []byte)

	stuckSince int64 // since when a master is due (checkStuck); -1 when none is
	stuckNoted bool
	stuckPairs int // which pairs hear each other (bit a*Size+b)

	log        []string // log lines since the last takeLog
	violations []string
	lastViol   string
	lastViolAt int64
	stats      simStats
}

type simStats struct {
	steps, sent, delivered, lost, proposed, acked, panics, excused, broken, logLost int
}

func newSim(tb testing.TB, o simOpts) *sim {
	tb.Helper()
	if o.timing == (Timing{}) {
		o.timing = FastTiming()
	}
	if o.capacity == 0 {
		o.capacity = 5
	}
	s := &sim{tb: tb, o: o, rng: rand.New(rand.NewPCG(o.seed, 0x5eed)), hist: map[uint64]*rec{},
		leaders: map[uint64]leader{}, doubled: map[uint64]bool{}, stuckSince: -1}
	for r := range Size {
		rate := o.rates[r]
		if rate == 0 {
			rate = 1
		}
		s.m[r] = &member{rate: rate}
		s.resetConfig(r)
	}
	for r := range Size {
		if !slices.Contains(o.down, r) {
			s.start(r)
		}
	}
	return s
}

// resetConfig gives slot r the triad's own SERVER lines and license.
func (s *sim) resetConfig(r int) {
	s.m[r].cfg = Config{Self: r, Hosts: testHosts, PrimaryIsMaster: s.o.pim, Timing: s.o.timing,
		LicenseDigest: s.o.license}
}

func hostIndex(hosts [Size]string, h string) int {
	for i, x := range hosts {
		if x == h {
			return i
		}
	}
	return -1
}

func (s *sim) start(r int) {
	s.tb.Helper()
	m := s.m[r]
	if m.cfg.Self = hostIndex(m.cfg.Hosts, testHosts[r]); m.cfg.Self < 0 {
		s.tb.Fatalf("%s is not on its own SERVER lines %v", testHosts[r], m.cfg.Hosts)
	}
	cfg := m.cfg
	cfg.ServerDigest = "" // New computes it from the hosts
	var store Storage
	if (s.o.durable || m.keep) && !m.lose {
		store = m.store
	}
	if store == nil && s.o.faulty {
		store = &faultyStorage{Storage: NewMemoryStorage()}
	}
	m.lose, m.keep, m.diskErr = false, false, nil
	n, err := New(cfg, store)
	if err != nil {
		s.tb.Fatalf("New(%s): %v", testHosts[r], err)
	}
	m.node, m.serving, m.tab, m.compact = n, false, table{applied: n.Applied()}, n.Applied()
	m.terms, m.broken, m.logLost = map[uint64]uint64{}, false, false
	m.inc++
	m.reign, m.pending, m.pendGrants, m.pendReleases = 0, map[string]bool{}, 0, 0
	m.next = float64(s.now) + unitsPerTick/m.rate
	if snap, err := n.store.Snapshot(); err == nil && len(snap.Data) > 0 {
		// A durable restart: the table is the snapshot's, and raft applies
		// the committed entries after it again.
		s.restore(r, snap)
	}
}

func (s *sim) crash(r int) {
	if s.m[r].node == nil {
		return
	}
	s.m[r].store = s.m[r].node.store
	s.m[r].node, s.m[r].serving = nil, false
	s.dropInbound(r)
	s.logf(r, ">> crashed")
	if !s.o.durable {
		s.noteRisks()
	}
}

// dropInbound drops the envelopes in flight to slot r, which crashed: its
// connections died with it, and a restarted process gets none of what was
// sent to the one before (what r itself sent may still arrive).
func (s *sim) dropInbound(r int) {
	s.queue = slices.DeleteFunc(s.queue, func(f flight) bool { return f.to == r })
}

func (s *sim) restart(r int) {
	if s.m[r].node != nil {
		return
	}
	s.start(r)
	s.logf(r, ">> restarted")
}

// recreate makes slot r a new Node on the storage it has, in the same
// process, as the glue does after a storage failure (ErrStorage).
func (s *sim) recreate(r int) {
	m := s.m[r]
	if m.node == nil {
		return
	}
	m.store, m.keep = m.node.store, true
	m.node, m.serving = nil, false
	s.start(r)
	s.logf(r, ">> recreated")
}

// simEpoch is the wall clock at the start of every simulation, Unix ms.
const simEpoch = 1_767_225_600_000 // 2026-01-01T00:00:00Z

// setWalls gives every running member its wall clock (Node.SetWallClock),
// as the glue does before it steps the node.
func (s *sim) setWalls() {
	for r, m := range s.m {
		if m.node != nil {
			real := time.Duration(s.now) * s.o.timing.Tick / unitsPerTick
			m.node.SetWallClock(simEpoch + (real + s.wall[r]).Milliseconds())
		}
	}
}

// setRate keeps r's next tick where it is; later ticks follow the new rate.
func (s *sim) setRate(r int, rate float64) { s.m[r].rate = rate }

// The network. Cuts apply when an envelope is sent; what is in flight arrives.

func (s *sim) isolate(r int) {
	for q := range Size {
		if q != r {
			s.cut[r][q], s.cut[q][r] = true, true
		}
	}
}

func (s *sim) partition(groups ...[]int) {
	var g [Size]int
	for i, members := range groups {
		for _, r := range members {
			g[r] = i
		}
	}
	for a := range Size {
		for b := range Size {
			s.cut[a][b] = g[a] != g[b]
		}
	}
}

func (s *sim) cutLink(a, b int)   { s.cut[a][b], s.cut[b][a] = true, true }
func (s *sim) cutOneWay(a, b int) { s.cut[a][b] = true }
func (s *sim) healLink(a, b int)  { s.cut[a][b], s.cut[b][a] = false, false }
func (s *sim) healAll()           { s.cut = [Size][Size]bool{} }

// timeStr is the simulated real time in nominal ticks.
func (s *sim) timeStr() string { return fmt.Sprintf("%7.2f", float64(s.now)/unitsPerTick) }

func (s *sim) logf(r int, format string, args ...any) {
	s.log = append(s.log, fmt.Sprintf("[%s] %s: %s", s.timeStr(), testHosts[r], fmt.Sprintf(format, args...)))
}

func (s *sim) takeLog() []string {
	l := s.log
	s.log = nil
	return l
}

// violate records a violation, once per distinct message in a row, so that
// one long overlap is reported once.
func (s *sim) violate(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if s.lastViol == msg && s.lastViolAt >= s.now-stepUnits {
		s.lastViolAt = s.now
		return
	}
	s.lastViol, s.lastViolAt = msg, s.now
	v := fmt.Sprintf("[%s] INVARIANT VIOLATED: %s", s.timeStr(), msg)
	s.violations = append(s.violations, v)
	s.log = append(s.log, v)
}

// breaks notes that slot r's Node gave up (ErrBroken): a violation.
func (s *sim) breaks(r int, err error) {
	m := s.m[r]
	if m.broken {
		return
	}
	m.broken, m.serving = true, false
	s.stats.broken++
	s.violate("%s takes no further part: %v", testHosts[r], err)
	s.logf(r, ">> broken")
}

// safely runs f on slot r's node; a panic is a violation and kills the server.
func (s *sim) safely(r int, what string, f func()) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			s.stats.panics++
			s.violate("%s panicked in %s: %v", testHosts[r], what, p)
			s.m[r].store = s.m[r].node.store
			s.m[r].node, s.m[r].serving = nil, false
			s.dropInbound(r)
			s.logf(r, ">> died")
			if !s.o.durable {
				s.noteRisks()
			}
			ok = false
		}
	}()
	f()
	return true
}

// step advances real time by one step: ticks, deliveries, one Ready round
// per server, the hook, then the checks.
func (s *sim) step() {
	s.now += stepUnits
	s.stats.steps++
	s.setWalls()
	for r, m := range s.m {
		for m.node != nil && m.next <= float64(s.now) {
			s.safely(r, "Tick", m.node.Tick)
			m.next += unitsPerTick / m.rate
		}
	}
	s.deliverDue(false)
	for r := range s.m {
		s.flush(r)
	}
	if s.hook != nil {
		s.hook()
	}
	s.check()
}

// deliverDue steps the due envelopes (all of them if all) into their servers.
func (s *sim) deliverDue(all bool) {
	slices.SortFunc(s.queue, func(a, b flight) int {
		if a.at != b.at {
			return int(a.at - b.at)
		}
		return int(a.seq - b.seq)
	})
	k := 0
	for _, f := range s.queue {
		if !all && f.at > s.now {
			break
		}
		k++
		dst := s.m[f.to]
		if dst.node == nil || dst.broken {
			continue
		}
		e, err := UnmarshalEnvelope(f.data)
		if err != nil {
			s.violate("%s cannot decode an envelope from %s: %v", testHosts[f.to], testHosts[f.from], err)
			continue
		}
		// Like a real transport, name the sender by its rank in the
		// receiver's own file; a host that is not in it is not let in.
		if e.From = hostIndex(dst.cfg.Hosts, testHosts[f.from]); e.From < 0 {
			continue
		}
		e.To = dst.cfg.Self
		s.stats.delivered++
		var serr error
		s.safely(f.to, "Step", func() { serr = dst.node.Step(e) })
		switch {
		case errors.Is(serr, ErrBroken):
			s.breaks(f.to, serr)
		case serr != nil:
			s.violate("%s Step(envelope from %s): %v", testHosts[f.to], testHosts[f.from], serr)
		}
	}
	s.queue = s.queue[k:]
}

// flush acts on slot r's Ready as the glue does: apply, send, log, Advance.
func (s *sim) flush(r int) {
	m := s.m[r]
	if m.node == nil || m.broken {
		return
	}
	var rd Ready
	var err error
	if !s.safely(r, "Ready", func() { rd, err = m.node.Ready() }) {
		return
	}
	if errors.Is(err, ErrBroken) {
		s.breaks(r, err)
		return
	}
	if errors.Is(err, ErrStorage) {
		if m.diskErr == nil {
			m.diskErr = err
			if len(rd.Messages) > 0 || rd.Snapshot != nil || len(rd.CommittedEntries) > 0 {
				s.violate("%s: a failed Ready has output: %+v", testHosts[r], rd)
			}
			s.logf(r, ">> storage failure: %v", err)
		}
		return
	}
	if err != nil {
		s.violate("%s Ready: %v", testHosts[r], err)
		return
	}
	if rd.Snapshot != nil {
		s.restore(r, *rd.Snapshot)
	}
	for _, e := range rd.CommittedEntries {
		s.apply(r, e)
	}
	for _, e := range rd.Messages {
		s.send(r, e)
	}
	for _, e := range rd.Events {
		s.logf(r, "%s", e)
		if e.Kind == EventLogLost {
			m.logLost = true
			s.stats.logLost++
		}
	}
	if !s.safely(r, "Advance", m.node.Advance) {
		return
	}
	m.tab.applied = m.node.Applied()
	if s.o.compactEvery > 0 && m.tab.applied >= m.compact+s.o.compactEvery {
		if err := m.node.Compact(m.tab.encode(), s.o.compactKeep); err != nil {
			s.violate("%s Compact: %v", testHosts[r], err)
		}
		m.compact = m.tab.applied
	}
}

func (s *sim) send(r int, e Envelope) {
	m := s.m[r]
	// e.To is a rank in r's own file: find that host's endpoint.
	if e.To < 0 || e.To >= Size {
		s.violate("%s sends to rank %d", testHosts[r], e.To)
		return
	}
	to := hostIndex(testHosts, m.cfg.Hosts[e.To])
	if to < 0 {
		return // a host that does not exist
	}
	b, err := e.Marshal()
	if err != nil {
		s.violate("%s Marshal: %v", testHosts[r], err)
		return
	}
	s.stats.sent++
	if s.tap != nil {
		s.tap(e, b)
	}
	if s.cut[r][to] || (s.o.loss > 0 && s.rng.Float64() < s.o.loss) {
		s.stats.lost++
		return
	}
	at := s.now + s.o.latency
	if s.o.jitter > 0 {
		at += s.rng.Int64N(s.o.jitter)
	}
	if s.o.reorder > 0 && s.rng.Float64() < s.o.reorder {
		at += s.rng.Int64N(unitsPerTick)
	}
	s.seq++
	s.queue = append(s.queue, flight{at: at, seq: s.seq, from: r, to: to, data: b})
}

func (s *sim) restore(r int, snap raftpb.Snapshot) {
	m := s.m[r]
	clear(m.terms)
	if len(snap.Data) == 0 {
		m.tab = table{applied: snap.Metadata.Index} // the bootstrap snapshot
		return
	}
	t, err := decodeTable(snap.Data)
	if err != nil {
		s.violate("%s restores a snapshot at %d: %v", testHosts[r], snap.Metadata.Index, err)
		return
	}
	t.applied = snap.Metadata.Index
	if rc := s.hist[t.last]; rc != nil && t.last > 0 && rc.term != t.lastTerm {
		s.lost(rc, "%s restores a snapshot at %d whose entry at %d has term %d; %q (term %d) was committed there",
			testHosts[r], snap.Metadata.Index, t.last, t.lastTerm, rc.data, rc.term)
	}
	if t.last > 0 {
		m.terms[t.last] = t.lastTerm
	}
	m.tab = t
	s.checkTable(r)
}

func (s *sim) apply(r int, e raftpb.Entry) {
	m := s.m[r]
	t := &m.tab
	if e.Index <= t.last {
		s.violate("%s applies index %d after %d", testHosts[r], e.Index, t.last)
	}
	data := string(e.Data)
	switch data[0] {
	case 'g':
		t.granted++
	case 'r':
		t.granted--
	}
	t.last, t.lastTerm = e.Index, e.Term
	t.log = append(t.log, data)
	m.terms[e.Index] = e.Term
	switch rc := s.hist[e.Index]; {
	case rc == nil:
		s.hist[e.Index] = &rec{term: e.Term, data: data, atRisk: s.holders(e.Index, e.Term) < 2}
	case rc.term == e.Term && rc.data == data:
	default:
		// Two different entries were committed at one index: rc was lost.
		// (With the same term only if every member forgot the log: terms
		// restart from 0 with fresh storage.)
		s.lost(rc, "%s applied %q (term %d) at %d; %q (term %d) was committed there before", testHosts[r],
			data, e.Term, e.Index, rc.data, rc.term)
		for _, q := range s.m {
			if q.node != nil && q.terms[e.Index] == rc.term {
				q.tab.lost = true
			}
		}
		s.hist[e.Index] = &rec{term: e.Term, data: data, atRisk: s.holders(e.Index, e.Term) < 2}
	}
	s.checkTable(r)
	if grant, mine := m.pending[data]; mine {
		delete(m.pending, data)
		if grant {
			m.pendGrants--
		} else {
			m.pendReleases--
		}
		s.acked = append(s.acked, ack{index: e.Index, term: e.Term, data: data, at: s.now})
		s.stats.acked++
	}
}

// lost reports that the committed entry rc is lost: a violation, unless it
// was at risk (fewer than two live members held it) and o.excuse is set.
func (s *sim) lost(rc *rec, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if rc.atRisk {
		msg += " (it was at risk: fewer than two live members held it)"
		if s.o.excuse {
			s.excuse("%s", msg)
			return
		}
	}
	s.violate("%s", msg)
}

func (s *sim) excuse(format string, args ...any) {
	msg := fmt.Sprintf("[%s] excused: %s", s.timeStr(), fmt.Sprintf(format, args...))
	s.stats.excused++
	s.excused = append(s.excused, msg)
	s.log = append(s.log, msg)
}

// holders counts the members whose raft log holds the entry (index, term),
// or a snapshot past it: the live ones, and with durable storage the
// crashed ones too.
func (s *sim) holders(index, term uint64) int {
	n := 0
	for _, m := range s.m {
		store := m.store
		if m.node != nil {
			store = m.node.store
		} else if !s.o.durable || store == nil {
			continue
		}
		t, err := store.Term(index)
		if (err == nil && t == term) || errors.Is(err, raft.ErrCompacted) {
			n++
		}
	}
	return n
}

// noteRisks marks the committed entries that fewer than two live members
// hold, after a member died.
func (s *sim) noteRisks() {
	for i, rc := range s.hist {
		if !rc.atRisk && s.holders(i, rc.term) < 2 {
			rc.atRisk = true
		}
	}
}

func (s *sim) checkTable(r int) {
	t := s.m[r].tab
	if t.granted < 0 || t.granted > s.o.capacity {
		msg := fmt.Sprintf("%s's table counts %d licenses granted, capacity %d", testHosts[r], t.granted, s.o.capacity)
		if t.lost && s.o.excuse {
			s.excuse("%s (it applied entries that were lost)", msg)
			return
		}
		s.violate("%s", msg)
	}
}

// checkAcked checks, when slot r starts serving, that it has applied every
// acknowledged entry.
func (s *sim) checkAcked(r int) {
	m := s.m[r]
	for _, a := range s.acked {
		if m.tab.applied >= a.index {
			t, err := m.node.store.Term(a.index)
			if errors.Is(err, raft.ErrCompacted) || (err == nil && t == a.term) {
				continue // applied, or restored from a snapshot past it
			}
		}
		rc := s.hist[a.index]
		if rc == nil || rc.term == a.term {
			rc = &rec{term: a.term, data: a.data, atRisk: rc != nil && rc.atRisk}
		} else {
			rc = &rec{term: a.term, data: a.data, atRisk: true} // superseded: it was lost before
		}
		s.lost(rc, "%s starts serving without %q (index %d, term %d), which was acknowledged at %.2f",
			testHosts[r], a.data, a.index, a.term, float64(a.at)/unitsPerTick)
	}
}

var (
	errCapacity = errors.New("capacity reached")
	errNone     = errors.New("nothing to release")
)

// propose has slot r, which must be serving, propose a grant or a release.
// It returns the entry's data.
func (s *sim) propose(r int, grant bool) (string, error) {
	m := s.m[r]
	if m.node == nil {
		return "", ErrNotServing
	}
	if term := m.node.Status().Term; term != m.reign {
		// Entries proposed in an earlier reign are applied before this
		// one serves, or never: they count no more.
		m.reign, m.pendGrants, m.pendReleases = term, 0, 0
		clear(m.pending)
	}
	if grant && m.tab.granted+m.pendGrants >= s.o.capacity {
		return "", errCapacity
	}
	if !grant && m.tab.granted-m.pendReleases <= 0 {
		return "", errNone
	}
	data := "g" + strconv.Itoa(s.nextID+1)
	if !grant {
		data = "r" + strconv.Itoa(s.nextID+1)
	}
	var err error
	if !s.safely(r, "Propose", func() { err = m.node.Propose([]byte(data)) }) {
		return "", ErrNotServing
	}
	if err != nil {
		return "", err
	}
	s.nextID++
	s.stats.proposed++
	m.pending[data] = grant
	if grant {
		m.pendGrants++
	} else {
		m.pendReleases++
	}
	return data, nil
}

// check looks at every server after a step.
func (s *sim) check() {
	var serving []string
	for r, m := range s.m {
		if m.node == nil {
			continue
		}
		st := m.node.Status()
		on := m.node.Serving()
		if on != m.serving {
			m.serving = on
			if on {
				m.since = s.now
				s.logf(r, ">> starts serving")
				s.checkAcked(r)
			} else {
				s.logf(r, ">> stops serving")
			}
		}
		if st.Serving != on {
			s.violate("%s: Status().Serving %v, Serving() %v", testHosts[r], st.Serving, on)
		}
		if st.Role == RoleMaster && m.cfg.Self == Tertiary {
			s.violate("%s, the tertiary, is raft leader", testHosts[r])
		}
		if st.Role == RoleMaster {
			s.checkLeader(r, st.Term)
		}
		if !on {
			continue
		}
		serving = append(serving, testHosts[r])
		if m.cfg.Self == Tertiary {
			s.violate("%s, the tertiary, serves", testHosts[r])
		}
		if !st.Live[(m.cfg.Self+1)%Size] && !st.Live[(m.cfg.Self+2)%Size] {
			s.violate("%s serves alone", testHosts[r])
		}
	}
	if len(serving) > 1 {
		s.violate("two masters serving: %s", strings.Join(serving, ", "))
	}
}

// checkStuck is a liveness check: two members that hear each other, one
// of them eligible (the primary or the secondary), must have a master
// serving within limit units of the last change in which pairs hear each
// other, when no envelope is lost. A triad stuck longer is a violation.
// A pair one of whose members started from fresh storage while the third
// member is down is not expected to elect (the amnesia rule, docs/triad.md):
// it counts only once the third member is back.
func (s *sim) checkStuck(limit int64) {
	pairs, mask := 0, 0
	if s.o.loss == 0 && len(s.servingRanks()) == 0 {
		for a := range Size {
			for b := a + 1; b < Size; b++ {
				ma, mb := s.m[a], s.m[b]
				if ma.node == nil || mb.node == nil || s.cut[a][b] || s.cut[b][a] ||
					ma.cfg.Self == Tertiary && mb.cfg.Self == Tertiary {
					continue
				}
				if d := Size*(Size-1)/2 - a - b; s.m[d].node == nil && (votesBlocked(ma, d) || votesBlocked(mb, d)) {
					continue
				}
				pairs++
				mask |= 1 << (a*Size + b)
			}
		}
	}
	if pairs == 0 {
		s.stuckSince, s.stuckNoted = -1, false
		return
	}
	if s.stuckSince < 0 || mask != s.stuckPairs {
		// A new expectation: a member (re)started, or a link healed.
		s.stuckSince, s.stuckNoted, s.stuckPairs = s.now, false, mask
	}
	if s.stuckNoted || s.now-s.stuckSince < limit {
		return
	}
	s.stuckNoted = true
	msg := fmt.Sprintf("no master for %.2f ticks although %d pair(s) of members hear each other: %s",
		float64(s.now-s.stuckSince)/unitsPerTick, pairs, s.logs())
	s.violate("%s", msg)
}

// votesBlocked reports whether the amnesia rule (mayVoteAmnesiac) keeps
// member m from voting for anyone but an empty log while slot d is away: m
// started from an empty store and has not heard d since, or has neither
// caught up nor heard d rebuilding too.
func votesBlocked(m *member, d int) bool {
	n := m.node
	dr := hostIndex(m.cfg.Hosts, testHosts[d])
	return n.amnesiac && (dr < 0 || n.heard[dr] < 0 || (!n.caughtUp && !n.peerRebuilding[dr]))
}

// leader is who led a term: a slot, its incarnation, and every member's
// incarnation then.
type leader struct {
	slot, inc int
	incs      [Size]int
}

// checkLeader checks raft's election safety: one leader per term, where a
// restarted member is another member. A term no member remembers (each
// restarted with fresh storage since, or down with fresh storage) may be
// led again: a new history.
func (s *sim) checkLeader(r int, term uint64) {
	me := leader{slot: r, inc: s.m[r].inc}
	for q, m := range s.m {
		me.incs[q] = m.inc
	}
	first, ok := s.leaders[term]
	forgotten := !s.o.durable
	for q := range Size {
		// With fresh storage a member forgets at its crash: one that is
		// down now remembers nothing of the term either.
		forgotten = forgotten && (me.incs[q] > first.incs[q] || s.m[q].node == nil)
	}
	if !ok || forgotten {
		s.leaders[term] = me
		return
	}
	if first.slot == me.slot && first.inc == me.inc || s.doubled[term] {
		return
	}
	s.doubled[term] = true
	s.violate("two raft leaders in term %d: %s (incarnation %d), then %s (incarnation %d)", term,
		testHosts[first.slot], first.inc, testHosts[r], me.inc)
}

// run advances real time by ticks nominal ticks.
func (s *sim) run(ticks int) {
	for range ticks * unitsPerTick / stepUnits {
		s.step()
	}
}

// runUntil advances until cond holds or maxTicks pass; it returns the
// nominal ticks elapsed and whether cond held.
func (s *sim) runUntil(maxTicks int, cond func() bool) (float64, bool) {
	start := s.now
	for s.now-start < int64(maxTicks)*unitsPerTick {
		s.step()
		if cond() {
			return float64(s.now-start) / unitsPerTick, true
		}
	}
	return float64(s.now-start) / unitsPerTick, false
}

// deliver settles the network without time passing: everything in flight
// is delivered, and the replies too, for at most ten rounds.
func (s *sim) deliver() {
	s.setWalls()
	for range 10 {
		if len(s.queue) == 0 {
			return
		}
		s.deliverDue(true)
		for r := range s.m {
			s.flush(r)
		}
		s.check()
	}
}

// servingRanks lists the slots that serve now.
func (s *sim) servingRanks() []int {
	var out []int
	for r, m := range s.m {
		if m.node != nil && m.node.Serving() {
			out = append(out, r)
		}
	}
	return out
}

func (s *sim) status() []string {
	var out []string
	for r, m := range s.m {
		if m.node == nil {
			out = append(out, testHosts[r]+": down")
			continue
		}
		st := m.node.Status()
		out = append(out, fmt.Sprintf("%s: %s term=%d", testHosts[r], st, st.Term))
	}
	return out
}

// logs summarizes each member's raft log: term, commit and last index.
func (s *sim) logs() string {
	var b strings.Builder
	for r, m := range s.m {
		if r > 0 {
			b.WriteString(" ")
		}
		if m.node == nil {
			b.WriteString("down")
			continue
		}
		st := m.node.Status()
		last, _ := m.node.store.LastIndex()
		lastTerm, _ := m.node.store.Term(last)
		fmt.Fprintf(&b, "t%d:c%d:%d/%d", st.Term, st.Commit, last, lastTerm)
	}
	return b.String()
}

func (s *sim) tableLines() []string {
	var out []string
	for r, m := range s.m {
		if m.node == nil {
			out = append(out, testHosts[r]+": down")
			continue
		}
		t := m.tab
		line := fmt.Sprintf("%s: applied=%d granted=%d/%d log=%s", testHosts[r], t.applied, t.granted,
			s.o.capacity, strings.Join(t.log, ","))
		if len(t.log) == 0 {
			line += "-"
		}
		if len(m.pending) > 0 && m.reign == m.node.Status().Term {
			var p []string
			for d := range m.pending {
				p = append(p, d)
			}
			slices.Sort(p)
			line += " in-flight=" + strings.Join(p, ",")
		}
		out = append(out, line)
	}
	var a []string
	for _, x := range s.acked {
		a = append(a, fmt.Sprintf("%s@%d", x.data, x.index))
	}
	if len(a) == 0 {
		a = []string{"none"}
	}
	return append(out, "acknowledged: "+strings.Join(a, " "))
}

// TestSimStartsAndFailsOver is a smoke test of the simulator itself: the
// primary serves after a cold start, a crash fails over to the secondary.
func TestSimStartsAndFailsOver(t *testing.T) {
	setRandom(t, 1)
	s := newSim(t, simOpts{})
	if _, ok := s.runUntil(100, func() bool { return len(s.servingRanks()) == 1 }); !ok {
		t.Fatalf("nobody serves\n%s", strings.Join(s.takeLog(), "\n"))
	}
	if got := s.servingRanks(); got[0] != Primary {
		t.Fatalf("serving %v, want the primary", got)
	}
	s.crash(Primary)
	took, ok := s.runUntil(100, func() bool { return len(s.servingRanks()) == 1 })
	if !ok || s.servingRanks()[0] != Secondary {
		t.Fatalf("after the primary's crash serving %v\n%s", s.servingRanks(), strings.Join(s.takeLog(), "\n"))
	}
	t.Logf("failover in %.2f ticks", took)
	if len(s.violations) > 0 {
		t.Fatal(strings.Join(s.violations, "\n"))
	}
}

// setRandom makes crypto/rand, and so raft's randomized election timeouts,
// a deterministic stream for the rest of t.
func setRandom(t *testing.T, seed uint64) { cryptotest.SetGlobalRandom(t, seed) }
