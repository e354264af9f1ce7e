package pool

import (
	"slices"
	"time"
)

// rebind moves h to session id (a reattach) and records it.
func (s *State) rebind(h *holder, id uint64, now time.Time) Delta {
	s.detach(h)
	ss := s.session(id)
	s.attach(h, ss)
	s.touch(ss, now)
	return s.emit(Delta{Kind: Rebind, Time: now, Holder: h.export()})
}

// Checkin frees the license handle of session, or lets it linger (a Linger
// delta) when its feature has a LINGER. It fails with -41 when the handle is
// unknown or belongs to another session (a lingering handle belongs to none).
// The handle of a request queued by session cancels it (a Dequeue delta).
// Requests that the freed licenses let through the queues are granted, their
// Grant deltas following.
func (s *State) Checkin(session, handle uint64, now time.Time) ([]Delta, error) {
	now = now.Round(0)
	if q := s.queued[handle]; q != nil && q.Session == session {
		return s.cancelQueued(q, now), nil
	}
	h := s.holders[handle]
	if h == nil || h.Session != session || h.lingering() || h.borrowedOut() {
		return nil, NewDenial(CodeNeverCheckedOut)
	}
	s.touch(h.sess, now)
	s.active(h.sess)
	if h.pool.linger > 0 {
		return []Delta{s.startLinger(h, Checkin, now)}, nil
	}
	return append([]Delta{s.release(h, Checkin, now)}, s.serveQueues(NoReason, now)...), nil
}

// Heartbeat records that session is alive at now and returns how many
// handles it holds, so a client can tell it lost some (lmremove, reread).
// It produces no delta: liveness is the master's own business (see the
// package documentation).
func (s *State) Heartbeat(session uint64, now time.Time) int {
	ss := s.sessions[session]
	if ss == nil {
		return 0
	}
	s.touch(ss, now.Round(0))
	return ss.n
}

// TouchAll marks every session alive at now, giving each a full heartbeat
// timeout from now on this State's clock (Options.Monotonic when set). A
// replica promoted to master calls it, since it never saw the old master's
// heartbeats.
func (s *State) TouchAll(now time.Time) {
	now = now.Round(0)
	var heard time.Duration
	if s.opts.Monotonic != nil {
		heard = s.opts.Monotonic()
	}
	for ss := s.lruHead; ss != nil; ss = ss.next {
		ss.lastSeen, ss.heard = now, heard
	}
}

// CloseSession frees every license of session (its connection closed), in
// handle order; those of a feature with a LINGER linger instead (a Linger
// delta each); its queued requests are dropped (Dequeue, reason
// SessionClosed) first; then the queues are served.
func (s *State) CloseSession(session uint64, now time.Time) []Delta {
	now = now.Round(0)
	ss := s.sessions[session]
	if ss == nil {
		return nil
	}
	qs := s.dropSessionQueued(map[uint64]bool{session: true}, SessionClosed, now)
	if s.sessions[session] == nil {
		return append(qs, s.serveQueues(NoReason, now)...)
	}
	hs := sessionHolders(ss, nil)
	slices.SortFunc(hs, byHandle)
	ds := append(qs, make([]Delta, 0, len(hs))...)
	for _, h := range hs {
		if h.pool.linger > 0 {
			ds = append(ds, s.startLinger(h, SessionClosed, now))
		} else {
			ds = append(ds, s.release(h, SessionClosed, now))
		}
	}
	return append(ds, s.serveQueues(NoReason, now)...)
}

func sessionHolders(ss *session, hs []*holder) []*holder {
	for h := ss.head; h != nil; h = h.sessNext {
		hs = append(hs, h)
	}
	return hs
}

