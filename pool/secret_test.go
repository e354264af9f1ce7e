package pool

import (
	"errors"
	"testing"

	"github.com/lmtriad/lmtriad/licfile"
)

func TestReattachNeedsTheHolderSecret(t *testing.T) {
	s := New([]licfile.Pool{pl("k", "f", "1.0", 1)}, Options{})
	victim := cl(1, "alice")
	r := req(victim, "f", "", 1)
	r.NewSecret = "s3cret"
	h := mustCheckout(t, s, r, at(0))
	if h.Secret != "s3cret" {
		t.Fatalf("holder secret %q, want the request's NewSecret", h.Secret)
	}

	// The same identity over another session: wrong or missing secret.
	thief := victim
	thief.Session = 2
	for _, secret := range []string{"", "guess", "s3cre"} {
		r := req(thief, "f", "", 1)
		r.Handle, r.Secret, r.NewSecret = h.Handle, secret, "other"
		_, ds, err := s.Checkout(r, at(1))
		var d *Denial
		if !errors.As(err, &d) || d.Code != CodeNeverCheckedOut || !d.BadSecret {
			t.Fatalf("reattach with secret %q: err %v, want a -41 BadSecret denial", secret, err)
		}
		if len(ds) != 0 {
			t.Fatalf("refused reattach produced deltas %v", ds)
		}
	}
	if _, err := s.Checkin(2, h.Handle, at(2)); err == nil {
		t.Fatal("the thief's session checked the handle in")
	}
	if got := s.Snapshot().Holders; len(got) != 1 || got[0].Session != 1 {
		t.Fatalf("holders after the attempts: %+v, want the victim's on session 1", got)
	}

	// The holder itself, with its secret, over a new session.
	r = req(thief, "f", "", 1)
	r.Handle, r.Secret, r.NewSecret = h.Handle, "s3cret", "ignored"
	got, ds, err := s.Checkout(r, at(3))
	if err != nil || got.Handle != h.Handle || got.Session != 2 || got.Secret != "s3cret" || len(ds) != 1 || ds[0].Kind != Rebind {
		t.Fatalf("reattach with the secret: %+v %v %v", got, ds, err)
	}
	checkInvariants(t, s)
}

func TestOldHolderWithoutSecretReattachesByIdentityAndGetsOne(t *testing.T) {
	pools := []licfile.Pool{pl("k", "f", "1.0", 1)}
	old := Holder{Handle: 7, Feature: "f", PoolKey: "k", PoolVersion: "1.0", Count: 1, Session: 1,
		User: "alice", Host: "host-alice", Display: "/dev/pts/1", PID: 1001, Start: at(0), LastSeen: at(0)}
	master, err := Restore(Snapshot{Seq: 1, NextHandle: 8, Pools: pools, Holders: []Holder{old}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	replica, err := Restore(master.Snapshot(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := cl(1, "alice")
	c.Session = 5
	r := req(c, "f", "", 1)
	r.Handle, r.NewSecret = 7, "fresh"
	h, ds, err := master.Checkout(r, at(1))
	if err != nil || h.Handle != 7 || h.Secret != "fresh" {
		t.Fatalf("identity reattach of an old holder: %+v %v", h, err)
	}
	for _, d := range ds {
		if err := replica.Apply(d); err != nil {
			t.Fatal(err)
		}
	}
	if got := replica.Snapshot().Holders[0].Secret; got != "fresh" {
		t.Fatalf("replica's secret %q after the Rebind, want fresh", got)
	}
	// From now on the secret is needed.
	c.Session = 6
	r = req(c, "f", "", 1)
	r.Handle = 7
	if _, _, err := master.Checkout(r, at(2)); err == nil {
		t.Fatal("reattach without the secret it now has was accepted")
	}
}

func TestSecretIsReplicatedWithTheGrant(t *testing.T) {
	pools := []licfile.Pool{pl("k", "f", "1.0", 2)}
	master, replica := New(pools, Options{}), New(pools, Options{})
	r := req(cl(1, "alice"), "f", "", 1)
	r.NewSecret = "abc"
	_, ds, err := master.Checkout(r, at(0))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if err := replica.Apply(d); err != nil {
			t.Fatal(err)
		}
	}
	if got := replica.Snapshot().Holders[0].Secret; got != "abc" {
		t.Fatalf("replica's secret %q, want abc", got)
	}
}
