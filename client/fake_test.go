package client

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"go.uber.org/goleak"

	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/pool"
	"github.com/lmtriad/lmtriad/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeConfig describes a fake vendor daemon.
type fakeConfig struct {
	// Pools are served by a real pool.State; nil serves feature "f" with
	// two licenses.
	Pools []licfile.Pool
	// KeepOnDrop keeps a connection's licenses when it ends, as a server
	// with linger, or a replica that took over from the master, does. A
	// client that reattaches without its handle then holds two licenses.
	KeepOnDrop bool
	// Hello, when set, answers HELLO instead of the usual OK when it
	// returns ok (the connection is then closed, as after a failed greeting).
	Hello func(req wire.Message) (resp wire.Message, ok bool)
	// NoVendor leaves the optional vendor= out of the HELLO reply.
	NoVendor bool
}

// fakeServer is an in-process vendor daemon on 127.0.0.1: wire.Serve in
// front of the real pool, recording every request it gets.
type fakeServer struct {
	t    *testing.T
	cfg  fakeConfig
	addr string // 127.0.0.1:port, kept across restart
	port int

	mu       sync.Mutex
	pool     *pool.State
	sessions uint64
	secrets  int // holder secrets given out
	reqs     []wire.Message
	conns    map[net.Conn]struct{}

	ln     net.Listener
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func defaultPools() []licfile.Pool {
	return []licfile.Pool{{Key: "k", Name: "f", Vendor: "demo", Version: "1.0", Count: 2}}
}

// startFake starts a fake vendor daemon; it stops when the test ends.
func startFake(t *testing.T, cfg fakeConfig) *fakeServer {
	t.Helper()
	if cfg.Pools == nil {
		cfg.Pools = defaultPools()
	}
	f := &fakeServer{t: t, cfg: cfg, pool: pool.New(cfg.Pools, pool.Options{}), conns: map[net.Conn]struct{}{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = ln.Addr().String()
	f.port = ln.Addr().(*net.TCPAddr).Port
	f.serve(ln)
	t.Cleanup(f.stop)
	return f
}

// portAtHost is the server's address in search-path form.
func (f *fakeServer) portAtHost() string { return strconv.Itoa(f.port) + "@127.0.0.1" }

func (f *fakeServer) serve(ln net.Listener) {
	ctx, cancel := context.WithCancel(context.Background())
	f.mu.Lock()
	f.ln, f.cancel = ln, cancel
	f.mu.Unlock()
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.sessions++
			sess := f.sessions
			f.conns[conn] = struct{}{}
			f.mu.Unlock()
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				_ = wire.Serve(ctx, conn, wire.ServeOptions{}, f.handler(sess))
				f.mu.Lock()
				delete(f.conns, conn)
				if !f.cfg.KeepOnDrop {
					f.pool.CloseSession(sess, time.Now())
				}
				f.mu.Unlock()
			}()
		}
	}()
}

func (f *fakeServer) handler(sess uint64) wire.Handler {
	var who pool.Client
	return wire.HandlerFunc(func(req wire.Message) (wire.Message, []wire.Message, bool) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.reqs = append(f.reqs, req.Clone())
		switch req.Verb {
		case "HELLO":
			if f.cfg.Hello != nil {
				if resp, ok := f.cfg.Hello(req); ok {
					return resp, nil, true
				}
			}
			pid, _ := strconv.Atoi(req.Get("pid"))
			who = pool.Client{Session: sess, User: req.Get("user"), Host: req.Get("host"), Display: req.Get("display"), PID: pid}
			resp := wire.OK("proto", "1", "server", "demo/test", "host", "127.0.0.1")
			if !f.cfg.NoVendor {
				resp.Set("vendor", "demo")
			}
			return resp, nil, false
		case "CHECKOUT":
			count, _ := req.Int("count")
			var handle uint64
			if req.Has("handle") {
				h, err := req.Uint64("handle")
				if err != nil {
					return wire.NewError(wire.CodeBadComm, 5).Message(), nil, false
				}
				handle = h
			}
			f.secrets++
			h, _, err := f.pool.Checkout(pool.CheckoutRequest{Client: who, Feature: req.Get("feature"),
				Version: req.Get("version"), Count: count, Handle: handle,
				Secret: req.Get("secret"), NewSecret: "secret" + strconv.Itoa(f.secrets)}, time.Now())
			if err != nil {
				return denial(err), nil, false
			}
			return wire.OK("handle", strconv.FormatUint(h.Handle, 10), "version", h.PoolVersion,
				"count", strconv.Itoa(h.Count), "expiry", "permanent", "secret", h.Secret), nil, false
		case "CHECKIN":
			h, err := req.Uint64("handle")
			if err != nil {
				return wire.NewError(wire.CodeBadComm, 6).Message(), nil, false
			}
			if _, err := f.pool.Checkin(sess, h, time.Now()); err != nil {
				return denial(err), nil, false
			}
			return wire.OK(), nil, false
		case "HEARTBEAT":
			f.pool.Heartbeat(sess, time.Now())
			return wire.OK(), nil, false
		case "BORROW":
			count, _ := req.Int("count")
			until, err := strconv.ParseInt(req.Get("until"), 10, 64)
			if err != nil {
				return wire.NewError(wire.CodeBadComm, 9).Message(), nil, false
			}
			f.secrets++
			h, _, err := f.pool.Borrow(pool.CheckoutRequest{Client: who, Feature: req.Get("feature"),
				Version: req.Get("version"), Count: count, NewSecret: "secret" + strconv.Itoa(f.secrets)}, time.Unix(until, 0), time.Now())
			if err != nil {
				return denial(err), nil, false
			}
			return wire.OK("handle", strconv.FormatUint(h.Handle, 10), "version", h.PoolVersion,
				"count", strconv.Itoa(h.Count), "secret", h.Secret, "until", strconv.FormatInt(h.BorrowUntil.Unix(), 10)), nil, false
		case "RETURN":
			h, err := req.Uint64("handle")
			if err != nil {
				return wire.NewError(wire.CodeBadComm, 10).Message(), nil, false
			}
			if _, err := f.pool.Return(req.Get("feature"), h, req.Get("secret"), time.Now()); err != nil {
				return denial(err), nil, false
			}
			return wire.OK(), nil, false
		}
		return wire.NewError(wire.CodeNoServSupp, 904).Message(), nil, false
	})
}

