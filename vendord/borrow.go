package main

import (
	"strconv"
	"time"

	"github.com/lmtriad/lmtriad/wire"
)

// borrow answers BORROW feature= version= count= until=UNIXSECONDS: a
// checkout that outlives the connection until the given time (lmborrow).
// It answers as CHECKOUT does, plus until=; the triad commits it before
// the client is told.
func (s *session) borrow(req wire.Message) wire.Message {
	sec, err := strconv.ParseInt(req.Get("until"), 10, 64)
	if err != nil || sec <= 0 {
		return wire.NewError(wire.CodeBadComm, 9).WithDetail("BORROW needs until=UNIXSECONDS").Message()
	}
	return s.grant(req, time.Unix(sec, 0))
}

// giveBack answers RETURN handle= secret= feature=: a borrowed license
// given back before its end (lmborrow -return). The secret is the one the
// BORROW answered: only the borrower has it.
func (s *session) giveBack(req wire.Message) wire.Message {
	handle, err := req.Uint64("handle")
	if err != nil {
		return wire.NewError(wire.CodeBadComm, 10).Message()
	}
	d := s.d
	d.mu.Lock()
	if !d.mayChange() {
		d.mu.Unlock()
		return d.notServing(d.role.Load())
	}
	deltas, err := d.pool.Return(req.Get("feature"), handle, req.Get("secret"), d.now())
	d.queue(deltas)
	commit, seq := d.commit, d.pool.Seq()
	d.mu.Unlock()
	if err != nil {
		d.log.WithField("peer", remoteOf(s.conn)).Warnf(
			"Refused return of handle %d (%q) by %s@%s: not borrowed, or wrong secret", handle, req.Get("feature"), s.client.User, s.client.Host)
		return denialMessage(err)
	}
	d.logDeltas(deltas)
	if !d.committed(commit, seq) {
		return wire.NewError(wire.CodeBusyNewServ, 349).WithDetail("the triad did not commit the return").Message()
	}
	return wire.OK()
}
