package pool

import (
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

// Checkin frees the license handle of session. It fails with -41 when the
// handle is unknown or belongs to another session.
func (s *State) Checkin(session, handle uint64, now time.Time) ([]Delta, error) {
	now = now.Round(0)
	h := s.holders[handle]
	if h == nil || h.Session != session {
		return nil, NewDenial(CodeNeverCheckedOut)
	}
	s.touch(h.sess, now)
	return []Delta{s.release(h, Checkin, now)}, nil
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
// handle order.
func (s *State) CloseSession(session uint64, now time.Time) []Delta {
	now = now.Round(0)
	ss := s.sessions[session]
	if ss == nil {
		return nil
	}
	return s.releaseAll(sessionHolders(ss, nil), SessionClosed, now)
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
func (s *State) Expire(now time.Time) []Delta {
	timeout := s.opts.HeartbeatTimeout
	if timeout <= 0 {
		return nil
	}
	now = now.Round(0)
	var hs []*holder
	// The LRU list is in touch order, which is the order of the readings
	// while the clock does not step back: the monotonic clock never does; a
	// wall clock stepping back frees a session late, never early.
	if s.opts.Monotonic != nil {
		mono := s.opts.Monotonic()
		for ss := s.lruHead; ss != nil && mono-ss.heard > timeout; ss = ss.next {
			hs = sessionHolders(ss, hs)
		}
	} else {
		for ss := s.lruHead; ss != nil && now.Sub(ss.lastSeen) > timeout; ss = ss.next {
			hs = sessionHolders(ss, hs)
		}
	}
	return s.releaseAll(hs, Timeout, now)
}

// Remove frees, in handle order, every license of feature held by
// user/host/display (lmremove feature user host display). It fails with -5
// for an unknown feature and -41 when nobody matches.
func (s *State) Remove(feature, user, host, display string, now time.Time) ([]Delta, error) {
	now = now.Round(0)
	f := s.ps.byName[feature]
	if f == nil {
		return nil, NewDenial(CodeNoFeature)
	}
	var hs []*holder
	for _, p := range f.byFile {
		for h := p.head; h != nil; h = h.poolNext {
			if h.User == user && h.Host == host && h.Display == display {
				hs = append(hs, h)
			}
		}
	}
	if len(hs) == 0 {
		return nil, NewDenial(CodeNeverCheckedOut)
	}
	return s.releaseAll(hs, Removed, now), nil
}

// RemoveHandle frees license handle of feature (lmremove -h). It fails with
// -5 for an unknown feature and -41 when the handle is not one of feature's.
func (s *State) RemoveHandle(feature string, handle uint64, now time.Time) ([]Delta, error) {
	now = now.Round(0)
	if s.ps.byName[feature] == nil {
		return nil, NewDenial(CodeNoFeature)
	}
	h := s.holders[handle]
	if h == nil || h.Feature != feature {
		return nil, NewDenial(CodeNeverCheckedOut)
	}
	return []Delta{s.release(h, Removed, now)}, nil
}

// Holders returns the number of license handles held.
func (s *State) Holders() int { return len(s.holders) }

// Seq returns the sequence number of the last delta produced or applied.
func (s *State) Seq() uint64 { return s.seq }
