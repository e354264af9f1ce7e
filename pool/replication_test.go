package pool

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/lmtriad/lmtriad/licfile"
)

// assertSameSnapshot compares two snapshots; with exact false it ignores
// LastSeen, which heartbeats (never replicated) make differ.
func assertSameSnapshot(t *testing.T, a, b Snapshot, exact bool) {
	t.Helper()
	if !exact {
		a.Holders = withoutLastSeen(a.Holders)
		b.Holders = withoutLastSeen(b.Holders)
		a.Queued = withoutLastSeen(a.Queued)
		b.Queued = withoutLastSeen(b.Queued)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("snapshots differ:\nmaster  %+v\nreplica %+v", a, b)
	}
}

func withoutLastSeen(hs []Holder) []Holder {
	if hs == nil {
		return nil
	}
	out := make([]Holder, len(hs))
	for i, h := range hs {
		h.LastSeen = time.Time{}
		out[i] = h
	}
	return out
}

var (
	randPoolsA = []licfile.Pool{
		pl("f1/1", "f1", "1.0", 6),
		pl("f1/2", "f1", "2.0", 4, overdraft(1)),
		pl("f2", "f2", "5", 3, dupGrp("UHD")),
		pl("f3", "f3", "1.0", 0, uncounted, hostid("HOSTNAME=host-u1 HOSTNAME=host-u2")),
		pl("f4", "f4", "1", 4, expiry(2025, time.June, 3)),
		pl("f5", "f5", "1", 1, start(2025, time.June, 2), dupGrp("SITE")),
		pl("f6", "f6", "2017.06", 3, hostid("INTERNET=10.0.*.*"), dupGrp("U")),
	}
	randPoolsB = []licfile.Pool{
		pl("f1/1", "f1", "1.0", 3),
		pl("f1/3", "f1", "3.0", 3),
		pl("f2", "f2", "5", 2, dupGrp("UHD")),
		pl("f4", "f4", "1", 3, expiry(2025, time.June, 3)),
		pl("f5", "f5", "1", 2, start(2025, time.June, 2), dupGrp("SITE")),
		pl("f7", "f7", "1", 1),
	}
	randFeatures = []string{"f1", "f2", "f3", "f4", "f5", "f6", "f7", "nope"}
	randVersions = []string{"", "", "", "", "", "", "1", "1", "1.5", "2.000", "3", "2017.12", "5.0"}
)

func newRandomMaster() *State { return New(randPoolsA, Options{HeartbeatTimeout: 20 * time.Minute}) }

func randClient(r *rand.Rand) Client {
	u := r.IntN(5)
	user := fmt.Sprintf("u%d", u)
	c := Client{
		Session: uint64(1 + r.IntN(8)),
		User:    user,
		Host:    "host-" + user,
		Display: ":0",
		PID:     100 + u,
	}
	if u%2 == 0 {
		c.HostIDs = []string{fmt.Sprintf("10.0.0.%d", u)}
	}
	c.IP = fmt.Sprintf("10.%d.0.%d", 8+u%2, u)
	if u >= 3 {
		c.Project = "apollo"
	}
	return c
}

