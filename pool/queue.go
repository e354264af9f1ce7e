package pool

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"time"
)

// ---- the server-side queue (LM_CO_QUEUE) ----

// queueable reports whether a checkout denied with err waits in the queue:
// only a lack of free licenses (-4, or -101 when the rest are reserved for
// others), which a release can cure.
func queueable(err error) bool {
	var d *Denial
	return errors.As(err, &d) && (d.Code == CodeMaxUsers || d.Code == CodeReserved)
}

func queuedDenial(handle uint64) *Denial {
	d := NewDenial(CodeFeatQueue)
	d.Handle = handle
	return d
}

// enqueue puts a new request at the tail of its feature's queue under
// handle and records it.
func (s *State) enqueue(req *CheckoutRequest, handle uint64, now time.Time) (Holder, Delta) {
	h := newHolder(req, handle, now)
	s.addQueued(h, req.Client.Session, now)
	out := h.export()
	return out, s.emit(Delta{Kind: Enqueue, Time: now, Holder: out})
}

// addQueued appends h to its feature's queue in session id.
func (s *State) addQueued(h *holder, id uint64, now time.Time) {
	if s.queued == nil {
		s.queued = make(map[uint64]*holder)
		s.queues = make(map[string][]*holder)
	}
	h.LastSeen = zeroTime
	ss := s.session(id)
	h.Session = id
	h.sess = ss
	ss.nq++
	s.touch(ss, now)
	s.queued[h.Handle] = h
	s.queues[h.Feature] = append(s.queues[h.Feature], h)
	s.nextHandle = max(s.nextHandle, h.Handle+1)
}

// unqueue takes h out of its queue and its session.
func (s *State) unqueue(h *holder) {
	q := s.queues[h.Feature]
	if i := slices.Index(q, h); i >= 0 {
		q = slices.Delete(q, i, i+1)
	}
	if len(q) == 0 {
		delete(s.queues, h.Feature)
	} else {
		s.queues[h.Feature] = q
	}
	delete(s.queued, h.Handle)
	ss := h.sess
	h.sess = nil
	ss.nq--
	s.maybeDropSession(ss)
}

// requeue moves queued request h to session id (a client that reconnected
// presenting its handle), recorded by a Rebind delta.
func (s *State) requeue(h *holder, id uint64, now time.Time) Delta {
	s.moveQueued(h, id, now)
	return s.emit(Delta{Kind: Rebind, Time: now, Holder: h.export()})
}

func (s *State) moveQueued(h *holder, id uint64, now time.Time) {
	old := h.sess
	old.nq--
	ss := s.session(id)
	ss.nq++
	h.sess, h.Session = ss, id
	s.touch(ss, now)
	s.maybeDropSession(old)
}

// dequeue drops queued request h for reason, telling its client code.
func (s *State) dequeue(h *holder, reason ReleaseReason, code int, now time.Time) Delta {
	d := s.emit(Delta{Kind: Dequeue, Time: now, Holder: h.export(), Reason: reason, Code: code})
	s.unqueue(h)
	return d
}

// grantQueued makes queued request h a holder of pool p.
func (s *State) grantQueued(h *holder, p *poolState, now time.Time) Delta {
	id := h.Session
	s.unqueue(h)
	h.Start = now
	s.insert(h, p, id, now)
	return s.emit(Delta{Kind: Grant, Time: now, Holder: h.export()})
}

// cancelQueued is a CHECKIN of a queued handle by its session.
func (s *State) cancelQueued(h *holder, now time.Time) []Delta {
	ds := []Delta{s.dequeue(h, Checkin, 0, now)}
	return append(ds, s.serveQueues(NoReason, now)...)
}

