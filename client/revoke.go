package client

import (
	"strconv"

	"github.com/lmtriad/lmtriad/wire"
)

// revoke takes up a REVOKED line (protocol §7): the server freed license
// handle= held over this link. It runs on the reader goroutine, before
// reply matching, and never blocks.
func (l *link) revoke(m wire.Message) {
	handle, err := strconv.ParseUint(m.Get("handle"), 10, 64)
	if err != nil {
		return // nothing to match it with
	}
	e := m
	e.Verb = wire.VerbErr
	werr := wire.ErrorFromMessage(e)
	if werr == nil || werr.Code == wire.CodeBadComm && werr.Minor == wire.MinorBadReply {
		werr = wire.NewError(wire.CodeCantRead, 1).WithDetail("license revoked by the server")
	}
	l.rmu.Lock()
	lic := l.holding[handle]
	delete(l.holding, handle)
	if lic == nil {
		// The checkout's reply has not been taken up yet (or the license
		// is gone already): hold is told when it is.
		if l.revoked == nil {
			l.revoked = map[uint64]error{}
		}
		l.revoked[handle] = werr
	}
	l.rmu.Unlock()
	if lic != nil && l.onRevoke != nil {
		l.onRevoke(lic, werr)
	}
}

// hold records lic as held over l under handle, or returns the error of a
// revocation that came before.
func (l *link) hold(handle uint64, lic *License) error {
	l.rmu.Lock()
	defer l.rmu.Unlock()
	if err, ok := l.revoked[handle]; ok {
		delete(l.revoked, handle)
		return err
	}
	if l.holding == nil {
		l.holding = map[uint64]*License{}
	}
	l.holding[handle] = lic
	return nil
}

// revoked marks lic lost for err, for good: it is no longer held, is not
// checked out again after a reconnect, and a Revoked event says so.
func (c *Client) revoked(lic *License, err error) {
	lic.mu.Lock()
	if lic.done || lic.err != nil {
		lic.mu.Unlock()
		return
	}
	lic.held, lic.err = false, err
	lic.mu.Unlock()
	c.mu.Lock()
	delete(c.licenses, lic)
	c.mu.Unlock()
	c.opts.Logger.WithError(err).WithField("feature", lic.Feature).Warn("license revoked by the server")
	lic.emit(Event{Kind: Revoked, Err: err})
}

// Err is the FlexLM error (a *wire.Error) the server gave when it revoked
// the license, or nil while it has not.
func (l *License) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}
