package pool

import (
	"errors"
	"testing"
	"time"

	"github.com/lmtriad/lmtriad/licfile"
)

// t0 is the fake clock's origin in every test.
var t0 = time.Date(2025, time.June, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

// pl builds a pool by hand; mods set the optional fields.
func pl(key, name, ver string, count int, mods ...func(*licfile.Pool)) licfile.Pool {
	p := licfile.Pool{Key: key, Name: name, Vendor: "vend", Version: ver, Count: count}
	for _, m := range mods {
		m(&p)
	}
	return p
}

func expiry(y int, m time.Month, d int) func(*licfile.Pool) {
	return func(p *licfile.Pool) { p.Expiry = licfile.Date{Year: y, Month: m, Day: d} }
}

func start(y int, m time.Month, d int) func(*licfile.Pool) {
	return func(p *licfile.Pool) { p.Start = licfile.Date{Year: y, Month: m, Day: d} }
}

func hostid(h string) func(*licfile.Pool) { return func(p *licfile.Pool) { p.HostID = h } }
func dupGrp(g string) func(*licfile.Pool) {
	return func(p *licfile.Pool) { p.DupGroup = g }
}
func overdraft(n int) func(*licfile.Pool) { return func(p *licfile.Pool) { p.Overdraft = n } }
func uncounted(p *licfile.Pool)           { p.Uncounted = true; p.Count = 0 }

// cl is a client named after its user; host and pid follow from it.
func cl(session uint64, user string) Client {
	return Client{Session: session, User: user, Host: "host-" + user, Display: "/dev/pts/1", PID: 1000 + int(session)}
}

func req(c Client, feature, version string, count int) CheckoutRequest {
	return CheckoutRequest{Client: c, Feature: feature, Version: version, Count: count}
}

func mustCheckout(t *testing.T, s *State, r CheckoutRequest, now time.Time) Holder {
	t.Helper()
	h, ds, err := s.Checkout(r, now)
	if err != nil {
		t.Fatalf("Checkout(%s v%q x%d by %s): %v", r.Feature, r.Version, r.Count, r.Client.User, err)
	}
	if len(ds) != 1 {
		t.Fatalf("Checkout: got %d deltas, want 1", len(ds))
	}
	checkInvariants(t, s)
	return h
}

func wantDenial(t *testing.T, err error, code int) {
	t.Helper()
	var d *Denial
	if !errors.As(err, &d) {
		t.Fatalf("got error %v, want denial %d", err, code)
	}
	if d.Code != code || d.Reason != denialText[code] {
		t.Fatalf("got denial %d %q, want %d %q", d.Code, d.Reason, code, denialText[code])
	}
}

func inUse(t *testing.T, s *State, feature string) int {
	t.Helper()
	st := s.Status(feature)
	if len(st) != 1 {
		t.Fatalf("Status(%q): got %d features, want 1", feature, len(st))
	}
	return st[0].InUse
}

// checkInvariants recomputes every counter and index from scratch and checks
// that no counted pool is over Count+OVERDRAFT.
func checkInvariants(t *testing.T, s *State) {
	t.Helper()
	seen := 0
	for _, p := range s.ps.pools {
		var n, use int
		groups := map[string]int{}
		for h := p.head; h != nil; h = h.poolNext {
			n++
			if h.pool != p || s.holders[h.Handle] != h {
				t.Fatalf("holder %d: pool/handle index inconsistent", h.Handle)
			}
			if h.PoolKey != p.pool.Key {
				t.Fatalf("holder %d: PoolKey %q in pool %q", h.Handle, h.PoolKey, p.pool.Key)
			}
			if p.dup == 0 {
				use += h.Count
			} else {
				k := p.dup.key(h.User, h.Host, h.Display, h.VendorDef)
				groups[k] = max(groups[k], h.Count)
			}
		}
		for _, m := range groups {
			use += m
		}
		if n != p.nHolders || use != p.inUse {
			t.Fatalf("pool %q: counters holders=%d inUse=%d, recomputed %d %d", p.pool.Key, p.nHolders, p.inUse, n, use)
		}
		if len(groups) != len(p.groups) {
			t.Fatalf("pool %q: %d dup groups, recomputed %d", p.pool.Key, len(p.groups), len(groups))
		}
		if !p.pool.Uncounted && p.inUse > p.capacity {
			t.Fatalf("pool %q: %d in use, capacity %d", p.pool.Key, p.inUse, p.capacity)
		}
		seen += n
	}
	if seen != len(s.holders) {
		t.Fatalf("%d holders in pools, %d by handle", seen, len(s.holders))
	}
	inSessions, lru := 0, 0
	for ss := s.lruHead; ss != nil; ss = ss.next {
		lru++
		if s.sessions[ss.id] != ss || ss.n == 0 {
			t.Fatalf("session %d: LRU entry stale (n=%d)", ss.id, ss.n)
		}
		k := 0
		for h := ss.head; h != nil; h = h.sessNext {
			k++
			if h.sess != ss || h.Session != ss.id {
				t.Fatalf("holder %d: session index inconsistent", h.Handle)
			}
		}
		if k != ss.n {
			t.Fatalf("session %d: n=%d, listed %d", ss.id, ss.n, k)
		}
		inSessions += k
	}
	if lru != len(s.sessions) || inSessions != len(s.holders) {
		t.Fatalf("sessions: %d in LRU, %d by id; %d holders in sessions, %d by handle", lru, len(s.sessions), inSessions, len(s.holders))
	}
	for hnd := range s.holders {
		if hnd >= s.nextHandle {
			t.Fatalf("handle %d not below next handle %d", hnd, s.nextHandle)
		}
	}
}
