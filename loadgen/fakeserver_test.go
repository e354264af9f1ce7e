package main

import (
	"context"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/pool"
	"github.com/lmtriad/lmtriad/wire"
)

// fakeServer is a vendor daemon in miniature: wire.Serve per connection and
// one pool.State behind a mutex, as vendord has them, without lmgrd, the
// handoff or the debug log. Clients connect to it directly (port@host).
type fakeServer struct {
	ln      net.Listener
	mu      sync.Mutex
	pool    *pool.State
	nextID  atomic.Uint64
	wg      sync.WaitGroup
	cancel  context.CancelFunc
	connsMu sync.Mutex
	conns   map[net.Conn]struct{}
}

// startFake serves feature "bench" of vendor "demo" with count licenses on
// 127.0.0.1:0 until the test ends.
func startFake(tb testing.TB, count int) *fakeServer {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	pools := []licfile.Pool{{Key: "bench/1.0", Name: "bench", Vendor: "demo", Version: "1.0", Count: count}}
	ctx, cancel := context.WithCancel(context.Background())
	s := &fakeServer{ln: ln, cancel: cancel, conns: map[net.Conn]struct{}{},
		pool: pool.New(pools, pool.Options{HeartbeatTimeout: time.Hour})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.connsMu.Lock()
			s.conns[c] = struct{}{}
			s.connsMu.Unlock()
			sess := &fakeSession{s: s, id: s.nextID.Add(1)}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				wire.Serve(ctx, c, wire.ServeOptions{IdleTimeout: time.Minute}, sess)
				s.connsMu.Lock()
				delete(s.conns, c)
				s.connsMu.Unlock()
				s.mu.Lock()
				s.pool.CloseSession(sess.id, time.Now())
				s.mu.Unlock()
			}()
		}
	}()
	tb.Cleanup(s.close)
	return s
}

// server is the fake's address as port@host.
func (s *fakeServer) server() string {
	a := s.ln.Addr().(*net.TCPAddr)
	return strconv.Itoa(a.Port) + "@127.0.0.1"
}

func (s *fakeServer) close() {
	s.cancel()
	s.ln.Close()
	s.wg.Wait()
}

func (s *fakeServer) holders() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pool.Holders()
}

type fakeSession struct {
	s      *fakeServer
	id     uint64
	client pool.Client
}

func (f *fakeSession) Handle(req wire.Message) (wire.Message, []wire.Message, bool) {
	s := f.s
	now := time.Now()
	switch req.Verb {
	case "HELLO":
		if err := wire.CheckProto(req); err != nil {
			return wire.ErrorReply(err), nil, true
		}
		pid, _ := strconv.Atoi(req.Get("pid"))
		f.client = pool.Client{Session: f.id, User: req.Get("user"), Host: req.Get("host"), Display: req.Get("display"), PID: pid}
		return wire.OK("proto", "1", "server", "fake/0", "vendor", "demo", "host", "127.0.0.1"), nil, false
	case "CHECKOUT":
		count, _ := strconv.Atoi(req.Get("count"))
		s.mu.Lock()
		h, _, err := s.pool.Checkout(pool.CheckoutRequest{Client: f.client, Feature: req.Get("feature"), Version: req.Get("version"), Count: count}, now)
		s.mu.Unlock()
		if err != nil {
			return denial(err), nil, false
		}
		return wire.OK("handle", strconv.FormatUint(h.Handle, 10), "version", h.PoolVersion, "count", strconv.Itoa(h.Count)), nil, false
	case "CHECKIN":
		handle, err := req.Uint64("handle")
		if err != nil {
			return wire.NewError(wire.CodeBadComm, 6).Message(), nil, false
		}
		s.mu.Lock()
		_, err = s.pool.Checkin(f.id, handle, now)
		s.mu.Unlock()
		if err != nil {
			return denial(err), nil, false
		}
		return wire.OK(), nil, false
	case "HEARTBEAT":
		s.mu.Lock()
		s.pool.Heartbeat(f.id, now)
		s.mu.Unlock()
		return wire.OK(), nil, false
	case "STATUS":
		s.mu.Lock()
		st := s.pool.Status(req.Get("feature"))
		s.mu.Unlock()
		var recs []wire.Message
		for _, fs := range st {
			recs = append(recs, wire.New("FEATURE", "name", fs.Name, "issued", strconv.Itoa(fs.Issued), "inuse", strconv.Itoa(fs.InUse)))
		}
		return wire.OK(), recs, false
	}
	return wire.NewError(wire.CodeNoServSupp, 1).Message(), nil, false
}

func denial(err error) wire.Message {
	if d, ok := err.(*pool.Denial); ok {
		return wire.NewError(d.Code, 1).Message()
	}
	return wire.NewError(wire.CodeBadComm, 1).Message()
}
