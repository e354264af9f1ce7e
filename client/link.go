package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"

	"github.com/lmtriad/lmtriad/wire"
)

// link is one connection to a vendor daemon. Requests are pipelined: a
// reader goroutine matches replies to requests in order, and notices at
// once when the server goes away, even while the program is idle.
type link struct {
	conn   net.Conn
	server string // port@host we are connected to
	vendor string // vendor daemon that answered the greeting

	wmu sync.Mutex // serializes writing a request with queueing its call
	w   *wire.Writer

	qmu   sync.Mutex
	queue []*call

	dead    chan struct{}
	deadErr error
	once    sync.Once

	// onRevoke is told of each REVOKED line (revoke.go); rmu guards the
	// licenses held over this link by handle, and the revocations that
	// came before their checkout's reply was taken up.
	onRevoke func(*License, error)
	rmu      sync.Mutex
	holding  map[uint64]*License
	revoked  map[uint64]error
	// waiting are the queued requests' waiters by handle (queue.go); early
	// the GRANTED lines that came before their -35 reply was taken up.
	waiting map[uint64]chan wire.Message
	early   map[uint64]wire.Message
}

type call struct {
	resp    wire.Message
	records []wire.Message
	err     error
	done    chan struct{}
}

// dialLink connects to addr and greets the vendor daemon behind it.
func (c *Client) dialLink(ctx context.Context, addr, feature string) (*link, wire.Message, error) {
	dctx, cancel := context.WithTimeout(ctx, c.opts.DialTimeout)
	defer cancel()
	conn, err := c.opts.Dial(dctx, "tcp", addr)
	if err != nil {
		return nil, wire.Message{}, wire.NewError(wire.CodeCantConnect, 570).WithDetail(wire.SysDetail(err))
	}
	l := &link{conn: conn, server: portAtHost(addr), w: wire.NewWriter(conn), dead: make(chan struct{}), onRevoke: c.revoked}
	go l.readLoop()
	hello := wire.New("HELLO", "proto", strconv.Itoa(wire.ProtocolVersion), "role", "client",
		"user", c.opts.User, "host", c.opts.Host, "display", c.opts.Display, "pid", strconv.Itoa(c.opts.PID),
		"notify", "revoked,granted")
	if c.opts.Vendor != "" {
		hello.Set("vendor", c.opts.Vendor)
	} else {
		hello.Set("feature", feature)
	}
	if c.hostIDs != "" {
		hello.Set("hostid", c.hostIDs)
	}
	if c.opts.Project != "" {
		hello.Set("project", c.opts.Project)
	}
	hctx, cancel2 := context.WithTimeout(ctx, c.opts.RequestTimeout)
	defer cancel2()
	resp, _, err := l.do(hctx, hello)
	if err != nil {
		l.close(err)
		return nil, resp, err
	}
	l.vendor = resp.Get("vendor")
	if l.vendor == "" {
		l.vendor = c.opts.Vendor // vendor= is optional in the reply (protocol §5)
	}
	return l, resp, nil
}

// do sends req and waits for its reply.
func (l *link) do(ctx context.Context, req wire.Message) (wire.Message, []wire.Message, error) {
	cl := &call{done: make(chan struct{})}
	l.wmu.Lock()
	// Checked under qmu: close marks the link dead before it takes qmu to
	// fail the queue, so a call queued here is either failed by close or
	// refused here, never left waiting.
	l.qmu.Lock()
	select {
	case <-l.dead:
		l.qmu.Unlock()
		l.wmu.Unlock()
		return wire.Message{}, nil, l.deadErr
	default:
	}
	l.queue = append(l.queue, cl)
	l.qmu.Unlock()
	err := l.w.WriteMessage(req)
	l.wmu.Unlock()
	if err != nil {
		l.close(wire.NewError(wire.CodeCantWrite, 1).WithDetail(wire.SysDetail(err)))
	}
	select {
	case <-cl.done:
		if cl.err != nil {
			return cl.resp, nil, cl.err
		}
		if e := wire.ErrorFromMessage(cl.resp); e != nil {
			return cl.resp, nil, e
		}
		return cl.resp, cl.records, nil
	case <-ctx.Done():
		// The reply may still come; it is read and dropped, keeping the
		// stream in step. A server that stopped answering is abandoned.
		l.close(wire.NewError(wire.CodeNoServResp, 1).WithDetail(ctx.Err().Error()))
		return wire.Message{}, nil, fmt.Errorf("%s: %w", req.Verb, ctx.Err())
	}
}

func (l *link) readLoop() {
	r := wire.NewReader(l.conn)
	for {
		resp, err := r.ReadMessage()
		if err != nil {
			l.close(wire.NewError(wire.CodeCantRead, 1).WithDetail(wire.SysDetail(err)))
			return
		}
		switch resp.Verb {
		case wire.VerbGranted:
			// Unsolicited: a queued request granted (queue.go).
			l.queueNews(resp)
			continue
		case wire.VerbRevoked:
			// Unsolicited: not the reply of any request. A queued
			// request's waiter takes it, else a held license's.
			if !l.queueNews(resp) {
				l.revoke(resp)
			}
			continue
		}
		var records []wire.Message
		if n, ok := resp.Lookup("records"); ok && resp.Verb == "OK" {
			count, err := strconv.Atoi(n)
			if err != nil || count < 0 || count > wire.MaxRecords {
				l.close(wire.NewError(wire.CodeBadComm, 1))
				return
			}
			records = make([]wire.Message, 0, count)
			for i := 0; i < count; i++ {
				rec, err := r.ReadMessage()
				if err != nil {
					l.close(wire.NewError(wire.CodeCantRead, 2).WithDetail(wire.SysDetail(err)))
					return
				}
				records = append(records, rec)
			}
		}
		l.qmu.Lock()
		if len(l.queue) == 0 {
			l.qmu.Unlock()
			l.close(wire.NewError(wire.CodeBadComm, 2).WithDetail("reply without a request"))
			return
		}
		cl := l.queue[0]
		l.queue = l.queue[1:]
		l.qmu.Unlock()
		cl.resp, cl.records = resp, records
		close(cl.done)
	}
}

// close ends the link once; every waiting call fails with err.
func (l *link) close(err error) {
	l.once.Do(func() {
		l.deadErr = err
		close(l.dead)
		l.conn.Close()
		l.qmu.Lock()
		q := l.queue
		l.queue = nil
		l.qmu.Unlock()
		for _, cl := range q {
			cl.err = err
			close(cl.done)
		}
	})
}

func (l *link) alive() bool {
	select {
	case <-l.dead:
		return false
	default:
		return true
	}
}

// isBusy reports a triad member that is not (or not yet) the master.
func isBusy(err error) bool {
	return errors.Is(err, wire.ErrServBusy) || errors.Is(err, wire.ErrBusyNewServ)
}
