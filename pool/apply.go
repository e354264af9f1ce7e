package pool

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/lmtriad/lmtriad/licfile"
)

// Apply replays a master's delta on a replica. A delta whose Seq is not
// beyond the last one applied is a duplicate and is ignored; one that skips
// ahead returns ErrGap; one that does not fit the state returns ErrDiverged.
// In both error cases the state is unchanged and the replica should catch up
// from a Snapshot.
func (s *State) Apply(d Delta) error {
	if d.Seq <= s.seq {
		return nil
	}
	if d.Seq != s.seq+1 {
		return fmt.Errorf("%w: last applied %d, got %d", ErrGap, s.seq, d.Seq)
	}
	var err error
	switch d.Kind {
	case Grant:
		if q := s.queued[d.Holder.Handle]; q != nil {
			if s.ps.byKey[d.Holder.PoolKey] == nil {
				return fmt.Errorf("%w: grant in unknown pool %q", ErrDiverged, d.Holder.PoolKey)
			}
			s.unqueue(q) // a queued request granted
		}
		err = s.applyGrant(d)
	case Enqueue:
		err = s.applyEnqueue(d)
	case Dequeue:
		q := s.queued[d.Holder.Handle]
		if q == nil {
			return fmt.Errorf("%w: dequeue of unknown queued handle %d", ErrDiverged, d.Holder.Handle)
		}
		s.unqueue(q)
	case Rebind:
		if q := s.queued[d.Holder.Handle]; q != nil {
			s.moveQueued(q, d.Holder.Session, d.Time)
			break
		}
		h := s.holders[d.Holder.Handle]
		if h == nil {
			return fmt.Errorf("%w: rebind of unknown handle %d", ErrDiverged, d.Holder.Handle)
		}
		if h.lingering() {
			// Taken back by a new client (takeBack).
			s.unlinger(h)
			h.LastSeen = zeroTime
			h.PID, h.Secret = d.Holder.PID, d.Holder.Secret
		} else {
			if h.Secret == "" {
				h.Secret = d.Holder.Secret // an old holder given a secret at its reattach
			}
			s.detach(h)
		}
		ss := s.session(d.Holder.Session)
		s.attach(h, ss)
		s.touch(ss, d.Time)
	case Release:
		h := s.holders[d.Holder.Handle]
		if h == nil {
			return fmt.Errorf("%w: release of unknown handle %d", ErrDiverged, d.Holder.Handle)
		}
		if d.Reason == Checkin && h.sess != nil {
			s.touch(h.sess, d.Time)
		}
		s.drop(h)
	case Linger:
		h := s.holders[d.Holder.Handle]
		if h == nil || h.lingering() || d.Holder.LingerUntil.IsZero() {
			return fmt.Errorf("%w: linger of unknown, lingering or unbounded handle %d", ErrDiverged, d.Holder.Handle)
		}
		s.applyLinger(h, d)
	case Reload:
		err = s.applyReload(d)
	case NamedUse, Recycle:
		err = s.applyNamed(d)
	default:
		err = fmt.Errorf("%w: unknown delta kind %v", ErrDiverged, d.Kind)
	}
	if err != nil {
		return err
	}
	s.seq = d.Seq
	return nil
}

func (s *State) applyGrant(d Delta) error {
	if s.holders[d.Holder.Handle] != nil {
		return fmt.Errorf("%w: grant of existing handle %d", ErrDiverged, d.Holder.Handle)
	}
	p := s.ps.byKey[d.Holder.PoolKey]
	if p == nil {
		return fmt.Errorf("%w: grant in unknown pool %q", ErrDiverged, d.Holder.PoolKey)
	}
	h := &holder{Holder: d.Holder}
	if h.borrowedOut() {
		s.insertBorrowed(h, p, d.Time)
		return nil
	}
	h.LastSeen = zeroTime
	s.insert(h, p, d.Holder.Session, d.Time)
	return nil
}

func (s *State) applyReload(d Delta) error {
	np := newPoolSet(d.Pools, s.loc, s.ps.pol)
	moved := make(map[uint64]string, len(d.Moves))
	for _, m := range d.Moves {
		moved[m.Handle] = m.PoolKey
	}
	keyOf := func(h *holder) string {
		if k, ok := moved[h.Handle]; ok {
			return k
		}
		return h.PoolKey
	}
	for _, h := range s.holders {
		if np.byKey[keyOf(h)] == nil {
			return fmt.Errorf("%w: reload leaves handle %d without pool %q", ErrDiverged, h.Handle, keyOf(h))
		}
	}
	for _, h := range s.unlinkAll() {
		np.byKey[keyOf(h)].link(h)
	}
	s.ps = np
	return nil
}

