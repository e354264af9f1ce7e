package pool

import (
	"testing"
	"time"

	"github.com/lmtriad/lmtriad/licfile"
)

// clocks is a fake pair of a wall clock, which steps, and a monotonic one,
// which only runs forward.
type clocks struct {
	wall time.Time
	mono time.Duration
}

func (c *clocks) Monotonic() time.Duration { return c.mono }

// run lets d pass on both clocks.
func (c *clocks) run(d time.Duration) { c.wall, c.mono = c.wall.Add(d), c.mono+d }

// step moves the wall clock alone (NTP, a resumed VM).
func (c *clocks) step(d time.Duration) { c.wall = c.wall.Add(d) }

func TestWallStepFreesNobody(t *testing.T) {
	const timeout = 2 * time.Minute
	for _, step := range []time.Duration{time.Hour, -time.Hour, 10 * time.Minute, -10 * time.Minute} {
		t.Run(step.String(), func(t *testing.T) {
			c := &clocks{wall: t0, mono: 5 * time.Hour}
			s := New([]licfile.Pool{pl("k", "f", "1.0", 5)}, Options{HeartbeatTimeout: timeout, Monotonic: c.Monotonic})
			for id := uint64(1); id <= 5; id++ {
				mustCheckout(t, s, req(cl(id, "u"), "f", "", 1), c.wall)
			}
			c.run(time.Minute)
			for id := uint64(1); id <= 5; id++ {
				s.Heartbeat(id, c.wall)
			}
			c.step(step)
			if ds := s.Expire(c.wall); len(ds) != 0 {
				t.Fatalf("a wall step of %v freed %v", step, handlesOf(ds))
			}
			// Sessions 1-4 keep beating across the step; 5 falls silent.
			c.run(time.Minute)
			for id := uint64(1); id <= 4; id++ {
				s.Heartbeat(id, c.wall)
			}
			if ds := s.Expire(c.wall); len(ds) != 0 {
				t.Fatalf("freed %v within the timeout", handlesOf(ds))
			}
			c.run(time.Minute) // session 5: exactly the timeout since its last heartbeat
			if ds := s.Expire(c.wall); len(ds) != 0 {
				t.Fatalf("freed %v at exactly the timeout", handlesOf(ds))
			}
			c.run(time.Nanosecond)
			ds := s.Expire(c.wall)
			wantReleases(t, ds, Timeout, 5)
			if !ds[0].Time.Equal(c.wall) {
				t.Fatalf("the release is stamped %v, want the wall clock's %v", ds[0].Time, c.wall)
			}
			checkInvariants(t, s)
			if s.Holders() != 4 {
				t.Fatalf("holders %d, want 4", s.Holders())
			}
		})
	}
}

func TestWallStandingStillStillFrees(t *testing.T) {
	// Real silence is measured on the monotonic clock even when the wall
	// clock is stepped back by as much as has passed.
	c := &clocks{wall: t0}
	s := New([]licfile.Pool{pl("k", "f", "1.0", 5)}, Options{HeartbeatTimeout: time.Minute, Monotonic: c.Monotonic})
	mustCheckout(t, s, req(cl(1, "ann"), "f", "", 1), c.wall)
	c.run(time.Hour)
	c.step(-time.Hour)
	wantReleases(t, s.Expire(c.wall), Timeout, 1)
}

func TestRestoreMeasuresSilenceFromRestore(t *testing.T) {
	// A snapshot carries wall-clock LastSeen only; the restoring State's own
	// monotonic clock starts every session's silence at the restore, however
	// old or new the master's wall readings look here.
	master := New([]licfile.Pool{pl("k", "f", "1.0", 5)}, Options{HeartbeatTimeout: time.Minute})
	mustCheckout(t, master, req(cl(1, "ann"), "f", "", 1), at(-24*time.Hour)) // the master's clock was a day behind
	mustCheckout(t, master, req(cl(2, "bob"), "f", "", 1), at(time.Hour))     // or an hour ahead
	snap := master.Snapshot()

	c := &clocks{wall: t0, mono: 42 * time.Second}
	s, err := Restore(snap, Options{HeartbeatTimeout: time.Minute, Monotonic: c.Monotonic})
	if err != nil {
		t.Fatal(err)
	}
	if ds := s.Expire(c.wall); len(ds) != 0 {
		t.Fatalf("freed %v at the restore", handlesOf(ds))
	}
	c.run(30 * time.Second)
	s.Heartbeat(2, c.wall)
	c.run(30 * time.Second)
	if ds := s.Expire(c.wall); len(ds) != 0 {
		t.Fatalf("freed %v within the timeout of the restore", handlesOf(ds))
	}
	c.run(time.Nanosecond)
	wantReleases(t, s.Expire(c.wall), Timeout, 1)
	c.run(30 * time.Second)
	wantReleases(t, s.Expire(c.wall), Timeout, 2)
	checkInvariants(t, s)
}

func TestTouchAllRestartsMonotonicSilence(t *testing.T) {
	c := &clocks{wall: t0}
	s := New([]licfile.Pool{pl("k", "f", "1.0", 5)}, Options{HeartbeatTimeout: time.Minute, Monotonic: c.Monotonic})
	mustCheckout(t, s, req(cl(1, "ann"), "f", "", 1), c.wall)
	c.run(50 * time.Second)
	c.step(-time.Hour)
	s.TouchAll(c.wall)
	c.run(time.Minute)
	if ds := s.Expire(c.wall); len(ds) != 0 {
		t.Fatalf("freed %v within the timeout of TouchAll", handlesOf(ds))
	}
	c.run(time.Nanosecond)
	wantReleases(t, s.Expire(c.wall), Timeout, 1)
}
