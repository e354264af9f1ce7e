package pool

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Named users (USER_BASED and HOST_BASED pools, flexlm.md §1.5, §6; the
// DSLS named-user life cycle of the seeds):
//
// Only the users (hosts) an INCLUDE or INCLUDEALL line of the options file
// names for the feature may use such a pool: with no INCLUDE line for it at
// all the checkout is refused with -84 (USER_BASED license has no specified
// users), a user not on the lists with -39, as for any INCLUDE list. The
// pool's capacity (Count + OVERDRAFT) is the number of named users
// (hosts): a user's first grant makes it a named user of the pool, with a
// seat it keeps when it checks in, until it is recycled; once that many are
// named, a new user is refused with -4 (Licensed number of users already
// reached; FlexLM's -84 text speaks of no users at all, so it is not used
// for this). A named user may hold several licenses at once, from several
// sessions, on its one seat: the pool groups its holders by user (host) as
// DUP_GROUP=U (H) would, whatever DUP_GROUP the line has.
//
// Each named user's last-used time is the time of a grant to it, recorded
// by a NamedUse delta on its first grant and on the first grant of each
// later calendar day (in Options.Location): the date is what matters (the
// 30 days of a recycle), and one delta a day keeps the log small. Recycle
// (and AutoRecycle, for every eligible one) frees the seat of a named user
// who holds no license of the pool and was last used at least RecycleAge
// ago, with a Recycle delta. Named users are in Snapshots and are kept by
// pool key across an lmreread (a pool that goes away and comes back with the
// same key finds its named users again). Only grants update the last-used
// time (DSLS also updates it at check-in and on heartbeats; a grant each day
// is what the 30 days need).

// NamedUse and Recycle are the named-user deltas (named.go). Their values
// are fixed apart from the other kinds' iota.
const (
	// NamedUse records that Delta.Holder.User (the host of a HOST_BASED
	// pool) is a named user of pool Delta.Holder.PoolKey, last used at
	// Delta.Time.
	NamedUse DeltaKind = 7
	// Recycle records that named user Delta.Holder.User of pool
	// Delta.Holder.PoolKey lost its seat.
	Recycle DeltaKind = 8
)

// RecycleAge is how long a named user must have gone unused before its
// seat may be recycled (DSLS: 30 days).
const RecycleAge = 30 * 24 * time.Hour

// NamedUser is a named user (host) of a USER_BASED (HOST_BASED) pool.
type NamedUser struct {
	PoolKey  string
	User     string // the host name for a HOST_BASED pool
	LastUsed time.Time
}

// Errors of Recycle, wrapped with the details.
var (
	// ErrNotNamed: the user is no named user of the feature.
	ErrNotNamed = errors.New("not a named user of the feature")
	// ErrNamedInUse: the named user holds a license of the feature.
	ErrNamedInUse = errors.New("the named user holds a license")
	// ErrRecycleTooSoon: the named user was used less than RecycleAge ago.
	ErrRecycleTooSoon = errors.New("the named user was used less than 30 days ago")
)

// named reports whether p is a USER_BASED or HOST_BASED pool.
func (p *poolState) named() bool { return p.pool.UserBased || p.pool.HostBased }

// namedKey is who holds a seat of named pool p: the user, or the host.
func (p *poolState) namedKey(user, host string) string {
	if p.pool.UserBased {
		return user
	}
	return host
}

// hasSeat reports whether who has, or may get, a named seat in p.
func (s *State) hasSeat(p *poolState, who string) bool {
	users := s.named[p.pool.Key]
	if _, ok := users[who]; ok {
		return true
	}
	return p.pool.Uncounted || len(users) < p.capacity
}

// useNamed records a grant to who in named pool p at now; it returns the
// NamedUse delta when who is new or was last used on an earlier day.
func (s *State) useNamed(p *poolState, who string, now time.Time) (Delta, bool) {
	if last, ok := s.named[p.pool.Key][who]; ok && sameDay(last.In(s.loc), now.In(s.loc)) {
		return Delta{}, false
	}
	s.setNamed(p.pool.Key, who, now)
	return s.emit(Delta{Kind: NamedUse, Time: now, Holder: Holder{PoolKey: p.pool.Key, Feature: p.pool.Name, User: who}}), true
}

func sameDay(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd
}

func (s *State) setNamed(key, who string, t time.Time) {
	users := s.named[key]
	if users == nil {
		users = map[string]time.Time{}
		s.named[key] = users
	}
	users[who] = t
}

// holds reports whether who holds a license of named pool p.
func (p *poolState) holds(who string) bool {
	for h := p.head; h != nil; h = h.poolNext {
		if p.namedKey(h.User, h.Host) == who {
			return true
		}
	}
	return false
}

// NamedUsers returns the named users of feature's pools (every feature
// when feature is ""), by pool in file order, then by user.
func (s *State) NamedUsers(feature string) []NamedUser {
	var out []NamedUser
	for _, p := range s.ps.pools {
		if feature != "" && p.pool.Name != feature {
			continue
		}
		start := len(out)
		for who, t := range s.named[p.pool.Key] {
			out = append(out, NamedUser{PoolKey: p.pool.Key, User: who, LastUsed: t})
		}
		slices.SortFunc(out[start:], func(a, b NamedUser) int { return cmp.Compare(a.User, b.User) })
	}
	return out
}

// Recycle frees the seat of named user who (a host name for a HOST_BASED
// pool) in the pools of feature, as an administrator's lmrecycle: refused
// (nothing changes) with an error wrapping ErrNotNamed when it is named in
// none, ErrNamedInUse when it holds a license of such a pool, or
// ErrRecycleTooSoon, naming the last-used date, when it was last used less
// than RecycleAge before now.
func (s *State) Recycle(feature, who string, now time.Time) ([]Delta, error) {
	now = now.Round(0)
	var pools []*poolState
	if f := s.ps.byName[feature]; f != nil {
		for _, p := range f.byFile {
			if _, ok := s.named[p.pool.Key][who]; ok {
				pools = append(pools, p)
			}
		}
	}
	if len(pools) == 0 {
		return nil, fmt.Errorf("%s of %s: %w", who, feature, ErrNotNamed)
	}
	for _, p := range pools {
		if p.holds(who) {
			return nil, fmt.Errorf("%s of %s: %w", who, feature, ErrNamedInUse)
		}
		if last := s.named[p.pool.Key][who]; now.Sub(last) < RecycleAge {
			return nil, fmt.Errorf("%s of %s, last used %s: %w", who, feature, last.In(s.loc).Format("Mon 1/2/2006 15:04"), ErrRecycleTooSoon)
		}
	}
	ds := make([]Delta, 0, len(pools))
	for _, p := range pools {
		ds = append(ds, s.recycle(p.pool.Key, p.pool.Name, who, now))
	}
	return ds, nil
}

func (s *State) recycle(key, feature, who string, now time.Time) Delta {
	delete(s.named[key], who)
	if len(s.named[key]) == 0 {
		delete(s.named, key)
	}
	return s.emit(Delta{Kind: Recycle, Time: now, Holder: Holder{PoolKey: key, Feature: feature, User: who}})
}

// AutoRecycle recycles every named user that Recycle would accept now (the
// DSLS "automatic recycling", run daily at 00:00 UTC by the daemon), in pool
// file order, then by user.
func (s *State) AutoRecycle(now time.Time) []Delta {
	now = now.Round(0)
	var ds []Delta
	for _, p := range s.ps.pools {
		users := s.named[p.pool.Key]
		whos := make([]string, 0, len(users))
		for who, last := range users {
			if now.Sub(last) >= RecycleAge && !p.holds(who) {
				whos = append(whos, who)
			}
		}
		slices.Sort(whos)
		for _, who := range whos {
			ds = append(ds, s.recycle(p.pool.Key, p.pool.Name, who, now))
		}
	}
	return ds
}

// applyNamed replays a NamedUse or Recycle delta.
func (s *State) applyNamed(d Delta) error {
	if d.Holder.PoolKey == "" || d.Holder.User == "" {
		return fmt.Errorf("%w: %v without a pool or user", ErrDiverged, d.Kind)
	}
	if d.Kind == NamedUse {
		s.setNamed(d.Holder.PoolKey, d.Holder.User, d.Time)
		return nil
	}
	if _, ok := s.named[d.Holder.PoolKey][d.Holder.User]; !ok {
		return fmt.Errorf("%w: recycle of %q, no named user of pool %q", ErrDiverged, d.Holder.User, d.Holder.PoolKey)
	}
	delete(s.named[d.Holder.PoolKey], d.Holder.User)
	if len(s.named[d.Holder.PoolKey]) == 0 {
		delete(s.named, d.Holder.PoolKey)
	}
	return nil
}
