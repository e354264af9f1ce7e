package pool

import (
	"cmp"
	"slices"
	"time"

	"github.com/lmtriad/lmtriad/licfile"
)

var zeroTime time.Time

// FeatureStatus is the usage of one feature name, for lmstat.
type FeatureStatus struct {
	Name      string
	Issued    int          // sum of the counted pools' Count (OVERDRAFT not included)
	InUse     int          // licenses consumed, all pools
	Uncounted bool         // every pool of the name is uncounted
	Pools     []PoolStatus // in license-file order
	// Queued are the requests waiting for the feature, head first (Start:
	// when queued; no pool).
	Queued []Holder
}

// PoolStatus is the usage of one pool.
type PoolStatus struct {
	Pool    licfile.Pool
	InUse   int      // licenses consumed (DUP_GROUP sharers count once), lingering ones included
	Holders []Holder // by Start, then Handle; lingering ones have LingerUntil set
	// Reservations are the RESERVE lines selecting the pool, in file order.
	Reservations []ReservationStatus
}

// Status reports the usage of feature, or of every feature sorted by name
// when feature is "". An unknown feature gives nil.
func (s *State) Status(feature string) []FeatureStatus {
	if feature != "" {
		f := s.ps.byName[feature]
		if f == nil {
			return nil
		}
		fs := f.status()
		fs.Queued = s.queuedStatus(feature)
		return []FeatureStatus{fs}
	}
	out := make([]FeatureStatus, 0, len(s.ps.names))
	for _, n := range s.ps.names {
		fs := s.ps.byName[n].status()
		fs.Queued = s.queuedStatus(n)
		out = append(out, fs)
	}
	return out
}

func (f *feature) status() FeatureStatus {
	fs := FeatureStatus{Name: f.name, Uncounted: true, Pools: make([]PoolStatus, 0, len(f.byFile))}
	for _, p := range f.byFile {
		if !p.pool.Uncounted {
			fs.Uncounted = false
			fs.Issued += p.pool.Count
		}
		fs.InUse += p.inUse
		ps := PoolStatus{Pool: p.pool, InUse: p.inUse, Reservations: p.reservationStatus()}
		if p.nHolders > 0 {
			ps.Holders = make([]Holder, p.nHolders)
			i := 0
			for h := p.head; h != nil; h = h.poolNext {
				ps.Holders[i] = h.export()
				i++
			}
			// Usually already in order (holders join at the tail), which
			// the sort detects in linear time.
			slices.SortFunc(ps.Holders, func(a, b Holder) int {
				if c := a.Start.Compare(b.Start); c != 0 {
					return c
				}
				return cmp.Compare(a.Handle, b.Handle)
			})
		}
		fs.Pools = append(fs.Pools, ps)
	}
	return fs
}