// randomRun drives a master through n random operations from seed and
// returns it. Each operation's deltas go to onDeltas.
func randomRun(t *testing.T, s *State, seed uint64, n int, heartbeats bool, onDeltas func(i int, ds []Delta)) *State {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, seed*7919+1))
	now := t0
	for i := range n {
		now = now.Add(time.Duration(r.IntN(90)) * time.Second)
		if r.IntN(200) == 0 {
			now = now.Add(24 * time.Hour)
		}
		var ds []Delta
		var err error
		switch op := r.IntN(100); {
		case op < 40:
			cr := CheckoutRequest{Client: randClient(r), Feature: randFeatures[r.IntN(len(randFeatures))],
				Version: randVersions[r.IntN(len(randVersions))], Count: r.IntN(4)}
			cr.Queue = r.IntN(3) == 0
			if r.IntN(5) == 0 { // reattach: a live or queued handle or any number
				cr.Handle = uint64(1 + r.IntN(int(s.nextHandle)+3))
				h := s.holders[cr.Handle]
				if h == nil {
					h = s.queued[cr.Handle]
				}
				if h != nil && r.IntN(2) == 0 {
					cr.Feature, cr.Client.User, cr.Client.Host, cr.Client.Display, cr.Client.PID = h.Feature, h.User, h.Host, h.Display, h.PID
				}
			}
			var h Holder
			h, ds, err = s.Checkout(cr, now)
			if err == nil && (h.Handle == 0 || h.Session != cr.Client.Session) {
				t.Fatalf("op %d: bad holder %+v", i, h)
			}
			var den *Denial
			if errors.As(err, &den) && den.Code == CodeFeatQueue {
				if h.Handle != den.Handle || s.queued[h.Handle] == nil || h.Session != cr.Client.Session || len(ds) != 1 {
					t.Fatalf("op %d: bad queued request %+v %v", i, h, ds)
				}
				err = nil
			}
		case op < 60:
			hnd := uint64(1 + r.IntN(int(s.nextHandle)+1))
			sess := uint64(1 + r.IntN(8))
			if h := s.holders[hnd]; h != nil && r.IntN(4) != 0 {
				sess = h.Session
			}
			if q := s.queued[hnd]; q != nil && r.IntN(4) != 0 {
				sess = q.Session
			}
			ds, err = s.Checkin(sess, hnd, now)
		case op < 70:
			if heartbeats {
				s.Heartbeat(uint64(1+r.IntN(8)), now)
			}
			if s.ps.pol != nil && r.IntN(2) == 0 {
				s.SetIdle(uint64(1+r.IntN(8)), r.IntN(3) != 0, now)
			}
		case op < 75:
			ds = s.CloseSession(uint64(1+r.IntN(8)), now)
		case op < 85:
			ds = s.Expire(now)
		case op < 90:
			u := fmt.Sprintf("u%d", r.IntN(5))
			ds, err = s.Remove(randFeatures[r.IntN(len(randFeatures))], u, "host-"+u, ":0", now)
		case op < 99:
			ds, err = s.RemoveHandle(randFeatures[r.IntN(len(randFeatures))], uint64(1+r.IntN(int(s.nextHandle)+1)), now)
		default:
			pools := randPoolsA
			if r.IntN(2) == 0 {
				pools = randPoolsB
			}
			ds = s.Reload(pools, now)
		}
		if err != nil {
			var d *Denial
			if !errors.As(err, &d) || len(ds) != 0 {
				t.Fatalf("op %d: error %v with deltas %v", i, err, ds)
			}
		}
		checkInvariants(t, s)
		if onDeltas != nil {
			onDeltas(i, ds)
		}
	}
	return s
}

func TestReplicationProperty(t *testing.T) {
	for _, policy := range []bool{false, true} {
		for _, heartbeats := range []bool{false, true} {
			for seed := uint64(1); seed <= 20; seed++ {
				t.Run(fmt.Sprintf("seed%d/heartbeats=%v/policy=%v", seed, heartbeats, policy), func(t *testing.T) {
					replicationProperty(t, seed, heartbeats, policy)
				})
			}
		}
	}
}

// randPolicy is the options file of the random runs with policy=true: every
// kind of policy line, about 20 lines.
const randPolicy = `GROUP eng u0 U1
GROUPCASEINSENSITIVE ON
HOST_GROUP hg host-u2 host-u3
INCLUDE f1 GROUP eng
INCLUDE f1 USER u2
INCLUDE f1 USER u3
EXCLUDE f2 INTERNET 10.9.*.*
MAX 2 f1 USER u0
MAX 3 f2 GROUP eng
MAX 1 f3 HOST_GROUP hg
MAX 2 f6 PROJECT apollo
RESERVE 2 f1:VERSION=1.0 USER u1
RESERVE 1 f2 GROUP eng
RESERVE 1 f7 USER u4
RESERVE 2 f4 PROJECT apollo
MAX_OVERDRAFT f1 0
TIMEOUT f2 900
TIMEOUTALL 1800
LINGER f1 120
LINGER f5 600
LINGER f6 60
`

func randOptions(t testing.TB, policy bool) Options {
	opts := Options{HeartbeatTimeout: 20 * time.Minute}
	if policy {
		opts.Policy = parsePolicy(t, randPolicy)
	}
	return opts
}

