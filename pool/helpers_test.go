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
		// SetPolicy may lower the capacity below what is held: check the
		// license file's.
		if !p.pool.Uncounted && p.inUse > p.pool.Count+max(p.pool.Overdraft, 0) {
			t.Fatalf("pool %q: %d in use, capacity %d", p.pool.Key, p.inUse, p.pool.Count+max(p.pool.Overdraft, 0))
		}
		seen += n
	}
	checkPolicyCounters(t, s)
	if seen != len(s.holders) {
		t.Fatalf("%d holders in pools, %d by handle", seen, len(s.holders))
	}
	inSessions, lru := 0, 0
	for ss := s.lruHead; ss != nil; ss = ss.next {
		lru++
		if s.sessions[ss.id] != ss || ss.n == 0 && ss.nq == 0 {
			t.Fatalf("session %d: LRU entry stale (n=%d nq=%d)", ss.id, ss.n, ss.nq)
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
	lingering, borrowed := 0, 0
	for _, h := range s.holders {
		if h.borrowedOut() {
			borrowed++
			if h.sess != nil || h.Session != 0 || h.lingering() || s.borrowed[h.Handle] != h {
				t.Fatalf("borrowed holder %d: in session %d, lingering or not indexed", h.Handle, h.Session)
			}
		}
		if h.lingering() {
			lingering++
			if h.sess != nil || h.Session != 0 || s.lingerQ[h.lingerIdx] != h {
				t.Fatalf("lingering holder %d: in session %d or out of the queue", h.Handle, h.Session)
			}
		}
	}
	if lingering != len(s.lingerQ) {
		t.Fatalf("%d lingering holders, %d queued", lingering, len(s.lingerQ))
	}
	nBy := 0
	for _, l := range s.lingerBy {
		nBy += len(l)
	}
	if nBy != lingering {
		t.Fatalf("%d lingering holders, %d indexed", lingering, nBy)
	}
	for id, ss := range s.idle {
		if s.sessions[id] != ss || !ss.idle {
			t.Fatalf("idle session %d stale", id)
		}
	}
	if borrowed != len(s.borrowed) {
		t.Fatalf("%d borrowed holders, %d indexed", borrowed, len(s.borrowed))
	}
	if lru != len(s.sessions) || inSessions+lingering+borrowed != len(s.holders) {
		t.Fatalf("sessions: %d in LRU, %d by id; %d holders in sessions, %d lingering, %d by handle", lru, len(s.sessions), inSessions, lingering, len(s.holders))
	}
	checkQueues(t, s)
	for hnd := range s.holders {
		if hnd >= s.nextHandle {
			t.Fatalf("handle %d not below next handle %d", hnd, s.nextHandle)
		}
	}
}

// checkPolicyCounters recomputes every MAX and RESERVE usage from the
// holders by the documented rule (a dup group charged to its lowest handle)
// and compares.
func checkPolicyCounters(t *testing.T, s *State) {
	t.Helper()
	pol := s.ps.pol
	limits := map[*limitState]int{}
	for _, p := range s.ps.pools {
		resv := make([]int, len(p.resv))
		charge := func(h *holder, n int) {
			r := h.Requester()
			for _, l := range p.limits {
				if pol.Matches(l.Entity, r) {
					limits[l] += n
				}
			}
			for i, rs := range p.resv {
				if pol.Matches(rs.Entity, r) {
					resv[i] += n
					break
				}
			}
		}
		if p.dup == 0 {
			for h := p.head; h != nil; h = h.poolNext {
				charge(h, h.Count)
			}
		} else {
			reps := map[string]*holder{}
			maxes := map[string]int{}
			for h := p.head; h != nil; h = h.poolNext {
				k := p.dup.key(h.User, h.Host, h.Display, h.VendorDef)
				if reps[k] == nil || h.Handle < reps[k].Handle {
					reps[k] = h
				}
				maxes[k] = max(maxes[k], h.Count)
			}
			for k, h := range reps {
				charge(h, maxes[k])
			}
		}
		for i, rs := range p.resv {
			if rs.used != resv[i] {
				t.Fatalf("pool %q reservation %d: used %d, recomputed %d", p.pool.Key, i, rs.used, resv[i])
			}
		}
	}
	for _, l := range s.ps.limits {
		if l.used != limits[l] {
			t.Fatalf("MAX at %s: used %d, recomputed %d", l.Pos, l.used, limits[l])
		}
	}
}

// checkQueues checks the queue indexes: each queued request once in its
// feature's queue, in handle order, counted by its session, holding no
// handle of a holder.
func checkQueues(t *testing.T, s *State) {
	t.Helper()
	n := 0
	perSession := map[uint64]int{}
	for name, q := range s.queues {
		if len(q) == 0 {
			t.Fatalf("queue of %q empty but present", name)
		}
		for i, h := range q {
			n++
			if s.queued[h.Handle] != h || h.Feature != name || h.pool != nil || s.holders[h.Handle] != nil {
				t.Fatalf("queued %d: index inconsistent", h.Handle)
			}
			if i > 0 && q[i-1].Handle >= h.Handle {
				t.Fatalf("queue of %q not in handle order", name)
			}
			if h.sess == nil || s.sessions[h.Session] != h.sess || h.Handle >= s.nextHandle {
				t.Fatalf("queued %d: session %d inconsistent", h.Handle, h.Session)
			}
			perSession[h.Session]++
		}
	}
	if n != len(s.queued) {
		t.Fatalf("%d queued in queues, %d by handle", n, len(s.queued))
	}
	for id, ss := range s.sessions {
		if ss.nq != perSession[id] {
			t.Fatalf("session %d: nq=%d, queued %d", id, ss.nq, perSession[id])
		}
	}
}
