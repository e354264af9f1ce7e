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

func userBased(p *licfile.Pool) { p.UserBased = true }
func hostBased(p *licfile.Pool) { p.HostBased = true }

func TestNamedCheckouts(t *testing.T) {
	const day = 24 * time.Hour
	type step struct {
		user string
		host string
		code int // 0: granted
	}
	tests := []struct {
		name   string
		pool   licfile.Pool
		policy string
		steps  []step
	}{
		{"no INCLUDE line: -84", pl("k", "f", "1.0", 2, userBased), "", []step{{"ann", "h1", CodeUserBased}}},
		{"INCLUDE for another feature: -84", pl("k", "f", "1.0", 2, userBased), "INCLUDE g USER ann\n",
			[]step{{"ann", "h1", CodeUserBased}}},
		{"not on the list: -39", pl("k", "f", "1.0", 2, userBased), "INCLUDE f USER ann\n",
			[]step{{"bob", "h1", CodeFeatNotInclude}, {"ann", "h1", 0}}},
		{"count distinct users, repeat checkouts on one seat", pl("k", "f", "1.0", 2, userBased),
			"INCLUDE f USER ann\nINCLUDE f USER bob\nINCLUDE f USER cid\n",
			[]step{{"ann", "h1", 0}, {"ann", "h2", 0}, {"bob", "h1", 0}, {"ann", "h3", 0}, {"cid", "h1", CodeMaxUsers}}},
		{"INCLUDEALL names users too", pl("k", "f", "1.0", 1, userBased), "INCLUDEALL USER ann\n",
			[]step{{"ann", "h1", 0}, {"bob", "h1", CodeFeatNotInclude}}},
		{"HOST_BASED counts hosts", pl("k", "f", "1.0", 1, hostBased), "INCLUDE f HOST h1\nINCLUDE f HOST h2\n",
			[]step{{"ann", "h1", 0}, {"bob", "h1", 0}, {"ann", "h2", CodeMaxUsers}, {"ann", "h3", CodeFeatNotInclude}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New([]licfile.Pool{tt.pool}, Options{Policy: parsePolicy(t, tt.policy)})
			for i, st := range tt.steps {
				c := Client{Session: uint64(i + 1), User: st.user, Host: st.host, PID: i}
				_, _, err := s.Checkout(req(c, "f", "", 1), at(time.Duration(i)*day))
				if st.code == 0 {
					if err != nil {
						t.Fatalf("step %d (%s@%s): %v", i, st.user, st.host, err)
					}
				} else {
					wantDenial(t, err, st.code)
				}
				checkInvariants(t, s)
			}
		})
	}
}

func TestNamedUseRecordedOncePerDay(t *testing.T) {
	s := New([]licfile.Pool{pl("k", "f", "1.0", 2, userBased)}, Options{Policy: parsePolicy(t, "INCLUDE f USER ann\n")})
	kinds := func(ds []Delta) (ks []DeltaKind) {
		for _, d := range ds {
			ks = append(ks, d.Kind)
		}
		return ks
	}
	_, ds, err := s.Checkout(req(cl(1, "ann"), "f", "", 1), at(0))
	if err != nil || !reflect.DeepEqual(kinds(ds), []DeltaKind{Grant, NamedUse}) {
		t.Fatalf("first grant: got %v, %v, want Grant, NamedUse", kinds(ds), err)
	}
	if ds[1].Holder.PoolKey != "k" || ds[1].Holder.User != "ann" || !ds[1].Time.Equal(at(0)) {
		t.Fatalf("got NamedUse %+v", ds[1])
	}
	_, ds, _ = s.Checkout(req(cl(2, "ann"), "f", "", 1), at(time.Hour))
	if !reflect.DeepEqual(kinds(ds), []DeltaKind{Grant}) {
		t.Fatalf("same day: got %v, want Grant alone", kinds(ds))
	}
	_, ds, _ = s.Checkout(req(cl(3, "ann"), "f", "", 1), at(12*time.Hour)) // 00:00 the next day
	if !reflect.DeepEqual(kinds(ds), []DeltaKind{Grant, NamedUse}) {
		t.Fatalf("next day: got %v, want Grant, NamedUse", kinds(ds))
	}
	want := []NamedUser{{PoolKey: "k", User: "ann", LastUsed: at(12 * time.Hour)}}
	if got := s.NamedUsers("f"); !reflect.DeepEqual(got, want) {
		t.Fatalf("NamedUsers: got %+v, want %+v", got, want)
	}
}

