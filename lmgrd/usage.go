package main

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"time"

	"github.com/lmtriad/lmtriad/stats"
	"github.com/lmtriad/lmtriad/wire"
)

// Usage statistics (package stats, docs/api.md "Usage statistics"): each
// member samples its vendor daemons every statsEvery and keeps, in
// stats.db of its state directory, per feature and minute the peak in use,
// the licenses issued and the denials; folded into hours and days as they
// age. lmutil lmreport reads them (STATS).

// statsEvery is how often a member samples its vendor daemons.
const statsEvery = 10 * time.Second

// openStats opens the member's statistics file; nil (logged) when it
// cannot.
func (s *server) openStats() *stats.Store {
	var dir string
	if s.isTriad() {
		dir = s.tri.dir
	} else {
		d, err := stateDir(s.opts.StateDir, s.host, s.port)
		if err != nil {
			s.log.Warnf("Usage statistics not kept: %v", err)
			return nil
		}
		dir = d
	}
	st, err := stats.Open(filepath.Join(dir, "stats.db"), stats.Keep)
	if err != nil {
		s.log.Warnf("Usage statistics not kept: %v", err)
		return nil
	}
	return st
}

// runStats samples until ctx ends, then closes the store.
func (s *server) runStats(ctx context.Context, st *stats.Store) {
	defer st.Close()
	last := map[[3]string]uint64{} // vendor, feature, code -> denials counted so far
	every := s.opts.StatsEvery
	if every <= 0 {
		every = statsEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	lastFold := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		var rows []stats.Row
		for _, vs := range s.vendorSnapshots() {
			if !vs.up {
				continue
			}
			denied := map[string]uint64{}
			for _, d := range denialsOf(vs.resp) {
				k := [3]string{vs.name, d.feature, strconv.Itoa(d.code)}
				delta := d.n - last[k]
				if d.n < last[k] { // the daemon restarted: its count began again
					delta = d.n
				}
				last[k] = d.n
				denied[d.feature] += delta
			}
			for _, r := range vs.records {
				if r.Verb != "FEATURE" {
					continue
				}
				used, _ := r.Int("inuse")
				issued, _ := r.Int("issued")
				rows = append(rows, stats.Row{Vendor: vs.name, Feature: r.Get("name"), Peak: used, Issued: issued, Denials: denied[r.Get("name")]})
			}
		}
		if err := st.Record(now, rows); err != nil {
			s.log.Warnf("Usage statistics: %v", err)
		}
		if now.Sub(lastFold) >= time.Hour {
			lastFold = now
			if err := st.Downsample(now); err != nil {
				s.log.Warnf("Usage statistics: %v", err)
			}
		}
	}
}

// statsStore is the open statistics file (nil: none).
func (s *server) statsStore() *stats.Store { return s.stats.Load() }

// maxStatsRows bounds one answer (STATS, GET /api/v1/stats): ask for a
// shorter period or a coarser resolution for more.
const maxStatsRows = 100_000

// errNoStats is the answer of a server that keeps no usage statistics.
var errNoStats = errors.New("this server keeps no usage statistics")

// queryStats is the rows of resolution res (minute, hour, day; "" all
// that are kept) in [from, to), the latest maxStatsRows of them. Any
// requester may ask: feature totals, no identities.
func (s *server) queryStats(res string, from, to time.Time) ([]stats.Row, error) {
	st := s.statsStore()
	if st == nil {
		return nil, errNoStats
	}
	rows, err := st.Query(res, from, to)
	if err != nil {
		return nil, err
	}
	if len(rows) > maxStatsRows {
		rows = rows[len(rows)-maxStatsRows:]
	}
	return rows, nil
}

// usageStats answers STATS res=minute|hour|day|"" from=UNIX to=UNIX.
func (s *server) usageStats(req wire.Message) (wire.Message, []wire.Message) {
	from, to := time.Unix(0, 0), time.Now().Add(time.Minute)
	// A bound that is there but not a number is refused rather than read
	// as "no bound": a report of the wrong period would look right.
	for _, b := range []struct {
		key string
		t   *time.Time
	}{{"from", &from}, {"to", &to}} {
		if _, ok := req.Lookup(b.key); !ok {
			continue
		}
		v, err := req.Int(b.key)
		if err != nil {
			return wire.NewError(wire.CodeBadComm, 51).WithDetail(err.Error()).Message(), nil
		}
		*b.t = time.Unix(int64(v), 0)
	}
	rows, err := s.queryStats(req.Get("res"), from, to)
	if errors.Is(err, errNoStats) {
		return wire.NewError(wire.CodeCantRead, 50).WithDetail(err.Error()).Message(), nil
	}
	if err != nil {
		return wire.NewError(wire.CodeBadComm, 50).WithDetail(err.Error()).Message(), nil
	}
	records := make([]wire.Message, 0, len(rows))
	for _, r := range rows {
		records = append(records, wire.New("ROW", "time", strconv.FormatInt(r.Time.Unix(), 10), "vendor", r.Vendor,
			"feature", r.Feature, "peak", strconv.Itoa(r.Peak), "issued", strconv.Itoa(r.Issued),
			"denials", strconv.FormatUint(r.Denials, 10)))
	}
	return wire.OK("records", strconv.Itoa(len(records))), records
}
