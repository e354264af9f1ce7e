package adminauth

import (
	"sync"
	"time"
)

// Throttle slows down password guessing, per peer address: after Free
// failed attempts in a row, a peer must wait Base before its next attempt,
// twice as long after each further failure, up to Max. A success clears
// the peer's record; a peer silent for Forget is forgotten. Time comes
// from the caller (an injected clock). Safe for concurrent use.
type Throttle struct {
	Free   int
	Base   time.Duration
	Max    time.Duration
	Forget time.Duration
	// MaxPeers bounds the memory a flood of source addresses can cost:
	// beyond it, new peers share one record (and so one another's wait).
	MaxPeers int

	mu    sync.Mutex
	peers map[string]*attempts
}

type attempts struct {
	failures int
	last     time.Time // of the last failure
	next     time.Time // no attempt before this
}

// NewThrottle returns lmgrd's defaults: 3 free failures, then 1 s doubling
// to 1 min, forgotten after an hour.
func NewThrottle() *Throttle {
	return &Throttle{Free: 3, Base: time.Second, Max: time.Minute, Forget: time.Hour, MaxPeers: 4096}
}

// overflowPeer is the shared record of peers beyond MaxPeers.
const overflowPeer = "\x00overflow"

// Wait is how long peer must still wait before an attempt (0: it may try).
func (t *Throttle) Wait(peer string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	a := t.record(peer, now, false)
	if a == nil || !now.Before(a.next) {
		return 0
	}
	return a.next.Sub(now)
}

// Failed records a failed attempt of peer and returns the wait it now has.
func (t *Throttle) Failed(peer string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	a := t.record(peer, now, true)
	a.failures++
	a.last = now
	if over := a.failures - t.Free; over > 0 {
		wait := t.Max
		if over <= 30 && t.Base<<(over-1) < t.Max {
			wait = t.Base << (over - 1)
		}
		a.next = now.Add(wait)
		return wait
	}
	return 0
}

// Succeeded clears peer's failures.
func (t *Throttle) Succeeded(peer string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.peers, peer)
}

// Failures is how many failed attempts in a row peer has on record.
func (t *Throttle) Failures(peer string, now time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if a := t.record(peer, now, false); a != nil {
		return a.failures
	}
	return 0
}

// record finds peer's record (t.mu held), forgetting stale ones; create
// makes one when there is none.
func (t *Throttle) record(peer string, now time.Time, create bool) *attempts {
	if t.peers == nil {
		t.peers = map[string]*attempts{}
	}
	a := t.peers[peer]
	if a != nil && t.Forget > 0 && now.Sub(a.last) >= t.Forget && !now.Before(a.next) {
		delete(t.peers, peer)
		a = nil
	}
	if a == nil && !create {
		if o := t.peers[overflowPeer]; o != nil && t.MaxPeers > 0 && len(t.peers) > t.MaxPeers {
			return o
		}
		return nil
	}
	if a == nil {
		if t.MaxPeers > 0 && len(t.peers) >= t.MaxPeers {
			t.prune(now)
		}
		if t.MaxPeers > 0 && len(t.peers) >= t.MaxPeers {
			peer = overflowPeer
			if a = t.peers[peer]; a != nil {
				return a
			}
		}
		a = &attempts{}
		t.peers[peer] = a
	}
	return a
}

// prune forgets every peer whose record has lapsed (t.mu held).
func (t *Throttle) prune(now time.Time) {
	for p, a := range t.peers {
		if t.Forget > 0 && now.Sub(a.last) >= t.Forget && !now.Before(a.next) {
			delete(t.peers, p)
		}
	}
}
