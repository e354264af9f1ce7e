package pool

import (
	"testing"
	"time"

	"github.com/lmtriad/lmtriad/licfile"
)

func borrowHours(h int) func(*licfile.Pool) { return func(p *licfile.Pool) { p.Borrow = h } }

func TestBorrowChecks(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name   string
		pools  []licfile.Pool
		policy string
		before int // licenses borrowed first by other users, one each
		count  int
		until  time.Duration // from now
		want   int           // denial code; 0: granted
	}{
		{"granted", []licfile.Pool{pl("a", "f", "1.0", 4, borrowHours(168))}, "", 0, 1, day, 0},
		{"not borrowable", []licfile.Pool{pl("a", "f", "1.0", 4)}, "", 0, 1, day, CodeNoneToBorrow},
		{"unknown feature", []licfile.Pool{pl("a", "g", "1.0", 4, borrowHours(168))}, "", 0, 1, day, CodeNoFeature},
		{"too long for the line", []licfile.Pool{pl("a", "f", "1.0", 4, borrowHours(24))}, "", 0, 1, day + time.Second, CodeBorrowLong},
		{"exactly the line", []licfile.Pool{pl("a", "f", "1.0", 4, borrowHours(24))}, "", 0, 1, day, 0},
		{"past end", []licfile.Pool{pl("a", "f", "1.0", 4, borrowHours(24))}, "", 0, 1, 0, CodeBorrowLong},
		{"MAX_BORROW_HOURS", []licfile.Pool{pl("a", "f", "1.0", 4, borrowHours(168))}, "MAX_BORROW_HOURS f 10\n", 0, 1, 11 * time.Hour, CodeBorrowLong},
		{"MAX_BORROW_HOURS within", []licfile.Pool{pl("a", "f", "1.0", 4, borrowHours(168))}, "MAX_BORROW_HOURS f 10\n", 0, 1, 10 * time.Hour, 0},
		{"MAX_BORROW_HOURS cannot raise", []licfile.Pool{pl("a", "f", "1.0", 4, borrowHours(5))}, "MAX_BORROW_HOURS f 10\n", 0, 1, 6 * time.Hour, CodeBorrowLong},
		{"EXCLUDE_BORROW", []licfile.Pool{pl("a", "f", "1.0", 4, borrowHours(168))}, "EXCLUDE_BORROW f USER alice\n", 0, 1, day, CodeFeatExclude},
		{"INCLUDE_BORROW other", []licfile.Pool{pl("a", "f", "1.0", 4, borrowHours(168))}, "INCLUDE_BORROW f USER bob\n", 0, 1, day, CodeFeatNotInclude},
		{"BORROW_LOWWATER room", []licfile.Pool{pl("a", "f", "1.0", 4, borrowHours(168))}, "BORROW_LOWWATER f 2\n", 1, 1, day, 0},
		{"BORROW_LOWWATER reached", []licfile.Pool{pl("a", "f", "1.0", 4, borrowHours(168))}, "BORROW_LOWWATER f 2\n", 2, 1, day, CodeNoneToBorrow},
		{"BORROW_LOWWATER count", []licfile.Pool{pl("a", "f", "1.0", 4, borrowHours(168))}, "BORROW_LOWWATER f 2\n", 0, 3, day, CodeNoneToBorrow},
		{"all borrowed", []licfile.Pool{pl("a", "f", "1.0", 1, borrowHours(168))}, "", 1, 1, day, CodeNoneToBorrow},
		{"second pool borrowable", []licfile.Pool{pl("a", "f", "1.0", 4), pl("b", "f", "1.0", 4, borrowHours(168))}, "", 0, 1, day, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{}
			if tt.policy != "" {
				opts.Policy = parsePolicy(t, tt.policy)
			}
			s := New(tt.pools, opts)
			for i := range tt.before {
				if _, _, err := s.Borrow(req(cl(uint64(10+i), "other"), "f", "", 1), at(day), t0); err != nil {
					t.Fatalf("borrow before: %v", err)
				}
			}
			h, ds, err := s.Borrow(req(cl(1, "alice"), "f", "", tt.count), t0.Add(tt.until), t0)
			checkInvariants(t, s)
			if tt.want != 0 {
				wantDenial(t, err, tt.want)
				return
			}
			if err != nil {
				t.Fatalf("got %v, want a grant", err)
			}
			if h.Session != 0 || !h.BorrowUntil.Equal(t0.Add(tt.until)) || len(ds) != 1 || ds[0].Kind != Grant {
				t.Fatalf("got holder %+v deltas %+v, want a detached Grant until %v", h, ds, t0.Add(tt.until))
			}
			if got := s.Borrowed(); got != tt.before+tt.count {
				t.Fatalf("Borrowed() = %d, want %d", got, tt.before+tt.count)
			}
		})
	}
}