func replicationProperty(t *testing.T, seed uint64, heartbeats, policy bool) {
	{
		{
			func() {
				replica := New(randPoolsA, randOptions(t, policy))
				var restored *State
				master := New(randPoolsA, randOptions(t, policy))
				var log []Delta
				const n = 600
				randomRun(t, master, seed, n, heartbeats, func(i int, ds []Delta) {
					for _, d := range ds {
						if d.Seq != uint64(len(log))+1 {
							t.Fatalf("op %d: delta Seq %d, want %d", i, d.Seq, len(log)+1)
						}
						log = append(log, d)
						for _, rep := range []*State{replica, restored} {
							if rep == nil {
								continue
							}
							if err := rep.Apply(d); err != nil {
								t.Fatalf("op %d: Apply(%v #%d): %v", i, d.Kind, d.Seq, err)
							}
						}
					}
					if len(log) > 0 && i%7 == 0 {
						// Duplicates are ignored.
						dup := log[int(uint64(i)%uint64(len(log)))]
						if err := replica.Apply(dup); err != nil {
							t.Fatalf("duplicate Apply: %v", err)
						}
					}
					checkInvariants(t, replica)
					if i == n/2 {
						var err error
						if restored, err = Restore(master.Snapshot(), randOptions(t, policy)); err != nil {
							t.Fatal(err)
						}
						checkInvariants(t, restored)
						assertSameSnapshot(t, master.Snapshot(), restored.Snapshot(), true)
					}
					if i%50 == 0 || i == n-1 {
						assertSameSnapshot(t, master.Snapshot(), replica.Snapshot(), !heartbeats)
						if restored != nil {
							assertSameSnapshot(t, master.Snapshot(), restored.Snapshot(), !heartbeats)
						}
					}
				})
				// The policy refuses more checkouts (INCLUDE, MAX, RESERVE).
				if min := map[bool]int{false: n / 5, true: n / 8}[policy]; len(log) < min {
					t.Fatalf("only %d deltas in %d operations: the run exercises too little", len(log), n)
				}
				// A gap is refused and changes nothing.
				before := replica.Snapshot()
				err := replica.Apply(Delta{Seq: replica.Seq() + 2, Kind: Release})
				if !errors.Is(err, ErrGap) {
					t.Fatalf("Apply past a gap: got %v, want ErrGap", err)
				}
				err = replica.Apply(Delta{Seq: replica.Seq() + 1, Kind: Release, Holder: Holder{Handle: 1 << 40}})
				if !errors.Is(err, ErrDiverged) {
					t.Fatalf("Apply of unknown handle: got %v, want ErrDiverged", err)
				}
				assertSameSnapshot(t, before, replica.Snapshot(), true)
			}()
		}
	}
}

// TestReplicationCoverage makes sure the random runs reach every kind of
// delta and every release reason.
func TestReplicationCoverage(t *testing.T) {
	kinds := map[DeltaKind]int{}
	reasons := map[ReleaseReason]int{}
	for seed := uint64(1); seed <= 10; seed++ {
		randomRun(t, New(randPoolsA, randOptions(t, seed > 5)), seed, 600, true, func(_ int, ds []Delta) {
			for _, d := range ds {
				kinds[d.Kind]++
				if d.Kind == Release {
					reasons[d.Reason]++
				}
			}
		})
	}
	for _, k := range []DeltaKind{Grant, Rebind, Release, Reload, Linger, Enqueue, Dequeue} {
		if kinds[k] == 0 {
			t.Errorf("no %v delta in the random runs", k)
		}
	}
	for _, r := range []ReleaseReason{Checkin, SessionClosed, Timeout, Removed, Reread, LingerEnd} {
		if reasons[r] == 0 {
			t.Errorf("no release for %v in the random runs", r)
		}
	}
	t.Logf("kinds %v reasons %v", kinds, reasons)
}

func TestDeterminism(t *testing.T) {
	run := func() ([]Delta, Snapshot) {
		var log []Delta
		s := randomRun(t, newRandomMaster(), 42, 800, true, func(_ int, ds []Delta) { log = append(log, ds...) })
		return log, s.Snapshot()
	}
	l1, s1 := run()
	l2, s2 := run()
	if !reflect.DeepEqual(l1, l2) || !reflect.DeepEqual(s1, s2) {
		t.Fatal("same operations gave different deltas or state")
	}
}

func TestRestoreRejectsInconsistentSnapshot(t *testing.T) {
	pools := []licfile.Pool{pl("k", "f", "1.0", 1)}
	_, err := Restore(Snapshot{Pools: pools, Holders: []Holder{{Handle: 1, PoolKey: "zz", Count: 1}}}, Options{})
	if !errors.Is(err, ErrDiverged) {
		t.Fatalf("unknown pool: got %v, want ErrDiverged", err)
	}
	_, err = Restore(Snapshot{Pools: pools, Holders: []Holder{{Handle: 1, PoolKey: "k", Count: 1}, {Handle: 1, PoolKey: "k", Count: 1}}}, Options{})
	if !errors.Is(err, ErrDiverged) {
		t.Fatalf("duplicate handle: got %v, want ErrDiverged", err)
	}
}

func TestPromotedReplicaTouchAll(t *testing.T) {
	opts := Options{HeartbeatTimeout: 10 * time.Minute}
	master := New([]licfile.Pool{pl("k", "f", "1.0", 5)}, opts)
	replica := New([]licfile.Pool{pl("k", "f", "1.0", 5)}, opts)
	_, ds, err := master.Checkout(req(cl(1, "ann"), "f", "", 1), t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := replica.Apply(ds[0]); err != nil {
		t.Fatal(err)
	}
	master.Heartbeat(1, at(9*time.Minute)) // the replica never hears of it
	// The master dies at 12 minutes; the replica takes over.
	replica.TouchAll(at(12 * time.Minute))
	if ds := replica.Expire(at(22 * time.Minute)); len(ds) != 0 {
		t.Fatalf("promoted replica expired %v before a full timeout", handlesOf(ds))
	}
	if ds := replica.Expire(at(22*time.Minute + 1)); len(ds) != 1 {
		t.Fatalf("promoted replica expired %v, want 1 holder", handlesOf(ds))
	}
}