// Expire frees, in handle order, the licenses of sessions silent for longer
// than Options.HeartbeatTimeout: a session last heard at t is freed when the
// clock reads t+timeout+1ns, not at t+timeout. The clock is
// Options.Monotonic when set (now then only stamps the deltas), else now.
// It also frees, with the same reason Timeout, the licenses of sessions
// idle (SetIdle) for at least their feature's TIMEOUT, on the same clock;
// then, with reason LingerEnd and in handle order, the lingering licenses
// whose LingerUntil is not after now (the wall clock, as replicated); then,
// with reason BorrowEnd, the borrowed ones whose BorrowUntil is not after
// now.
func (s *State) Expire(now time.Time) []Delta {
	now = now.Round(0)
	var hs []*holder
	var silent map[*session]bool
	var gone map[uint64]bool // silent sessions with queued requests
	if timeout := s.opts.HeartbeatTimeout; timeout > 0 {
		// The LRU list is in touch order, which is the order of the readings
		// while the clock does not step back: the monotonic clock never does; a
		// wall clock stepping back frees a session late, never early.
		mark := func(ss *session) {
			hs = sessionHolders(ss, hs)
			if ss.nq > 0 {
				if gone == nil {
					gone = map[uint64]bool{}
				}
				gone[ss.id] = true
			}
			if len(s.idle) > 0 {
				if silent == nil {
					silent = map[*session]bool{}
				}
				silent[ss] = true
			}
		}
		if s.opts.Monotonic != nil {
			mono := s.opts.Monotonic()
			for ss := s.lruHead; ss != nil && mono-ss.heard > timeout; ss = ss.next {
				mark(ss)
			}
		} else {
			for ss := s.lruHead; ss != nil && now.Sub(ss.lastSeen) > timeout; ss = ss.next {
				mark(ss)
			}
		}
	}
	if len(s.idle) > 0 {
		hs = s.idleExpired(now, silent, hs)
	}
	ds := s.dropSessionQueued(gone, Timeout, now)
	ds = append(ds, s.releaseAll(hs, Timeout, now)...)
	if len(s.lingerQ) > 0 {
		ds = append(ds, s.releaseAll(s.lingerEnded(now), LingerEnd, now)...)
	}
	if len(s.borrowed) > 0 {
		ds = append(ds, s.releaseAll(s.borrowEnded(now), BorrowEnd, now)...)
	}
	return append(ds, s.serveQueues(NoReason, now)...)
}

// Remove frees, in handle order, every license of feature held by
// user/host/display (lmremove feature user host display), lingering ones
// apart. It fails with -5 for an unknown feature, -100 when only lingering
// licenses match and -41 when nobody matches.
func (s *State) Remove(feature, user, host, display string, now time.Time) ([]Delta, error) {
	now = now.Round(0)
	f := s.ps.byName[feature]
	if f == nil {
		return nil, NewDenial(CodeNoFeature)
	}
	var hs []*holder
	lingering := false
	for _, p := range f.byFile {
		for h := p.head; h != nil; h = h.poolNext {
			if h.User == user && h.Host == host && h.Display == display && !h.borrowedOut() {
				if h.lingering() {
					lingering = true
					continue
				}
				hs = append(hs, h)
			}
		}
	}
	if len(hs) == 0 {
		if lingering {
			return nil, NewDenial(CodeRemoveLinger)
		}
		return nil, NewDenial(CodeNeverCheckedOut)
	}
	return append(s.releaseAll(hs, Removed, now), s.serveQueues(NoReason, now)...), nil
}

// RemoveHandle frees license handle of feature (lmremove -h). It fails with
// -5 for an unknown feature, -41 when the handle is not one of feature's and
// -100 when it lingers.
func (s *State) RemoveHandle(feature string, handle uint64, now time.Time) ([]Delta, error) {
	now = now.Round(0)
	if s.ps.byName[feature] == nil {
		return nil, NewDenial(CodeNoFeature)
	}
	h := s.holders[handle]
	if h == nil || h.Feature != feature || h.borrowedOut() {
		return nil, NewDenial(CodeNeverCheckedOut)
	}
	if h.lingering() {
		return nil, NewDenial(CodeRemoveLinger)
	}
	return append([]Delta{s.release(h, Removed, now)}, s.serveQueues(NoReason, now)...), nil
}

// Holders returns the number of license handles held.
func (s *State) Holders() int { return len(s.holders) }

// Seq returns the sequence number of the last delta produced or applied.
func (s *State) Seq() uint64 { return s.seq }
