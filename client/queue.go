package client

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/lmtriad/lmtriad/wire"
)

// CheckoutQueued checks out count licenses of feature at version or later,
// waiting in the server's queue (FlexLM's LM_CO_QUEUE) when they are all in
// use: the server answers -35 with a handle, keeps the request in a FIFO
// queue per feature, and sends a GRANTED line once it is granted (protocol
// §7). It returns when granted, when the server refuses (a denial other
// than lack of free licenses, or the request dropped because it can no
// longer be granted: a *wire.Error), or when ctx ends: the queued request
// is then cancelled (a CHECKIN of its handle) and the error wraps
// ctx.Err(). Options.OnQueued is told each handle the request waits under.
//
// The connection is heartbeated while it waits. If the connection is lost
// (a server restart, a triad failover), the request is sent again with its
// handle and secret: a server that still has it queued keeps its place, one
// that granted it meanwhile gives it (a reattach), any other queues it anew
// at the tail (with a new handle, told to OnQueued).
func (c *Client) CheckoutQueued(ctx context.Context, feature, version string, count int) (*License, error) {
	if count <= 0 {
		count = 1
	}
	lic := &License{c: c, Feature: feature, Version: version, Count: count, events: make(chan Event, 16), queue: true}
	ok := false
	defer func() {
		if !ok {
			cancelQueued(c, lic)
		}
	}()
	var told uint64
	for {
		err := c.checkout(ctx, lic)
		if err != nil {
			if ctx.Err() != nil {
				return nil, withCtxErr(ctx, err)
			}
			if !retryable(err) {
				return nil, err
			}
			select {
			case <-ctx.Done():
				return nil, withCtxErr(ctx, err)
			case <-time.After(c.opts.RetryInterval):
			}
			continue
		}
		lic.mu.Lock()
		held, handle, l, ch := lic.held, lic.handle, lic.link, lic.grant
		lic.mu.Unlock()
		if held {
			break
		}
		if handle != told && c.opts.OnQueued != nil {
			c.opts.OnQueued(feature, handle)
		}
		told = handle
		select {
		case m := <-ch:
			if m.Verb != wire.VerbGranted {
				return nil, revokedError(m)
			}
			if err := grantedBy(l, lic, m); err != nil {
				return nil, err
			}
		case <-l.dead:
			l.unawait(handle)
			continue // sent again with its handle
		case <-ctx.Done():
			return nil, fmt.Errorf("client: queued for %s (handle %d): %w", feature, handle, ctx.Err())
		}
		if lic.Held() {
			break
		}
	}
	ok = true
	c.mu.Lock()
	c.licenses[lic] = struct{}{}
	c.mu.Unlock()
	return lic, nil
}

// cancelQueued withdraws the request of a CheckoutQueued that gives up,
// whenever it gives up (waiting, or sending the request again after a
// reconnect): a CHECKIN of the handle it was last queued under, on the
// connection that queued it, frees it whether it is still queued or was
// granted a moment ago. A connection that is gone took it with it.
func cancelQueued(c *Client, lic *License) {
	lic.mu.Lock()
	handle, l := lic.handle, lic.link
	lic.mu.Unlock()
	if handle == 0 || l == nil {
		return
	}
	l.unawait(handle)
	if !l.alive() {
		return
	}
	cctx, cancel := context.WithTimeout(context.Background(), c.opts.RequestTimeout)
	defer cancel()
	_, _, _ = l.do(cctx, wire.New("CHECKIN", "handle", strconv.FormatUint(handle, 10)))
}

// queuedOn records that the server queued lic under the handle and secret
// of the -35 reply resp, and starts waiting for its GRANTED line. The link
// is adopted (heartbeated) so that the queued request stays alive.
func (c *Client) queuedOn(l *link, lic *License, resp wire.Message) error {
	handle, err := resp.Uint64("handle")
	if err != nil {
		return wire.NewError(wire.CodeBadComm, 4).WithDetail(err.Error())
	}
	lic.mu.Lock()
	lic.handle, lic.secret, lic.server, lic.vendor, lic.link, lic.held = handle, resp.Get("secret"), l.server, l.vendor, l, false
	lic.grant = l.await(handle)
	lic.mu.Unlock()
	c.adopt(l, lic.Feature)
	return nil
}

// grantedBy takes up a GRANTED line m: lic is now held over l.
func grantedBy(l *link, lic *License, m wire.Message) error {
	lic.mu.Lock()
	lic.granted, lic.held = m.Get("version"), true
	if s := m.Get("secret"); s != "" {
		lic.secret = s
	}
	handle := lic.handle
	lic.mu.Unlock()
	if err := l.hold(handle, lic); err != nil {
		lic.mu.Lock()
		lic.held, lic.err = false, err
		lic.mu.Unlock()
		return err
	}
	return nil
}

// revokedError is the FlexLM error of a REVOKED line.
func revokedError(m wire.Message) error {
	m.Verb = wire.VerbErr
	if e := wire.ErrorFromMessage(m); e != nil {
		return e
	}
	return errors.New("client: queued checkout dropped by the server")
}

// await returns the channel on which the GRANTED (or REVOKED) line for
// queued handle comes; one that came already is in it.
func (l *link) await(handle uint64) chan wire.Message {
	ch := make(chan wire.Message, 1)
	l.rmu.Lock()
	defer l.rmu.Unlock()
	if m, ok := l.early[handle]; ok {
		delete(l.early, handle)
		ch <- m
		return ch
	}
	if l.waiting == nil {
		l.waiting = map[uint64]chan wire.Message{}
	}
	l.waiting[handle] = ch
	return ch
}

func (l *link) unawait(handle uint64) {
	l.rmu.Lock()
	defer l.rmu.Unlock()
	delete(l.waiting, handle)
	delete(l.early, handle)
}

// queueNews hands a GRANTED line, or a REVOKED line for a queued handle, to
// its waiter; it reports false for a REVOKED line of no queued request. A
// GRANTED or REVOKED reason=dequeued line that comes before the -35 reply
// was taken up is kept for await. It runs on the reader goroutine and never blocks.
func (l *link) queueNews(m wire.Message) bool {
	handle, err := strconv.ParseUint(m.Get("handle"), 10, 64)
	if err != nil {
		return m.Verb == wire.VerbGranted // nothing to match it with
	}
	l.rmu.Lock()
	defer l.rmu.Unlock()
	if ch, ok := l.waiting[handle]; ok {
		delete(l.waiting, handle)
		ch <- m
		return true
	}
	if m.Verb != wire.VerbGranted && m.Get("reason") != "dequeued" {
		return false // a held license's
	}
	if l.early == nil {
		l.early = map[uint64]wire.Message{}
	}
	l.early[handle] = m
	return true
}
