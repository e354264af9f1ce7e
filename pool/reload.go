package pool

import (
	"cmp"
	"slices"
	"time"

	nodelock "github.com/lmtriad/lmtriad/hostid" // not hostid: the pool tests have a helper of that name
	"github.com/lmtriad/lmtriad/licfile"
)

// Reload replaces the pools (lmreread). Holders whose license still exists
// keep it: first every holder whose pool key is still served stays in it
// while the pool has room (holders taken oldest first, by Start then
// Handle); then each remaining holder moves to the first pool of the same
// feature name, in checkout order, with a version at least its old pool's,
// not expired, started, node-lock matching and with room. The rest are
// released with reason Reread (their clients should be told -92). The deltas
// are those Release deltas, in handle order, then one Reload delta, then
// the queues are served: Grants, and Dequeues (reason Reread, Delta.Code
// the checkout's denial) of heads that can no longer be granted, such as
// requests for a feature gone.
func (s *State) Reload(pools []licfile.Pool, now time.Time) []Delta {
	now = now.Round(0)
	pools = slices.Clone(pools)
	np := newPoolSet(pools, s.loc, s.ps.pol)
	hs := s.unlinkAll()

	var rest []*holder
	for _, h := range hs {
		if p := np.byKey[h.PoolKey]; p != nil && p.fits(p.extra(h.Count, h.User, h.Host, h.Display, h.VendorDef)) {
			p.link(h)
		} else {
			rest = append(rest, h)
		}
	}
	var moves []Move
	var gone []*holder
	for _, h := range rest {
		p := np.fallback(h, now)
		if p == nil {
			gone = append(gone, h)
			continue
		}
		p.link(h)
		moves = append(moves, Move{Handle: h.Handle, PoolKey: h.PoolKey, PoolVersion: h.PoolVersion})
	}
	slices.SortFunc(moves, func(a, b Move) int { return cmp.Compare(a.Handle, b.Handle) })
	slices.SortFunc(gone, byHandle)

	ds := make([]Delta, 0, len(gone)+1)
	for _, h := range gone {
		ds = append(ds, s.emit(Delta{Kind: Release, Time: now, Holder: h.export(), Reason: Reread}))
		s.forget(h)
	}
	s.ps = np
	ds = append(ds, s.emit(Delta{Kind: Reload, Time: now, Pools: pools, Moves: moves}))
	return append(ds, s.serveQueues(Reread, now)...)
}

// unlinkAll detaches every holder from the current pools (which are about to
// be replaced) and returns them by Start then Handle.
func (s *State) unlinkAll() []*holder {
	hs := make([]*holder, 0, len(s.holders))
	for _, h := range s.holders {
		hs = append(hs, h)
	}
	slices.SortFunc(hs, byStart)
	for _, h := range hs {
		h.pool, h.group, h.poolPrev, h.poolNext, h.grpPrev, h.grpNext = nil, nil, nil, nil, nil, nil
	}
	return hs
}

// fallback is the pool a holder whose own pool is gone or full moves to.
func (ps *poolSet) fallback(h *holder, now time.Time) *poolState {
	f := ps.byName[h.Feature]
	if f == nil {
		return nil
	}
	pv := parseVersion(h.PoolVersion)
	w := nodelock.Identity{User: h.User, Host: h.Host, Display: h.Display, HostIDs: h.HostIDs}
	for _, p := range f.byVersion {
		if p.ver.cmp(pv) >= 0 && !p.expired(now) && p.started(now) && p.lock.Matches(w) &&
			p.fits(p.extra(h.Count, h.User, h.Host, h.Display, h.VendorDef)) {
			return p
		}
	}
	return nil
}