// serveQueues grants, feature by feature in name order, the requests at
// the head of each queue while the head can be granted (the checks of a
// checkout from its client); a head short of free licenses (-4, -101)
// blocks those behind it; a head refused for any other reason is dropped
// (Dequeue with that code and reason dropReason).
func (s *State) serveQueues(dropReason ReleaseReason, now time.Time) []Delta {
	if len(s.queues) == 0 {
		return nil
	}
	names := make([]string, 0, len(s.queues))
	for n := range s.queues {
		names = append(names, n)
	}
	slices.Sort(names)
	var ds []Delta
	for _, n := range names {
		for len(s.queues[n]) > 0 {
			h := s.queues[n][0]
			req := CheckoutRequest{Client: h.client(), Feature: h.Feature, Version: h.Version, Count: h.Count}
			p, err := s.choose(&req, now, nil)
			if err == nil {
				ds = append(ds, s.grantQueued(h, p, now))
				continue
			}
			if queueable(err) {
				break
			}
			var den *Denial
			errors.As(err, &den)
			ds = append(ds, s.dequeue(h, dropReason, den.Code, now))
		}
	}
	return ds
}

// ServeQueues grants what the queues' heads can now get and drops the heads
// that can never be granted (reason Reread). A master calls it after
// SetPolicy, which returns no delta since every member calls it; every
// operation that frees licenses serves the queues itself.
func (s *State) ServeQueues(now time.Time) []Delta {
	return s.serveQueues(Reread, now.Round(0))
}

// dropSessionQueued drops every queued request of the sessions in ss, in
// handle order.
func (s *State) dropSessionQueued(ss map[uint64]bool, reason ReleaseReason, now time.Time) []Delta {
	if len(s.queued) == 0 || len(ss) == 0 {
		return nil
	}
	var hs []*holder
	for _, h := range s.queued {
		if ss[h.Session] {
			hs = append(hs, h)
		}
	}
	slices.SortFunc(hs, byHandle)
	ds := make([]Delta, 0, len(hs))
	for _, h := range hs {
		ds = append(ds, s.dequeue(h, reason, 0, now))
	}
	return ds
}

// client is the queued request's client.
func (h *holder) client() Client {
	return Client{Session: h.Session, User: h.User, Host: h.Host, Display: h.Display, PID: h.PID,
		HostIDs: h.HostIDs, VendorDef: h.VendorDef, IP: h.IP, Project: h.Project}
}

// reattachQueued handles a checkout presenting the handle of a queued
// request: the same client (feature, user, host, display, PID) with its
// secret moves the request to its session; ok is false when the handle is
// not a queued one of this client.
func (s *State) reattachQueued(req *CheckoutRequest, now time.Time) (Holder, []Delta, error, bool) {
	h := s.queued[req.Handle]
	c := &req.Client
	if h == nil || h.Feature != req.Feature || h.User != c.User || h.Host != c.Host ||
		h.Display != c.Display || h.PID != c.PID {
		return Holder{}, nil, nil, false
	}
	if h.Secret != "" && subtle.ConstantTimeCompare([]byte(h.Secret), []byte(req.Secret)) != 1 {
		return Holder{}, nil, newSecretDenial(), true
	}
	d := s.requeue(h, c.Session, now)
	return h.export(), []Delta{d}, queuedDenial(h.Handle), true
}

// Queued returns the number of queued requests.
func (s *State) Queued() int { return len(s.queued) }

// queuedStatus is feature name's queue, head first.
func (s *State) queuedStatus(name string) []Holder {
	q := s.queues[name]
	if len(q) == 0 {
		return nil
	}
	out := make([]Holder, len(q))
	for i, h := range q {
		out[i] = h.export()
	}
	return out
}

// applyEnqueue replays an Enqueue delta.
func (s *State) applyEnqueue(d Delta) error {
	if s.holders[d.Holder.Handle] != nil || s.queued[d.Holder.Handle] != nil {
		return fmt.Errorf("%w: enqueue of existing handle %d", ErrDiverged, d.Holder.Handle)
	}
	h := &holder{Holder: d.Holder}
	s.addQueued(h, d.Holder.Session, d.Time)
	return nil
}
