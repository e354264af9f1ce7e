package quorum

import (
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLinkReasons checks Status.LinkReason for each reason a link is down
// or not usable, as seen by the member named in the case.
func TestLinkReasons(t *testing.T) {
	for _, tc := range []struct {
		name    string
		o       simOpts
		fault   func(s *sim)
		ticks   int
		viewer  int // slot whose Status is read
		subject int // slot whose reason is checked
		want    LinkReason
		text    string
	}{
		{name: "all well", viewer: Primary, subject: Tertiary, want: LinkOK, text: "ok"},
		{name: "unreachable", fault: func(s *sim) { s.crash(Tertiary) }, ticks: 20,
			viewer: Primary, subject: Tertiary, want: LinkUnreachable, text: "unreachable"},
		{name: "SERVER line mismatch", o: simOpts{durable: true}, fault: func(s *sim) {
			s.crash(Tertiary)
			s.m[Tertiary].cfg.Hosts = [Size]string{"host0", "host2", "host1"}
			s.restart(Tertiary)
		}, ticks: 20, viewer: Primary, subject: Tertiary, want: LinkServerMismatch, text: "SERVER line mismatch"},
		{name: "clock skew", fault: func(s *sim) { s.wall[Tertiary] = 2 * time.Hour }, ticks: 20,
			viewer: Secondary, subject: Tertiary, want: LinkClockSkew, text: "clock skew"},
		{name: "catching up, seen by the leader", fault: func(s *sim) {
			s.cutOneWay(Primary, Tertiary) // the tertiary is heard but gets nothing
			_, _ = s.propose(Primary, true)
			s.flush(Primary)
		}, ticks: 3, viewer: Primary, subject: Tertiary, want: LinkCatchingUp, text: "catching up"},
		{name: "catching up, itself", fault: func(s *sim) {
			s.crash(Tertiary)
			s.isolate(Tertiary)
			s.restart(Tertiary) // fresh storage, no leader heard yet
		}, ticks: 1, viewer: Tertiary, subject: Tertiary, want: LinkCatchingUp, text: "catching up"},
		{name: "storage failure", o: simOpts{faulty: true}, fault: func(s *sim) {
			s.m[Secondary].node.store.(*faultyStorage).fail = syscall.ENOSPC
			_, _ = s.propose(Primary, true)
			s.flush(Primary)
		}, ticks: 3, viewer: Secondary, subject: Secondary, want: LinkStorageFailure, text: "storage failure"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setRandom(t, 1)
			s := newSim(t, tc.o)
			if _, ok := s.runUntil(100, func() bool { return slices.Equal(s.servingRanks(), []int{Primary}) }); !ok {
				t.Fatalf("the primary does not serve: %v", s.status())
			}
			s.run(2)
			if tc.fault != nil {
				tc.fault(s)
			}
			s.run(tc.ticks)
			st := s.m[tc.viewer].node.Status()
			if got := st.LinkReason[tc.subject]; got != tc.want || got.String() != tc.text {
				t.Fatalf("%s sees %s: %v (%q), want %v (%q); status %+v\n%s", testHosts[tc.viewer], testHosts[tc.subject],
					got, got.String(), tc.want, tc.text, st, strings.Join(s.takeLog(), "\n"))
			}
			for r, why := range st.LinkReason {
				if r != tc.subject && why != LinkOK && tc.want != LinkOK && why != tc.want && why != LinkUnreachable {
					t.Errorf("%s also sees %s: %v", testHosts[tc.viewer], testHosts[r], why)
				}
			}
		})
	}
	if got := fmt.Sprint(LinkReason(99)); got != "LinkReason(99)" {
		t.Errorf("LinkReason(99) prints %q", got)
	}
}