func TestRecycle(t *testing.T) {
	pol := parsePolicy(t, "INCLUDE f USER ann\nINCLUDE f USER bob\nINCLUDE f USER cid\n")
	s := New([]licfile.Pool{pl("k", "f", "1.0", 2, userBased)}, Options{Policy: pol})
	replica := New([]licfile.Pool{pl("k", "f", "1.0", 2, userBased)}, Options{Policy: pol})
	apply := func(ds []Delta) {
		t.Helper()
		for _, d := range ds {
			if err := replica.Apply(d); err != nil {
				t.Fatalf("Apply %v: %v", d.Kind, err)
			}
		}
	}
	h, ds, err := s.Checkout(req(cl(1, "ann"), "f", "", 1), at(0))
	if err != nil {
		t.Fatal(err)
	}
	apply(ds)
	_, ds, _ = s.Checkout(req(cl(2, "bob"), "f", "", 1), at(time.Hour))
	apply(ds)
	ds, _ = s.Checkin(2, 2, at(2*time.Hour))
	apply(ds)
	_, _, err = s.Checkout(req(cl(3, "cid"), "f", "", 1), at(3*time.Hour))
	wantDenial(t, err, CodeMaxUsers) // bob checked in but keeps his seat

	tests := []struct {
		who  string
		now  time.Time
		want error
	}{
		{"dan", at(40 * 24 * time.Hour), ErrNotNamed},
		{"ann", at(40 * 24 * time.Hour), ErrNamedInUse},
		{"bob", at(30*24*time.Hour + time.Hour - time.Second), ErrRecycleTooSoon},
	}
	for _, tt := range tests {
		if _, err := s.Recycle("f", tt.who, tt.now); !errors.Is(err, tt.want) {
			t.Errorf("Recycle(%s): got %v, want %v", tt.who, err, tt.want)
		}
	}
	_, err = s.Recycle("f", "bob", at(time.Hour))
	if want := "bob of f, last used Sun 6/1/2025 13:00: the named user was used less than 30 days ago"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
	ds, err = s.Recycle("f", "bob", at(30*24*time.Hour+time.Hour))
	if err != nil || len(ds) != 1 || ds[0].Kind != Recycle {
		t.Fatalf("Recycle(bob) after 30 days: %v, %+v", err, ds)
	}
	apply(ds)
	if !reflect.DeepEqual(s.Snapshot(), replica.Snapshot()) {
		t.Fatalf("replica differs:\n%+v\n%+v", s.Snapshot(), replica.Snapshot())
	}
	_, ds, err = s.Checkout(req(cl(3, "cid"), "f", "", 1), at(31*24*time.Hour))
	if err != nil {
		t.Fatalf("cid after bob's seat was recycled: %v", err)
	}
	apply(ds)

	// Durable: a restored state has the same named users.
	r, err := Restore(s.Snapshot(), Options{Policy: pol})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.Snapshot(), s.Snapshot()) || len(r.NamedUsers("")) != 2 {
		t.Fatalf("restore: got %+v, want %+v", r.Snapshot(), s.Snapshot())
	}
	_ = h
}