func TestBorrowLifecycle(t *testing.T) {
	until := at(48 * time.Hour)
	newState := func() *State {
		return New([]licfile.Pool{pl("a", "f", "1.0", 2, borrowHours(168))}, Options{HeartbeatTimeout: time.Minute})
	}
	borrow := func(t *testing.T, s *State) Holder {
		r := req(cl(1, "alice"), "f", "", 1)
		r.NewSecret = "s3cret"
		h, _, err := s.Borrow(r, until, t0)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	t.Run("survives session close, timeout and checkin", func(t *testing.T) {
		s := newState()
		h := borrow(t, s)
		if ds := s.CloseSession(1, at(time.Second)); len(ds) != 0 {
			t.Fatalf("CloseSession: got %v, want nothing", ds)
		}
		if ds := s.Expire(at(time.Hour)); len(ds) != 0 {
			t.Fatalf("Expire: got %v, want nothing", ds)
		}
		if _, err := s.Checkin(0, h.Handle, at(time.Hour)); err == nil {
			t.Fatal("Checkin of a borrowed license: got nil, want -41")
		}
		if _, err := s.Remove("f", "alice", h.Host, h.Display, at(time.Hour)); err == nil {
			t.Fatal("Remove of a borrowed license: got nil, want -41")
		}
		if got := inUse(t, s, "f"); got != 1 {
			t.Fatalf("in use %d, want 1", got)
		}
		checkInvariants(t, s)
	})
	t.Run("reattach does not take it", func(t *testing.T) {
		s := newState()
		h := borrow(t, s)
		r := req(cl(1, "alice"), "f", "", 1)
		r.Handle, r.Secret = h.Handle, "s3cret"
		got := mustCheckout(t, s, r, at(time.Second))
		if got.Handle == h.Handle || s.Borrowed() != 1 || inUse(t, s, "f") != 2 {
			t.Fatalf("reattach took the borrowed handle: %+v", got)
		}
	})
	t.Run("expires at its end", func(t *testing.T) {
		s := newState()
		h := borrow(t, s)
		if ds := s.Expire(until.Add(-time.Nanosecond)); len(ds) != 0 {
			t.Fatalf("Expire before the end: got %v", ds)
		}
		ds := s.Expire(until)
		if len(ds) != 1 || ds[0].Reason != BorrowEnd || ds[0].Holder.Handle != h.Handle {
			t.Fatalf("Expire at the end: got %+v, want one BorrowEnd", ds)
		}
		if s.Borrowed() != 0 || inUse(t, s, "f") != 0 {
			t.Fatal("still borrowed")
		}
		checkInvariants(t, s)
	})
	t.Run("return", func(t *testing.T) {
		s := newState()
		h := borrow(t, s)
		_, err := s.Return("f", h.Handle, "wrong", at(time.Hour))
		wantDenial(t, err, CodeNeverCheckedOut)
		_, err = s.Return("g", h.Handle, "s3cret", at(time.Hour))
		wantDenial(t, err, CodeNeverCheckedOut)
		ds, err := s.Return("f", h.Handle, "s3cret", at(time.Hour))
		if err != nil || len(ds) != 1 || ds[0].Reason != Returned {
			t.Fatalf("Return: got %+v, %v; want one Returned", ds, err)
		}
		if s.Borrowed() != 0 || inUse(t, s, "f") != 0 {
			t.Fatal("still borrowed")
		}
		checkInvariants(t, s)
	})
	t.Run("return of a checked-out license", func(t *testing.T) {
		s := newState()
		h := mustCheckout(t, s, req(cl(1, "alice"), "f", "", 1), t0)
		_, err := s.Return("f", h.Handle, h.Secret, at(time.Hour))
		wantDenial(t, err, CodeNeverCheckedOut)
	})
}

// TestBorrowReplication: a replica fed the master's deltas, or restored
// from its Snapshot, holds the same borrowed licenses and frees them alike.
func TestBorrowReplication(t *testing.T) {
	pools := []licfile.Pool{pl("a", "f", "1.0", 3, borrowHours(168)), pl("b", "g", "1.0", 2)}
	m := New(pools, Options{HeartbeatTimeout: time.Minute})
	r := New(pools, Options{})
	apply := func(ds []Delta) {
		t.Helper()
		for _, d := range ds {
			if err := r.Apply(d); err != nil {
				t.Fatalf("Apply(%+v): %v", d, err)
			}
		}
		checkInvariants(t, r)
		assertSameSnapshot(t, m.Snapshot(), r.Snapshot(), false)
	}
	b1 := req(cl(1, "alice"), "f", "", 1)
	b1.NewSecret = "x"
	h1, ds, err := m.Borrow(b1, at(10*time.Hour), t0)
	if err != nil {
		t.Fatal(err)
	}
	apply(ds)
	_, ds, err = m.Borrow(req(cl(2, "bob"), "f", "", 1), at(20*time.Hour), t0)
	if err != nil {
		t.Fatal(err)
	}
	apply(ds)
	_, ds, _ = m.Checkout(req(cl(1, "alice"), "g", "", 1), t0)
	apply(ds)
	apply(m.CloseSession(1, at(time.Second)))
	apply(m.CloseSession(2, at(time.Second)))
	if r.Borrowed() != 2 {
		t.Fatalf("replica Borrowed() = %d, want 2", r.Borrowed())
	}
	// A replica restored from the snapshot, then promoted, expires them too.
	snap := m.Snapshot()
	rr, err := Restore(snap, Options{HeartbeatTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, rr)
	assertSameSnapshot(t, snap, rr.Snapshot(), true)
	if rr.Borrowed() != 2 {
		t.Fatalf("restored Borrowed() = %d, want 2", rr.Borrowed())
	}
	ds, err = m.Return("f", h1.Handle, "x", at(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	apply(ds)
	apply(m.Expire(at(20 * time.Hour)))
	if m.Borrowed() != 0 || r.Borrowed() != 0 {
		t.Fatalf("Borrowed() master %d replica %d, want 0", m.Borrowed(), r.Borrowed())
	}
	ds = rr.Expire(at(20 * time.Hour))
	if len(ds) != 2 || ds[0].Reason != BorrowEnd || rr.Borrowed() != 0 {
		t.Fatalf("restored Expire: got %+v", ds)
	}
}
