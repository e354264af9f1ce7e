package main

import (
	"errors"
	"time"

	"github.com/lmtriad/lmtriad/pool"
	"github.com/lmtriad/lmtriad/wire"
)

// recycle answers RECYCLE feature= user= (lmutil lmrecycle): a full
// administrator frees the seat of a named user of a USER_BASED (HOST_BASED:
// user= is the host) feature who holds no license and was last used 30 days
// ago or more (pool.Recycle). Refusals: -41 for no such named user, -64
// (lmremove request before the minimum lmremove interval, FlexLM's nearest
// code) for one in use or used too recently, with a detail naming the
// last-used date.
func (s *session) recycle(req wire.Message) wire.Message {
	if err := s.authorise("RECYCLE", false); err != nil {
		return err.Message()
	}
	d := s.d
	feature, user := req.Get("feature"), req.Get("user")
	if feature == "" || user == "" {
		return wire.NewError(wire.CodeBadComm, 9).WithDetail("RECYCLE needs feature= and user=").Message()
	}
	d.mu.Lock()
	if !d.mayChange() {
		d.mu.Unlock()
		return d.notServing(d.role.Load())
	}
	deltas, err := d.pool.Recycle(feature, user, d.now())
	d.queue(deltas)
	d.mu.Unlock()
	if err != nil {
		code := wire.CodeRemoveTooSoon
		if errors.Is(err, pool.ErrNotNamed) {
			code = wire.CodeNeverCheckout
		}
		d.log.Warnf("RECYCLE of %s refused: %v", user, err)
		return wire.NewError(code, 1).WithDetail(err.Error()).Message()
	}
	d.logRecycled(deltas, "")
	return wire.OK("recycled", user)
}

func (d *daemon) logRecycled(deltas []pool.Delta, how string) {
	for _, dl := range deltas {
		if dl.Kind == pool.Recycle {
			d.log.Infof("RECYCLED%s named user %s of %s", how, dl.Holder.User, dl.Holder.Feature)
		}
	}
}

// nextMidnightUTC is the first 00:00 UTC strictly after t.
func nextMidnightUTC(t time.Time) time.Time {
	y, m, day := t.UTC().Date()
	return time.Date(y, m, day+1, 0, 0, 0, 0, time.UTC)
}

// autoRecycle runs pool.AutoRecycle when -auto-recycle is on and the clock
// has passed the next 00:00 UTC since the last run (or the daemon's start:
// a daemon down at 00:00 waits for the next one, as DSLS does). Only the
// master recycles; its Recycle deltas reach the other members through the
// log. The caller holds d.mu.
func (d *daemon) autoRecycle(now time.Time) []pool.Delta {
	if !d.opts.AutoRecycle {
		return nil
	}
	if d.nextRecycle.IsZero() {
		d.nextRecycle = nextMidnightUTC(now)
		return nil
	}
	if now.Before(d.nextRecycle) {
		return nil
	}
	d.nextRecycle = nextMidnightUTC(now)
	if !d.mayChange() {
		return nil
	}
	return d.pool.AutoRecycle(now)
}
