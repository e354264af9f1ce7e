package pool

import (
	"testing"
	"time"

	"github.com/lmtriad/lmtriad/licfile"
)

func handlesOf(ds []Delta) []uint64 {
	var out []uint64
	for _, d := range ds {
		out = append(out, d.Holder.Handle)
	}
	return out
}

func wantReleases(t *testing.T, ds []Delta, reason ReleaseReason, handles ...uint64) {
	t.Helper()
	if len(ds) != len(handles) {
		t.Fatalf("got releases of %v, want %v", handlesOf(ds), handles)
	}
	for i, d := range ds {
		if d.Kind != Release || d.Reason != reason || d.Holder.Handle != handles[i] {
			t.Fatalf("delta %d: %v %v of %d, want Release %v of %d", i, d.Kind, d.Reason, d.Holder.Handle, reason, handles[i])
		}
		if i > 0 && d.Seq != ds[i-1].Seq+1 {
			t.Fatalf("delta %d: Seq %d after %d", i, d.Seq, ds[i-1].Seq)
		}
	}
}

func TestCheckin(t *testing.T) {
	s := New([]licfile.Pool{pl("k", "f", "1.0", 1)}, Options{})
	h := mustCheckout(t, s, req(cl(1, "ann"), "f", "", 1), t0)
	tests := []struct {
		name            string
		session, handle uint64
		code            int
	}{
		{"unknown handle", 1, 999, CodeNeverCheckedOut},
		{"other session's handle", 2, h.Handle, CodeNeverCheckedOut},
		{"own handle", 1, h.Handle, 0},
		{"twice", 1, h.Handle, CodeNeverCheckedOut},
	}
	for _, tt := range tests {
		ds, err := s.Checkin(tt.session, tt.handle, at(time.Minute))
		if tt.code != 0 {
			wantDenial(t, err, tt.code)
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		wantReleases(t, ds, Checkin, h.Handle)
		checkInvariants(t, s)
	}
	if s.Holders() != 0 || inUse(t, s, "f") != 0 {
		t.Fatal("license not freed")
	}
	mustCheckout(t, s, req(cl(2, "bob"), "f", "", 1), t0)
}

func TestHeartbeatTimeout(t *testing.T) {
	const timeout = 10 * time.Minute
	tests := []struct {
		name      string
		beat      time.Duration // heartbeat of session 1 at this offset; 0: none
		expireAt  time.Duration
		wantFreed []uint64
	}{
		{"exactly at the timeout: kept", 0, timeout, nil},
		{"just after the timeout: freed", 0, timeout + time.Nanosecond, []uint64{1, 2}},
		{"heartbeat extends: kept", 5 * time.Minute, timeout + time.Nanosecond, nil},
		{"heartbeat extends: kept at beat+timeout", 5 * time.Minute, 5*time.Minute + timeout, nil},
		{"heartbeat extends: freed after beat+timeout", 5 * time.Minute, 5*time.Minute + timeout + time.Nanosecond, []uint64{1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New([]licfile.Pool{pl("k", "f", "1.0", 10)}, Options{HeartbeatTimeout: timeout})
			mustCheckout(t, s, req(cl(1, "ann"), "f", "", 1), t0)
			mustCheckout(t, s, req(cl(1, "ann"), "f", "", 2), t0)
			// Session 2 keeps beating and must survive.
			mustCheckout(t, s, req(cl(2, "bob"), "f", "", 1), t0)
			if tt.beat != 0 {
				s.Heartbeat(1, at(tt.beat))
			}
			s.Heartbeat(2, at(tt.expireAt-time.Second))
			s.Heartbeat(99, at(tt.expireAt)) // unknown session: no-op
			ds := s.Expire(at(tt.expireAt))
			wantReleases(t, ds, Timeout, tt.wantFreed...)
			checkInvariants(t, s)
			if want := 3 - len(tt.wantFreed); s.Holders() != want {
				t.Fatalf("holders %d, want %d", s.Holders(), want)
			}
		})
	}
}

func TestExpireActivity(t *testing.T) {
	// Checkout and checkin count as activity; a zero timeout disables Expire.
	s := New([]licfile.Pool{pl("k", "f", "1.0", 10)}, Options{HeartbeatTimeout: time.Minute})
	a := mustCheckout(t, s, req(cl(1, "ann"), "f", "", 1), t0)
	mustCheckout(t, s, req(cl(1, "ann"), "f", "", 1), at(50*time.Second))
	if ds := s.Expire(at(100 * time.Second)); len(ds) != 0 {
		t.Fatalf("freed %v though the session was active at 50s", handlesOf(ds))
	}
	if _, err := s.Checkin(1, a.Handle, at(90*time.Second)); err != nil {
		t.Fatal(err)
	}
	if ds := s.Expire(at(140 * time.Second)); len(ds) != 0 {
		t.Fatalf("freed %v though the session checked in at 90s", handlesOf(ds))
	}
	if ds := s.Expire(at(151 * time.Second)); len(ds) != 1 {
		t.Fatalf("freed %v, want 1 holder", handlesOf(ds))
	}

	s = New([]licfile.Pool{pl("k", "f", "1.0", 10)}, Options{})
	mustCheckout(t, s, req(cl(1, "ann"), "f", "", 1), t0)
	if ds := s.Expire(at(1000 * time.Hour)); ds != nil {
		t.Fatal("Expire freed holders with timeouts disabled")
	}
}

func TestCloseSession(t *testing.T) {
	s := New([]licfile.Pool{pl("k", "f", "1.0", 10), pl("g", "g", "1.0", 10)}, Options{})
	mustCheckout(t, s, req(cl(1, "ann"), "f", "", 1), t0)    // 1
	mustCheckout(t, s, req(cl(2, "bob"), "f", "", 1), t0)    // 2
	mustCheckout(t, s, req(cl(1, "ann"), "g", "", 2), t0)    // 3
	mustCheckout(t, s, req(cl(1, "ann"), "f", "1.0", 1), t0) // 4
	wantReleases(t, s.CloseSession(1, at(time.Second)), SessionClosed, 1, 3, 4)
	checkInvariants(t, s)
	if s.CloseSession(1, at(time.Second)) != nil || s.CloseSession(42, t0) != nil {
		t.Fatal("closing an empty session produced deltas")
	}
	if s.Holders() != 1 || inUse(t, s, "g") != 0 {
		t.Fatalf("holders %d, g in use %d; want 1, 0", s.Holders(), inUse(t, s, "g"))
	}
}

func TestRemove(t *testing.T) {
	setup := func() *State {
		s := New([]licfile.Pool{pl("k1", "f", "1.0", 10), pl("k2", "f", "2.0", 10), pl("g", "g", "1.0", 10)}, Options{})
		mustCheckout(t, s, req(cl(1, "ann"), "f", "", 1), t0)    // 1, k1
		mustCheckout(t, s, req(cl(2, "bob"), "f", "", 1), t0)    // 2, k1
		mustCheckout(t, s, req(cl(3, "ann"), "f", "2.0", 1), t0) // 3, k2
		mustCheckout(t, s, req(cl(1, "ann"), "g", "", 1), t0)    // 4
		return s
	}
	tests := []struct {
		name    string
		feature string
		user    string
		host    string
		code    int
		freed   []uint64
	}{
		{"all of ann's f across pools", "f", "ann", "host-ann", 0, []uint64{1, 3}},
		{"bob", "f", "bob", "host-bob", 0, []uint64{2}},
		{"wrong host", "f", "ann", "elsewhere", CodeNeverCheckedOut, nil},
		{"nobody", "g", "bob", "host-bob", CodeNeverCheckedOut, nil},
		{"unknown feature", "h", "ann", "host-ann", CodeNoFeature, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := setup()
			ds, err := s.Remove(tt.feature, tt.user, tt.host, "/dev/pts/1", at(time.Second))
			if tt.code != 0 {
				wantDenial(t, err, tt.code)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantReleases(t, ds, Removed, tt.freed...)
			checkInvariants(t, s)
		})
	}
}

func TestRemoveHandle(t *testing.T) {
	s := New([]licfile.Pool{pl("k", "f", "1.0", 10), pl("g", "g", "1.0", 10)}, Options{})
	h := mustCheckout(t, s, req(cl(1, "ann"), "f", "", 1), t0)
	_, err := s.RemoveHandle("g", h.Handle, t0)
	wantDenial(t, err, CodeNeverCheckedOut)
	_, err = s.RemoveHandle("f", 77, t0)
	wantDenial(t, err, CodeNeverCheckedOut)
	_, err = s.RemoveHandle("x", h.Handle, t0)
	wantDenial(t, err, CodeNoFeature)
	ds, err := s.RemoveHandle("f", h.Handle, t0)
	if err != nil {
		t.Fatal(err)
	}
	wantReleases(t, ds, Removed, h.Handle)
	checkInvariants(t, s)
}

func TestReattach(t *testing.T) {
	s := New([]licfile.Pool{pl("k", "f", "1.0", 1)}, Options{})
	ann := cl(1, "ann")
	h := mustCheckout(t, s, req(ann, "f", "", 1), t0)

	// Same client, new connection (pid unchanged): same holder, no extra license.
	r := req(ann, "f", "", 1)
	r.Client.Session = 7
	r.Handle = h.Handle
	for i := range 2 {
		got, ds, err := s.Checkout(r, at(time.Minute))
		if err != nil {
			t.Fatalf("reattach %d: %v", i, err)
		}
		if got.Handle != h.Handle || got.Session != 7 || !got.Start.Equal(h.Start) || got.PoolKey != h.PoolKey {
			t.Fatalf("reattach %d: got %+v, want handle %d bound to session 7", i, got, h.Handle)
		}
		if len(ds) != 1 || ds[0].Kind != Rebind || ds[0].Holder.Session != 7 {
			t.Fatalf("reattach %d: deltas %+v, want one Rebind", i, ds)
		}
		checkInvariants(t, s)
		if s.Holders() != 1 || inUse(t, s, "f") != 1 {
			t.Fatalf("reattach %d: holders %d in use %d, want 1 1", i, s.Holders(), inUse(t, s, "f"))
		}
	}
	if ds := s.CloseSession(1, t0); ds != nil {
		t.Fatalf("old session still owned %v", handlesOf(ds))
	}
	_, err := s.Checkin(1, h.Handle, t0)
	wantDenial(t, err, CodeNeverCheckedOut)

	// Another client presenting ann's handle does not take it over.
	bob := req(cl(2, "bob"), "f", "", 1)
	bob.Handle = h.Handle
	_, _, err = s.Checkout(bob, t0)
	wantDenial(t, err, CodeMaxUsers)

	if _, err := s.Checkin(7, h.Handle, t0); err != nil {
		t.Fatal(err)
	}
	// The released number is not given back, even when asked for.
	again := r
	got := mustCheckout(t, s, again, t0)
	if got.Handle == h.Handle {
		t.Fatalf("released handle %d reused", h.Handle)
	}
}

func TestReattachUnknownHandleKeepsNumber(t *testing.T) {
	// A replica that missed the grant of handle 50 sees the client reattach.
	s := New([]licfile.Pool{pl("k", "f", "1.0", 5)}, Options{})
	r := req(cl(1, "ann"), "f", "", 1)
	r.Handle = 50
	h, ds, err := s.Checkout(r, t0)
	if err != nil {
		t.Fatal(err)
	}
	if h.Handle != 50 || ds[0].Kind != Grant {
		t.Fatalf("got handle %d (%v), want 50 granted", h.Handle, ds[0].Kind)
	}
	next := mustCheckout(t, s, req(cl(2, "bob"), "f", "", 1), t0)
	if next.Handle != 51 {
		t.Fatalf("next handle %d, want 51", next.Handle)
	}
	// A number below the next handle was given out before: not reused.
	r.Handle = 3
	if h := mustCheckout(t, s, r, t0); h.Handle != 52 {
		t.Fatalf("got handle %d, want fresh 52", h.Handle)
	}
	// A reattach that must be granted afresh is still subject to denials.
	r.Handle = 100
	r.Feature = "nope"
	_, _, err = s.Checkout(r, t0)
	wantDenial(t, err, CodeNoFeature)
}

func TestReload(t *testing.T) {
	s := New([]licfile.Pool{
		pl("kA", "f", "1.0", 2),
		pl("kB", "g", "1.0", 1),
		pl("kE", "e", "1.0", 1, expiry(2026, 1, 1)),
	}, Options{})
	replica := New([]licfile.Pool{pl("kA", "f", "1.0", 2), pl("kB", "g", "1.0", 1), pl("kE", "e", "1.0", 1, expiry(2026, 1, 1))}, Options{})
	co := func(r CheckoutRequest, now time.Time) Holder {
		h, ds, err := s.Checkout(r, now)
		if err != nil {
			t.Fatal(err)
		}
		if err := replica.Apply(ds[0]); err != nil {
			t.Fatal(err)
		}
		return h
	}
	h1 := co(req(cl(1, "ann"), "f", "", 1), t0)
	h2 := co(req(cl(2, "bob"), "f", "", 1), at(time.Second))
	h3 := co(req(cl(3, "cy"), "g", "", 1), t0)
	h4 := co(req(cl(4, "di"), "e", "", 1), t0)

	// kA shrinks to 1: the older holder (ann) stays, bob moves to the new
	// v2.0 pool; g disappears; e's pool keeps its key, so di keeps it even
	// though it has now expired.
	newPools := []licfile.Pool{
		pl("kA", "f", "1.0", 1),
		pl("kC", "f", "2.0", 1),
		pl("kE", "e", "1.0", 1, expiry(2026, 1, 1)),
	}
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	ds := s.Reload(newPools, now)
	if len(ds) != 2 {
		t.Fatalf("got %d deltas, want Release + Reload", len(ds))
	}
	wantReleases(t, ds[:1], Reread, h3.Handle)
	rl := ds[1]
	if rl.Kind != Reload || len(rl.Pools) != 3 || len(rl.Moves) != 1 || rl.Moves[0] != (Move{h2.Handle, "kC", "2.0"}) {
		t.Fatalf("reload delta %+v", rl)
	}
	checkInvariants(t, s)
	want := map[uint64]string{h1.Handle: "kA", h2.Handle: "kC", h4.Handle: "kE"}
	for _, fs := range s.Status("") {
		for _, p := range fs.Pools {
			for _, h := range p.Holders {
				if want[h.Handle] != p.Pool.Key || h.PoolKey != p.Pool.Key {
					t.Errorf("handle %d in %q, want %q", h.Handle, p.Pool.Key, want[h.Handle])
				}
				delete(want, h.Handle)
			}
		}
	}
	if len(want) != 0 {
		t.Errorf("holders lost: %v", want)
	}
	if fs := s.Status("g"); fs != nil {
		t.Errorf("g still served: %+v", fs)
	}
	_, _, err := s.Checkout(req(cl(5, "eve"), "f", "", 1), now)
	wantDenial(t, err, CodeMaxUsers)

	for _, d := range ds {
		if err := replica.Apply(d); err != nil {
			t.Fatal(err)
		}
	}
	checkInvariants(t, replica)
	assertSameSnapshot(t, s.Snapshot(), replica.Snapshot(), true)
}

func TestReloadFallbackNeedsVersion(t *testing.T) {
	s := New([]licfile.Pool{pl("kA", "f", "2.0", 2)}, Options{})
	a := mustCheckout(t, s, req(cl(1, "a"), "f", "", 1), t0)
	b := mustCheckout(t, s, req(cl(2, "b"), "f", "", 1), t0)
	// kA shrinks to 1; the other f pool is older (1.5): b cannot move there.
	ds := s.Reload([]licfile.Pool{pl("kA", "f", "2.0", 1), pl("kOld", "f", "1.5", 5)}, t0)
	wantReleases(t, ds[:len(ds)-1], Reread, b.Handle)
	if s.Holders() != 1 || s.Status("f")[0].Pools[0].Holders[0].Handle != a.Handle {
		t.Fatalf("want only %d kept", a.Handle)
	}
	checkInvariants(t, s)
}

func TestHeartbeatReportsHandlesHeld(t *testing.T) {
	s := New([]licfile.Pool{pl("k", "f", "1.0", 10)}, Options{HeartbeatTimeout: time.Minute})
	if n := s.Heartbeat(1, t0); n != 0 {
		t.Fatalf("unknown session holds %d, want 0", n)
	}
	a := mustCheckout(t, s, req(cl(1, "ann"), "f", "", 1), t0)
	mustCheckout(t, s, req(cl(1, "ann"), "f", "", 2), t0)
	if n := s.Heartbeat(1, t0); n != 2 {
		t.Fatalf("held %d, want 2 handles whatever their counts", n)
	}
	if _, err := s.RemoveHandle("f", a.Handle, t0); err != nil {
		t.Fatal(err)
	}
	if n := s.Heartbeat(1, t0); n != 1 {
		t.Fatalf("after lmremove held %d, want 1", n)
	}
}
