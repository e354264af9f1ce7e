package pool

import (
	"container/heap"
	"slices"
	"time"

	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/options"
)

// PoolRef is the options.FeatureRef of a pool, for "feature:KEY=value"
// specs: its Name, and the attributes VERSION, VENDOR_STRING and HOSTID
// (when not empty) under those keys. A pool keeps nothing else of its
// lines, so a spec on SN or ASSET_INFO selects no pool.
func PoolRef(p *licfile.Pool) options.FeatureRef {
	attrs := map[string]string{"VERSION": p.Version}
	if p.VendorString != "" {
		attrs["VENDOR_STRING"] = p.VendorString
	}
	if p.HostID != "" {
		attrs["HOSTID"] = p.HostID
	}
	return options.FeatureRef{Name: p.Name, Attrs: attrs}
}

// limitState is one MAX line and the licenses held by those it names, over
// every pool it selects.
type limitState struct {
	options.Limit
	used int
}

// resvState is one RESERVE line in one pool: count licenses set aside, and
// used, the licenses of the pool's holders attributed to it.
type resvState struct {
	options.Reservation
	count int // Count clamped to what earlier reservations left of the capacity
	used  int
}

// ReservationStatus is one RESERVE line's state in one pool, for lmstat's
// "N RESERVATIONs for TYPE name (server/port)" lines: Count licenses are set
// aside (after clamping to the pool's capacity), Used of them are held by
// the entity. FlexLM lists a reservation's licenses not in use (a used one
// appears as a user line instead): lmstat prints Count-Used when positive.
type ReservationStatus struct {
	Count, Used int
	Type, Name  string // the entity: "USER", "jan"
}

// bindPolicy derives every pool's policy from pol (capacity, MAX, RESERVE,
// TIMEOUT, LINGER) and zeroes the usage counters; recount recomputes them
// when the set already has holders.
func (ps *poolSet) bindPolicy(pol *options.Options) {
	ps.pol = pol
	ps.limits = nil
	byPos := map[options.Pos]*limitState{}
	for _, p := range ps.pools {
		p.ref = PoolRef(&p.pool)
		od := max(p.pool.Overdraft, 0)
		if m, ok := pol.MaxOverdraft(p.ref); ok {
			od = min(od, max(m, 0))
		}
		p.capacity = p.pool.Count + od
		p.limits, p.resv, p.timeout, p.linger = nil, nil, 0, 0
		if pol == nil {
			continue
		}
		for _, l := range pol.Limits(p.ref) {
			ls := byPos[l.Pos]
			if ls == nil {
				ls = &limitState{Limit: l}
				byPos[l.Pos] = ls
				ps.limits = append(ps.limits, ls)
			}
			p.limits = append(p.limits, ls)
		}
		left := p.capacity
		for _, r := range pol.Reservations(p.ref) {
			n := max(0, min(r.Count, left))
			if p.pool.Uncounted {
				n = 0 // nothing to set aside
			}
			left -= n
			p.resv = append(p.resv, &resvState{Reservation: r, count: n})
		}
		if d, ok := pol.Timeout(p.ref); ok {
			p.timeout = d
		}
		if d, ok := pol.Linger(p.ref); ok && d > 0 {
			p.linger = d
		}
	}
	slices.SortFunc(ps.limits, func(a, b *limitState) int {
		if a.Pos.File != b.Pos.File {
			if a.Pos.File < b.Pos.File {
				return -1
			}
			return 1
		}
		return a.Pos.Line - b.Pos.Line
	})
}

// recount recomputes every MAX and RESERVE usage from the holders.
func (ps *poolSet) recount() {
	for _, p := range ps.pools {
		if len(p.limits) == 0 && len(p.resv) == 0 {
			continue
		}
		if p.dup == 0 {
			for h := p.head; h != nil; h = h.poolNext {
				p.charge(h, h.Count)
			}
			continue
		}
		for _, g := range p.groups {
			p.charge(g.rep(), g.max)
		}
	}
}

// charge adds n licenses (n < 0 removes) held by h in p to the MAX lines
// naming h and to the first reservation of p naming h.
func (p *poolState) charge(h *holder, n int) {
	if n == 0 || len(p.limits) == 0 && len(p.resv) == 0 {
		return
	}
	pol := p.set.pol
	r := h.Requester()
	for _, l := range p.limits {
		if pol.Matches(l.Entity, r) {
			l.used += n
		}
	}
	for _, rs := range p.resv {
		if pol.Matches(rs.Entity, r) {
			rs.used += n
			break
		}
	}
}