// Snapshot is a State's replicated content, for a replica catching up.
// Lingering holders are among Holders (LingerUntil set, Session 0). The
// options file is not: Restore takes it in Options.Policy. Idle sessions
// (SetIdle) are not either.
type Snapshot struct {
	Seq        uint64
	NextHandle uint64
	Pools      []licfile.Pool // the pools served, in file order
	Holders    []Holder       // in handle order
	// Named is the named users of USER_BASED and HOST_BASED pools (see
	// NamedUsers), by pool key and user.
	Named []NamedUser
	// Queued are the queued requests in handle order, which is each
	// feature's queue order (no pool: PoolKey empty).
	Queued []Holder
}

// Snapshot returns the state's content. Holders' LastSeen is the master's
// view; a restored replica's liveness data is only as good as that.
func (s *State) Snapshot() Snapshot {
	snap := Snapshot{
		Seq:        s.seq,
		NextHandle: s.nextHandle,
		Pools:      make([]licfile.Pool, len(s.ps.pools)),
		Holders:    make([]Holder, 0, len(s.holders)),
	}
	for i, p := range s.ps.pools {
		snap.Pools[i] = p.pool
	}
	for _, h := range s.holders {
		snap.Holders = append(snap.Holders, h.export())
	}
	slices.SortFunc(snap.Holders, func(a, b Holder) int { return cmp.Compare(a.Handle, b.Handle) })
	for key, users := range s.named {
		for who, t := range users {
			snap.Named = append(snap.Named, NamedUser{PoolKey: key, User: who, LastUsed: t})
		}
	}
	slices.SortFunc(snap.Named, func(a, b NamedUser) int {
		return cmp.Or(cmp.Compare(a.PoolKey, b.PoolKey), cmp.Compare(a.User, b.User))
	})
	if len(s.queued) > 0 {
		snap.Queued = make([]Holder, 0, len(s.queued))
		for _, h := range s.queued {
			snap.Queued = append(snap.Queued, h.export())
		}
		slices.SortFunc(snap.Queued, func(a, b Holder) int { return cmp.Compare(a.Handle, b.Handle) })
	}
	return snap
}

// Restore builds a State from a Snapshot. It returns ErrDiverged when the
// snapshot is inconsistent (duplicate handle, unknown pool).
func Restore(snap Snapshot, opts Options) (*State, error) {
	s := New(snap.Pools, opts)
	s.seq = snap.Seq
	s.nextHandle = max(s.nextHandle, snap.NextHandle)
	for _, n := range snap.Named {
		s.setNamed(n.PoolKey, n.User, n.LastUsed)
	}
	for _, hv := range snap.Holders {
		if s.holders[hv.Handle] != nil {
			return nil, fmt.Errorf("%w: duplicate handle %d in snapshot", ErrDiverged, hv.Handle)
		}
		p := s.ps.byKey[hv.PoolKey]
		if p == nil {
			return nil, fmt.Errorf("%w: snapshot holder %d in unknown pool %q", ErrDiverged, hv.Handle, hv.PoolKey)
		}
		h := &holder{Holder: hv}
		if h.lingering() {
			// Out of any session, keeping its LastSeen.
			h.Session = 0
			p.link(h)
			s.holders[h.Handle] = h
			s.nextHandle = max(s.nextHandle, h.Handle+1)
			s.enlinger(h)
			continue
		}
		if h.borrowedOut() {
			s.insertBorrowed(h, p, hv.LastSeen)
			continue
		}
		h.LastSeen = zeroTime
		s.insert(h, p, hv.Session, hv.LastSeen)
	}
	for _, qv := range snap.Queued {
		if s.holders[qv.Handle] != nil || s.queued[qv.Handle] != nil {
			return nil, fmt.Errorf("%w: duplicate handle %d in snapshot", ErrDiverged, qv.Handle)
		}
		if len(s.queues[qv.Feature]) > 0 && s.queues[qv.Feature][len(s.queues[qv.Feature])-1].Handle > qv.Handle {
			return nil, fmt.Errorf("%w: queued handle %d out of order in snapshot", ErrDiverged, qv.Handle)
		}
		s.addQueued(&holder{Holder: qv}, qv.Session, qv.LastSeen)
	}
	// Rebuild the LRU list in lastSeen order.
	ss := make([]*session, 0, len(s.sessions))
	for _, x := range s.sessions {
		ss = append(ss, x)
	}
	slices.SortFunc(ss, func(a, b *session) int {
		if c := a.lastSeen.Compare(b.lastSeen); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	// Monotonic readings mean nothing outside the process that took them, so
	// the snapshot carries none: silence is measured from the restore on, one
	// reading for all (the LRU list stays in reading order).
	var heard time.Duration
	if opts.Monotonic != nil {
		heard = opts.Monotonic()
	}
	s.lruHead, s.lruTail = nil, nil
	for _, x := range ss {
		x.prev, x.next = nil, nil
		x.heard = heard
		s.lruPushBack(x)
	}
	return s, nil
}