func TestAutoRecycle(t *testing.T) {
	pol := parsePolicy(t, "INCLUDEALL USER ann\nINCLUDEALL USER bob\nINCLUDEALL USER cid\n")
	s := New([]licfile.Pool{pl("k", "f", "1.0", 3, userBased), pl("k2", "g", "1.0", 3)}, Options{Policy: pol})
	mustNamed := func(user string, now time.Time) {
		t.Helper()
		if _, _, err := s.Checkout(req(cl(uint64(len(user)+now.Day()), user), "f", "", 1), now); err != nil {
			t.Fatal(err)
		}
	}
	mustNamed("ann", at(0))
	mustNamed("bob", at(0))
	s.CloseSession(uint64(3+at(0).Day()), at(time.Hour)) // ann and bob (same session) check in
	mustNamed("cid", at(0))
	mustNamed("bob", at(5*24*time.Hour)) // bob used later, and holds a license now
	if _, _, err := s.Checkout(req(cl(99, "ann"), "g", "", 1), at(6*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if ds := s.AutoRecycle(at(30*24*time.Hour - time.Second)); len(ds) != 0 {
		t.Fatalf("before 30 days: recycled %+v", ds)
	}
	ds := s.AutoRecycle(at(40 * 24 * time.Hour))
	if len(ds) != 1 || ds[0].Holder.User != "ann" {
		t.Fatalf("got %+v, want ann's seat recycled (bob and cid hold a license)", ds)
	}
	checkInvariants(t, s)
}

// TestNamedReplicationProperty runs random checkouts, checkins, session
// closes, recycles and automatic recycles over months on a USER_BASED and a
// HOST_BASED pool: a replica applying the deltas and a state restored from
// a snapshot midway end with the master's snapshot, and no pool ever has
// more named users than its count.
func TestNamedReplicationProperty(t *testing.T) {
	pools := []licfile.Pool{pl("u", "fu", "1.0", 2, userBased), pl("h", "fh", "1.0", 2, hostBased)}
	pol := parsePolicy(t, "INCLUDEALL USER u0\nINCLUDEALL USER u1\nINCLUDEALL USER u2\nINCLUDEALL USER u3\n"+
		"INCLUDEALL HOST h0\nINCLUDEALL HOST h1\nINCLUDEALL HOST h2\n")
	kinds := map[DeltaKind]int{}
	for seed := uint64(1); seed <= 10; seed++ {
		r := rand.New(rand.NewPCG(seed, seed+1))
		master, replica := New(pools, Options{Policy: pol}), New(pools, Options{Policy: pol})
		var restored *State
		now := t0
		for i := range 800 {
			now = now.Add(time.Duration(r.IntN(36)) * time.Hour)
			var ds []Delta
			feature := []string{"fu", "fh"}[r.IntN(2)]
			c := Client{Session: uint64(1 + r.IntN(6)), User: fmt.Sprintf("u%d", r.IntN(5)), Host: fmt.Sprintf("h%d", r.IntN(4))}
			switch op := r.IntN(10); {
			case op < 4:
				_, ds, _ = master.Checkout(req(c, feature, "", 1), now)
			case op < 6:
				ds, _ = master.Checkin(c.Session, uint64(1+r.IntN(int(master.nextHandle))), now)
			case op < 7:
				ds = master.CloseSession(c.Session, now)
			case op < 9:
				who := c.User
				if feature == "fh" {
					who = c.Host
				}
				ds, _ = master.Recycle(feature, who, now)
			default:
				ds = master.AutoRecycle(now)
			}
			for _, d := range ds {
				kinds[d.Kind]++
				for _, s := range []*State{replica, restored} {
					if s != nil {
						if err := s.Apply(d); err != nil {
							t.Fatalf("seed %d op %d: Apply(%v): %v", seed, i, d.Kind, err)
						}
					}
				}
			}
			for _, p := range master.ps.pools {
				if n := len(master.named[p.pool.Key]); n > p.pool.Count {
					t.Fatalf("seed %d op %d: pool %s has %d named users", seed, i, p.pool.Key, n)
				}
			}
			checkInvariants(t, master)
			if i == 400 {
				var err error
				if restored, err = Restore(master.Snapshot(), Options{Policy: pol}); err != nil {
					t.Fatal(err)
				}
			}
		}
		assertSameSnapshot(t, master.Snapshot(), replica.Snapshot(), true)
		assertSameSnapshot(t, master.Snapshot(), restored.Snapshot(), true)
	}
	for _, k := range []DeltaKind{Grant, Release, NamedUse, Recycle} {
		if kinds[k] == 0 {
			t.Errorf("no %v delta in the random runs", k)
		}
	}
	t.Logf("kinds %v", kinds)
}

func TestSuiteComponentsShareThePackageLicenses(t *testing.T) {
	f, err := licfile.Parse("a.lic", []byte("FEATURE pk vend 1.0 permanent 2 SIGN=0\n"+
		`PACKAGE pk vend 1.0 COMPONENTS="c1 c2" OPTIONS=SUITE SIGN=0`+"\n"+
		"FEATURE pl vend 1.0 permanent 1 SIGN=0\n"+`PACKAGE pl vend 1.0 COMPONENTS="c3 c4" SIGN=0`+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	pools, _ := licfile.Pools([]*licfile.File{f}, t0)
	s := New(pools, Options{})
	mustCheckout(t, s, req(cl(1, "ann"), "c1", "", 1), at(0))
	mustCheckout(t, s, req(cl(2, "bob"), "c2", "", 1), at(0))
	_, _, err = s.Checkout(req(cl(3, "cid"), "c1", "", 1), at(0))
	wantDenial(t, err, CodeMaxUsers) // c1 has room, the suite has not
	// Without SUITE, each component has the package's count of its own.
	mustCheckout(t, s, req(cl(1, "ann"), "c3", "", 1), at(0))
	mustCheckout(t, s, req(cl(2, "bob"), "c4", "", 1), at(0))
}