// recharge moves a dup group's charge from (oldRep, old licenses) to
// (rep, n).
func (p *poolState) recharge(oldRep *holder, old int, rep *holder, n int) {
	if oldRep == rep && old == n {
		return
	}
	if oldRep != nil {
		p.charge(oldRep, -old)
	}
	if rep != nil {
		p.charge(rep, n)
	}
}

// underMax reports whether extra more licenses for r keep every MAX line of
// p that names r within its cap.
func (p *poolState) underMax(extra int, r *options.Requester) bool {
	if extra == 0 {
		return true
	}
	for _, l := range p.limits {
		if l.used+extra > l.Max && p.set.pol.Matches(l.Entity, *r) {
			return false
		}
	}
	return true
}

// reservationsAllow reports whether extra more licenses for r leave p's
// reservations whole: true when they come out of r's own reservation's
// unused licenses, or when afterwards inUse + the unused reserved licenses
// ≤ capacity; also true when they would not fit anyway (the free-capacity
// check then refuses them with -4).
func (p *poolState) reservationsAllow(extra int, r *options.Requester) bool {
	if extra == 0 || len(p.resv) == 0 || !p.fits(extra) || p.pool.Uncounted {
		return true
	}
	unused, own := 0, -1
	for _, rs := range p.resv {
		free := max(0, rs.count-rs.used)
		unused += free
		if own < 0 && p.set.pol.Matches(rs.Entity, *r) {
			own = free
		}
	}
	own = max(own, 0)
	if extra <= own {
		return true
	}
	return p.inUse+extra+unused-own <= p.capacity
}

func (p *poolState) reservationStatus() []ReservationStatus {
	if len(p.resv) == 0 {
		return nil
	}
	out := make([]ReservationStatus, len(p.resv))
	for i, rs := range p.resv {
		out[i] = ReservationStatus{Count: rs.count, Used: min(rs.used, rs.count), Type: rs.Type.String(), Name: rs.Name}
	}
	return out
}

// SetPolicy replaces the options file (lmreread, or an options file that
// changed): later checkouts are checked against p; no holder is freed, even
// one the new file would refuse or that a smaller MAX_OVERDRAFT leaves over
// capacity (FlexLM does not take licenses back on a reread). MAX and
// RESERVE usage are recounted from the holders, TIMEOUT and LINGER apply
// from now on (a holder already lingering keeps its LingerUntil).
//
// It returns no delta: the options file is enrolled like the license files,
// so every member calls SetPolicy itself, and Apply checks no policy (it
// trusts the master), so a replica that gets the file a little before or
// after the master only differs in what it would grant, never in its
// holders. The result is kept for a delta a later version may need.
func (s *State) SetPolicy(p *options.Options, now time.Time) []Delta {
	_ = now
	s.opts.Policy = p
	s.ps.bindPolicy(p)
	s.ps.recount()
	return nil
}

// Policy returns the options file in force (nil for none).
func (s *State) Policy() *options.Options { return s.ps.pol }

// ---- TIMEOUT: idle sessions ----

// SetIdle records that session's client reported it is inactive (idle
// true) or active again (false); a CHECKOUT or CHECKIN from the session
// also makes it active, heartbeats do not. Expire frees the licenses of a
// session idle for at least the TIMEOUT of their feature, with reason
// Timeout. Idleness is measured on Options.Monotonic when set (else on
// now) and is not replicated: a new master (Restore, or a promoted
// replica) counts every session as active until its client says otherwise.
// An unknown session (one holding nothing) is ignored.
func (s *State) SetIdle(session uint64, idle bool, now time.Time) {
	ss := s.sessions[session]
	if ss == nil {
		return
	}
	if !idle {
		s.active(ss)
		return
	}
	if ss.idle {
		return // idle since its first report
	}
	ss.idle = true
	ss.idleAt = now.Round(0)
	if s.opts.Monotonic != nil {
		ss.idleSince = s.opts.Monotonic()
	}
	s.idle[session] = ss
}

// active marks ss active (a checkout or checkin from it).
func (s *State) active(ss *session) {
	if ss == nil || !ss.idle {
		return
	}
	ss.idle = false
	delete(s.idle, ss.id)
}

// idleFor is how long ss has been idle at now.
func (s *State) idleFor(ss *session, now time.Time) time.Duration {
	if s.opts.Monotonic != nil {
		return s.opts.Monotonic() - ss.idleSince
	}
	return now.Sub(ss.idleAt)
}

// idleExpired appends the holders of idle sessions whose feature's TIMEOUT
// has run out, skipping sessions in skip.
func (s *State) idleExpired(now time.Time, skip map[*session]bool, hs []*holder) []*holder {
	for _, ss := range s.idle {
		if skip[ss] {
			continue
		}
		d := s.idleFor(ss, now)
		for h := ss.head; h != nil; h = h.sessNext {
			if t := h.pool.timeout; t > 0 && d >= t {
				hs = append(hs, h)
			}
		}
	}
	return hs
}

