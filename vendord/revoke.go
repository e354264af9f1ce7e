package main

import (
	"strconv"
	"time"

	"github.com/lmtriad/lmtriad/pool"
	"github.com/lmtriad/lmtriad/wire"
)

// revokeWriteTimeout bounds how long writing a REVOKED line may take: a
// client that does not read its connection is cut rather than allowed to
// hold a goroutine of the daemon.
const revokeWriteTimeout = 5 * time.Second

// Minor numbers of the REVOKED lines, one per reason (protocol §7).
const (
	minorRevokedRemoved = 601
	minorRevokedTimeout = 602
	minorRevokedReread  = 603
)

// revocation is the FlexLM error a client is told when the server frees a
// license it holds for r, and the reason= word; ok is false for the
// releases a client asked for or caused by going away (checkin, its
// connection closing), of which it needs no news.
func revocation(r pool.ReleaseReason) (e *wire.Error, reason string, ok bool) {
	switch r {
	case pool.Removed:
		// lmremove closes a FlexLM client's connection: the client
		// library reports that it cannot read from the server.
		return wire.NewError(wire.CodeCantRead, minorRevokedRemoved).WithDetail("license removed by lmremove"), "removed", true
	case pool.Timeout:
		return wire.NewError(wire.CodeCantRead, minorRevokedTimeout).WithDetail("license freed: no heartbeat within the server's timeout"), "timeout", true
	case pool.Reread:
		return wire.NewError(wire.CodeServerRemoved, minorRevokedReread).WithDetail("license freed: feature removed or lowered by lmreread"), "reread", true
	}
	return nil, "", false
}

// revokedMessage is the unsolicited line that tells a client license h is
// gone: REVOKED handle= feature= count= reason= code= minor= text= detail=.
func revokedMessage(h pool.Holder, r pool.ReleaseReason) (wire.Message, bool) {
	e, reason, ok := revocation(r)
	if !ok {
		return wire.Message{}, false
	}
	m := wire.New(wire.VerbRevoked, "handle", strconv.FormatUint(h.Handle, 10), "feature", h.Feature,
		"count", strconv.Itoa(h.Count), "reason", reason)
	m.Args = append(m.Args, e.Message().Args...)
	return m, true
}

// revoke tells the live clients among the holders deltas released, at
// once, over their own connections. Only deltas this daemon produced
// itself (as the lone server or a triad's master) are passed here: a
// standby applying its master's log says nothing.
func (d *daemon) revoke(deltas []pool.Delta) {
	for _, dl := range deltas {
		if dl.Kind != pool.Release {
			continue
		}
		m, ok := revokedMessage(dl.Holder, dl.Reason)
		if !ok {
			continue
		}
		s := d.session(dl.Holder.Session)
		if s == nil || !s.revokes {
			continue // its connection is gone already, or it would not understand
		}
		d.log.Infof("Telling %s@%s its %s license (handle %d) was revoked: %s",
			dl.Holder.User, dl.Holder.Host, dl.Holder.Feature, dl.Holder.Handle, m.Get("reason"))
		// Written from a goroutine of its own: the caller (an lmremove's
		// session, the expiry loop) does not wait on a slow client, and
		// the write waits only for a reply being written to finish.
		d.wg.Add(1)
		go func() { defer d.wg.Done(); s.notify(m) }()
	}
}

// notify writes an unsolicited line to the session's client, between two
// replies, never inside one. A client that cannot take it is disconnected.
func (s *session) notify(m wire.Message) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_ = s.conn.SetWriteDeadline(time.Now().Add(revokeWriteTimeout))
	err := wire.NewWriter(s.conn).WriteMessage(m)
	_ = s.conn.SetWriteDeadline(time.Time{})
	if err != nil {
		s.d.log.WithError(err).Warn("Cannot tell a client its license was revoked, closing its connection")
		s.conn.Close()
	}
}

func (d *daemon) addSession(s *session) {
	d.connsMu.Lock()
	defer d.connsMu.Unlock()
	if d.sessions == nil {
		d.sessions = map[uint64]*session{}
	}
	d.sessions[s.id] = s
}

func (d *daemon) dropSession(s *session) {
	d.connsMu.Lock()
	defer d.connsMu.Unlock()
	delete(d.sessions, s.id)
}

func (d *daemon) session(id uint64) *session {
	d.connsMu.Lock()
	defer d.connsMu.Unlock()
	return d.sessions[id]
}
