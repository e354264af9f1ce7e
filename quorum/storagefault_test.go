package quorum

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"syscall"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

// TestStorageFailure: a member's disk fills up under load. Its Node stops
// (Ready returns ErrStorage wrapping ENOSPC) and sends nothing more; no
// acknowledged grant is lost (the checker's invariant (d)); when it was the
// master, another member takes over. Once the disk has room again the glue
// makes a new Node on the same store, and the member rejoins and catches up,
// also from a snapshot when the others compacted their logs meanwhile.
func TestStorageFailure(t *testing.T) {
	for _, tc := range []struct {
		name    string
		fails   int // slot whose disk fills up
		compact bool
	}{
		{"master", Primary, false},
		{"master, compacting", Primary, true},
		{"standby", Secondary, false},
		{"standby, compacting", Secondary, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setRandom(t, 1)
			o := simOpts{durable: true, faulty: true, capacity: 1000}
			if tc.compact {
				o.compactEvery, o.compactKeep = 4, 1
			}
			s := newSim(t, o)
			if _, ok := s.runUntil(100, func() bool { return slices.Equal(s.servingRanks(), []int{Primary}) }); !ok {
				t.Fatalf("the primary does not serve: %v", s.status())
			}
			rng := rand.New(rand.NewPCG(1, 2))
			s.hook = func() {
				if r := s.servingRanks(); len(r) == 1 {
					_, _ = s.propose(r[0], rng.IntN(3) != 0)
				}
			}
			s.run(10)
			enospc := fmt.Errorf("write raft.db: %w", syscall.ENOSPC)
			s.m[tc.fails].node.store.(*faultyStorage).fail = enospc
			acked := s.stats.acked
			sentAfter, snaps := 0, 0
			s.tap = func(e Envelope, _ []byte) {
				if s.m[tc.fails].diskErr != nil && e.From == s.m[tc.fails].cfg.Self {
					sentAfter++
				}
				for _, m := range e.Msgs {
					if m.Type == raftpb.MsgSnap && e.To == s.m[tc.fails].cfg.Self {
						snaps++
					}
				}
			}
			other := Secondary
			if tc.fails == Secondary {
				other = Primary
			}
			if _, ok := s.runUntil(60, func() bool {
				return slices.Equal(s.servingRanks(), []int{other}) && s.stats.acked > acked+5
			}); !ok {
				t.Fatalf("no master granting after %s's disk filled up: %v\n%s", testHosts[tc.fails], s.status(),
					strings.Join(s.takeLog(), "\n"))
			}
			n := s.m[tc.fails].node
			_, err := n.Ready()
			if !errors.Is(err, ErrStorage) || !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("Ready after the failure: %v, want ErrStorage and ENOSPC", err)
			}
			st := n.Status()
			if !strings.Contains(st.StorageErr, "no space left on device") || st.Serving || st.Role != RoleNoQuorum || st.Master != None {
				t.Fatalf("status of the failed member: %+v", st)
			}
			if err := n.Propose([]byte("g0")); !errors.Is(err, ErrNotServing) {
				t.Fatalf("Propose on the failed member: %v", err)
			}
			if sentAfter > 0 {
				t.Fatalf("the failed member sent %d envelopes", sentAfter)
			}
			s.run(20)
			s.m[tc.fails].node.store.(*faultyStorage).fail = nil
			s.recreate(tc.fails)
			s.run(40)
			s.hook = nil
			s.run(20)
			master := s.servingRanks()
			if len(master) != 1 {
				t.Fatalf("serving %v after the recovery", master)
			}
			if got, want := s.m[tc.fails].tab, s.m[master[0]].tab; got.applied != want.applied || got.granted != want.granted {
				t.Fatalf("the recovered %s's table %+v, the master's %+v", testHosts[tc.fails], got, want)
			}
			if st := s.m[tc.fails].node.Status(); st.StorageErr != "" || !st.Live[(st.Self+1)%Size] || !st.Live[(st.Self+2)%Size] {
				t.Fatalf("the recovered member: %+v", st)
			}
			if tc.compact && snaps == 0 {
				t.Errorf("the recovered %s caught up without a snapshot", testHosts[tc.fails])
			}
			if len(s.violations) > 0 {
				t.Fatal(strings.Join(s.violations, "\n"))
			}
			t.Logf("%d grants and releases acknowledged; %s", s.stats.acked, s.logs())
		})
	}
}