// ---- LINGER ----

type lingerKey struct{ feature, user, host, display string }

func keyOf(h *holder) lingerKey { return lingerKey{h.Feature, h.User, h.Host, h.Display} }

// lingerHeap orders lingering holders by LingerUntil, then Handle.
type lingerHeap []*holder

func (q lingerHeap) Len() int { return len(q) }
func (q lingerHeap) Less(i, j int) bool {
	if c := q[i].LingerUntil.Compare(q[j].LingerUntil); c != 0 {
		return c < 0
	}
	return q[i].Handle < q[j].Handle
}
func (q lingerHeap) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].lingerIdx, q[j].lingerIdx = i, j
}
func (q *lingerHeap) Push(x any) {
	h := x.(*holder)
	h.lingerIdx = len(*q)
	*q = append(*q, h)
}
func (q *lingerHeap) Pop() any {
	old := *q
	h := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	h.lingerIdx = -1
	return h
}

// enlinger records h (out of any session, LingerUntil set) as lingering.
func (s *State) enlinger(h *holder) {
	heap.Push(&s.lingerQ, h)
	k := keyOf(h)
	l := append(s.lingerBy[k], h)
	slices.SortFunc(l, byHandle)
	s.lingerBy[k] = l
}

// unlinger forgets that h lingers and clears its linger fields.
func (s *State) unlinger(h *holder) {
	heap.Remove(&s.lingerQ, h.lingerIdx)
	k := keyOf(h)
	l := s.lingerBy[k]
	if i := slices.Index(l, h); i >= 0 {
		l = slices.Delete(l, i, i+1)
	}
	if len(l) == 0 {
		delete(s.lingerBy, k)
	} else {
		s.lingerBy[k] = l
	}
	h.LingerUntil, h.Linger = time.Time{}, 0
}

// startLinger detaches h from its session and lets it linger for its
// pool's LINGER from now; reason is why it was let go (Checkin or
// SessionClosed).
func (s *State) startLinger(h *holder, reason ReleaseReason, now time.Time) Delta {
	h.LastSeen = h.sess.lastSeen
	s.detach(h)
	h.Session = 0
	h.Linger = h.pool.linger
	h.LingerUntil = now.Add(h.Linger)
	s.enlinger(h)
	return s.emit(Delta{Kind: Linger, Time: now, Holder: h.export(), Reason: reason})
}

// applyLinger is startLinger on a replica, with the master's times.
func (s *State) applyLinger(h *holder, d Delta) {
	if d.Reason == Checkin {
		s.touch(h.sess, d.Time)
	}
	h.LastSeen = h.sess.lastSeen
	s.detach(h)
	h.Session = 0
	h.Linger = d.Holder.Linger
	h.LingerUntil = d.Holder.LingerUntil
	s.enlinger(h)
}

// lingerFor is the lingering holder a checkout takes back: of the request's
// feature, user, host and display, of at least its Count, in a pool of at
// least its version; the lowest handle of those.
func (s *State) lingerFor(req *CheckoutRequest) *holder {
	if len(s.lingerBy) == 0 {
		return nil
	}
	c := &req.Client
	l := s.lingerBy[lingerKey{req.Feature, c.User, c.Host, c.Display}]
	var want version
	if req.Version != "" {
		want = parseVersion(req.Version)
	}
	for _, h := range l {
		if h.Count >= req.Count && (req.Version == "" || h.pool.ver.cmp(want) >= 0) {
			return h
		}
	}
	return nil
}

// takeBack gives lingering holder h to the request's client: it joins the
// client's session with the client's PID and the request's NewSecret,
// consuming nothing more; a Rebind delta records it.
func (s *State) takeBack(h *holder, req *CheckoutRequest, now time.Time) Delta {
	s.unlinger(h)
	h.LastSeen = zeroTime
	h.PID = req.Client.PID
	h.Secret = req.NewSecret
	ss := s.session(req.Client.Session)
	s.attach(h, ss)
	s.touch(ss, now)
	s.active(ss)
	return s.emit(Delta{Kind: Rebind, Time: now, Holder: h.export()})
}

// lingerEnded appends the lingering holders whose LingerUntil is not after
// now.
func (s *State) lingerEnded(now time.Time) []*holder {
	var hs []*holder
	// The heap's ended entries form a subtree at its root: visit only it.
	var visit func(i int)
	visit = func(i int) {
		if i >= len(s.lingerQ) || s.lingerQ[i].LingerUntil.After(now) {
			return
		}
		hs = append(hs, s.lingerQ[i])
		visit(2*i + 1)
		visit(2*i + 2)
	}
	visit(0)
	return hs
}