func denial(err error) wire.Message {
	var d *pool.Denial
	if errors.As(err, &d) {
		return wire.NewError(d.Code, 342).Message()
	}
	return wire.NewError(wire.CodeBadComm, 1).WithDetail(err.Error()).Message()
}

// requests returns the requests received with verb, in order.
func (f *fakeServer) requests(verb string) []wire.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []wire.Message
	for _, r := range f.reqs {
		if r.Verb == verb {
			out = append(out, r)
		}
	}
	return out
}

func (f *fakeServer) count(verb string) int { return len(f.requests(verb)) }

// holders is the number of license handles the pool holds.
func (f *fakeServer) holders() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pool.Holders()
}

// openConns is the number of client connections being served.
func (f *fakeServer) openConns() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.conns)
}

// holdFor checks a license out for another client, directly in the pool.
func (f *fakeServer) holdFor(user, feature string, count int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, _, err := f.pool.Checkout(pool.CheckoutRequest{Client: pool.Client{Session: 1 << 40, User: user},
		Feature: feature, Count: count}, time.Now()); err != nil {
		f.t.Fatalf("holdFor: %v", err)
	}
}

// reload replaces the served pools, as lmreread does.
func (f *fakeServer) reload(pools []licfile.Pool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pool.Reload(pools, time.Now())
}

// dropConns closes every client connection; the listener stays.
func (f *fakeServer) dropConns() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		c.Close()
	}
}

// stop closes the listener and every connection; restart listens again
// on the same port with the same pool.
func (f *fakeServer) stop() {
	f.mu.Lock()
	ln, cancel := f.ln, f.cancel
	f.ln, f.cancel = nil, nil
	f.mu.Unlock()
	if ln == nil {
		return
	}
	ln.Close()
	cancel()
	f.wg.Wait()
}

func (f *fakeServer) restart() {
	f.t.Helper()
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		f.t.Fatalf("listen again on %s: %v", f.addr, err)
	}
	f.serve(ln)
}

// silentServer accepts connections and reads requests but never answers,
// except HELLO when answerHello. closed is closed when the client has
// closed its connection.
type silentServer struct {
	addr   string
	closed chan struct{}
}

func startSilent(t *testing.T, answerHello bool) *silentServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &silentServer{addr: ln.Addr().String(), closed: make(chan struct{})}
	var wg sync.WaitGroup
	var conns []net.Conn
	var mu sync.Mutex
	wg.Add(1)
	go func() {
		defer wg.Done()
		conn, err := ln.Accept() // one connection is all these tests make
		if err != nil {
			return
		}
		mu.Lock()
		conns = append(conns, conn)
		mu.Unlock()
		defer close(s.closed)
		r := bufio.NewReader(conn)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if answerHello && strings.HasPrefix(line, "HELLO ") {
				conn.Write([]byte("OK proto=1 server=demo/test host=127.0.0.1 vendor=demo\n"))
			}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return s
}

func (s *silentServer) portAtHost() string {
	_, port, _ := net.SplitHostPort(s.addr)
	return port + "@127.0.0.1"
}

// closedPort is a port on 127.0.0.1 nobody listens on: connecting is
// refused at once.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return strconv.Itoa(port) + "@127.0.0.1"
}

// testOptions are client options with a fixed identity, no environment,
// no heartbeats to speak of and short retries.
func testOptions(t *testing.T, path string) Options {
	log := logrus.New()
	log.SetOutput(tWriter{t})
	log.SetLevel(logrus.DebugLevel)
	return Options{
		Vendor:            "demo",
		LicensePath:       path,
		Getenv:            func(string) string { return "" },
		User:              "alice",
		Host:              "ws42",
		Display:           ":0",
		PID:               4242,
		HeartbeatInterval: time.Hour,
		DialTimeout:       time.Second,
		RequestTimeout:    5 * time.Second,
		RetryInterval:     5 * time.Millisecond,
		Logger:            log,
	}
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// newClient returns a client closed when the test ends.
func newClient(t *testing.T, opts Options) *Client {
	t.Helper()
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func checkout(t *testing.T, c *Client, feature string, count int) *License {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	lic, err := c.Checkout(ctx, feature, "1.0", count)
	if err != nil {
		t.Fatalf("Checkout(%s): %v", feature, err)
	}
	return lic
}

// waitFor polls cond until it holds, failing the test after 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// nextEvent waits for lic's next event.
func nextEvent(t *testing.T, lic *License) Event {
	t.Helper()
	select {
	case ev, ok := <-lic.Events():
		if !ok {
			t.Fatal("Events closed, want an event")
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting for an event")
	}
	return Event{}
}
