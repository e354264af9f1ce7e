package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"

	"github.com/lmtriad/lmtriad/flexlog"
	"github.com/lmtriad/lmtriad/handoff"
	"github.com/lmtriad/lmtriad/wire"
)

// triadHarness runs the vendor daemons of one triad in-process, for vendor
// demo on 127.0.0.1-3, with the test playing lmgrd: one fake lmgrd per
// member on host:P reads a greeting and hands the connection to that
// member's daemon over its handoff channel, and the test sends the ROLE
// lines lmgrd's election would send.
//
// Between a peer and the daemon it reaches, the fake lmgrd keeps a small
// relay instead of handing over the peer's own socket: the daemon gets a
// socket whose remote address is still the dialing peer's IP (what
// checkPeer looks at), and the test can cut a link by closing the relay,
// which a handed-over socket would not allow (the daemon's copy keeps it
// open).
type triadHarness struct {
	t       *testing.T
	port    int // lmgrd port P, on each of the three hosts
	direct  int // each daemon's direct port, on its own host
	lic     string
	servers []string
	clock   *fakeClock
	members [3]*member
	wg      sync.WaitGroup // fake lmgrds and relays
}

// member is one triad member: its vendor daemon and its fake lmgrd.
type member struct {
	h    *triadHarness
	rank int
	ip   string
	log  *lockedBuffer // this run's log; a restart starts a new one

	mu     sync.Mutex
	ch     *handoff.Channel // lmgrd's end of the handoff channel
	cancel context.CancelFunc
	done   chan error // Run's result; nil when no daemon was started
	ln     net.Listener
	refuse map[string]bool // greeting roles the fake lmgrd drops ("replica", "fetch", "client")
	relays map[*relay]bool
}

const triadFeatures = "FEATURE f demo 1.0 permanent 3 SIGN=0\n"

// newTriad binds the fake lmgrds on a port free on all three hosts and
// writes the license file; no daemon runs yet.
func newTriad(t *testing.T) *triadHarness {
	t.Helper()
	h := &triadHarness{t: t, clock: &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}}
	// The fake lmgrds keep port P; the direct port is only probed, since
	// each daemon binds it itself (P is held, so the two differ).
	port, lns := listenOnAllHosts(t)
	direct, probes := listenOnAllHosts(t)
	for _, ln := range probes {
		ln.Close()
	}
	h.port, h.direct = port, direct
	for i := range h.members {
		ip := fmt.Sprintf("127.0.0.%d", i+1)
		h.servers = append(h.servers, net.JoinHostPort(ip, strconv.Itoa(h.port)))
		h.members[i] = &member{h: h, rank: i, ip: ip, ln: lns[i], refuse: map[string]bool{}, relays: map[*relay]bool{}}
	}
	var lic strings.Builder
	for _, s := range h.servers {
		host, port, _ := net.SplitHostPort(s)
		fmt.Fprintf(&lic, "SERVER %s ANY %s\n", host, port)
	}
	lic.WriteString("VENDOR demo\n" + triadFeatures)
	h.lic = filepath.Join(t.TempDir(), "triad.lic")
	require.NoError(t, os.WriteFile(h.lic, []byte(lic.String()), 0o644))
	for _, m := range h.members {
		m.serveLmgrd(m.ln)
	}
	t.Cleanup(h.close)
	return h
}

// listenOnAllHosts finds a port free on 127.0.0.1, .2 and .3 and holds it.
func listenOnAllHosts(t *testing.T) (int, [3]net.Listener) {
	t.Helper()
	for range 20 {
		var lns [3]net.Listener
		first, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		lns[0] = first
		port := first.Addr().(*net.TCPAddr).Port
		ok := true
		for i := 1; i < 3 && ok; i++ {
			lns[i], err = net.Listen("tcp", fmt.Sprintf("127.0.0.%d:%d", i+1, port))
			ok = err == nil
		}
		if ok {
			return port, lns
		}
		for _, ln := range lns {
			if ln != nil {
				ln.Close()
			}
		}
	}
	t.Fatal("no port free on 127.0.0.1-3")
	return 0, [3]net.Listener{}
}

// startAll starts the three daemons as standbys.
func (h *triadHarness) startAll() {
	for _, m := range h.members {
		m.start()
	}
}

// start runs a new, empty vendor daemon for this member (a first start or
// a restart after crash), reopening its fake lmgrd if it was closed.
func (m *member) start() {
	t := m.h.t
	t.Helper()
	parent, child, err := handoff.Pair()
	require.NoError(t, err)
	log := &lockedBuffer{}
	opts := NewOptions()
	opts.Vendor, opts.LicensePath, opts.DirectPort = "demo", m.h.lic, m.h.direct
	opts.ServerHost, opts.ServerPort = m.ip, m.h.port
	opts.Servers, opts.Rank = m.h.servers, m.rank
	opts.Serving = false
	opts.Handoff = child
	logger := flexlog.New(log, "demo")
	logger.SetLevel(logrus.DebugLevel)
	opts.Logger = logger
	opts.Now = m.h.clock.Now
	opts.ExpireEvery = 20 * time.Millisecond
	opts.HeartbeatTimeout = time.Minute
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)

	m.mu.Lock()
	m.ch, m.cancel, m.done, m.log = parent, cancel, done, log
	reopen := m.ln == nil
	m.mu.Unlock()
	go func() { done <- Run(ctx, opts) }()
	require.Eventually(t, func() bool { return strings.Contains(log.String(), "Listening on direct port") },
		5*time.Second, 5*time.Millisecond, "member %d did not start:\n%s", m.rank, log)
	if reopen {
		ln, err := net.Listen("tcp", net.JoinHostPort(m.ip, strconv.Itoa(m.h.port)))
		require.NoError(t, err)
		m.mu.Lock()
		m.ln = ln
		m.mu.Unlock()
		m.serveLmgrd(ln)
	}
}

// crash takes the whole member away: its fake lmgrd stops listening and
// its links are cut, lmgrd's end of the handoff channel closes, and the
// daemon's context is cancelled. It waits for Run to return.
func (m *member) crash() {
	m.mu.Lock()
	ln, ch := m.ln, m.ch
	m.ln, m.ch = nil, nil
	m.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	m.cutLinks()
	if ch != nil {
		ch.Close()
	}
	m.stop()
}

// stop cancels the daemon's context (a graceful shutdown: SIGTERM) and
// waits for Run to return; the fake lmgrd stays.
func (m *member) stop() {
	t := m.h.t
	m.mu.Lock()
	cancel, done := m.cancel, m.done
	m.cancel, m.done = nil, nil
	m.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("member %d: Run: %v", m.rank, err)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("member %d: vendor daemon did not stop", m.rank)
	}
}

// lmgrdGone closes lmgrd's end of the handoff channel only, as when lmgrd
// dies, and waits for the daemon to notice and stop.
func (m *member) lmgrdGone() {
	m.mu.Lock()
	ch := m.ch
	m.ch = nil
	m.mu.Unlock()
	if ch != nil {
		ch.Close()
	}
	m.mu.Lock()
	cancel, done := m.cancel, m.done
	m.cancel, m.done = nil, nil
	m.mu.Unlock()
	if done == nil {
		return
	}
	defer cancel()
	select {
	case err := <-done:
		if err != nil {
			m.h.t.Errorf("member %d: Run: %v", m.rank, err)
		}
	case <-time.After(10 * time.Second):
		m.h.t.Errorf("member %d: vendor daemon kept running after lmgrd went away", m.rank)
	}
}

// isolate makes the member unreachable for greetings of these roles (all
// when none are given) and cuts the links that reach it.
func (m *member) isolate(roles ...string) {
	if len(roles) == 0 {
		roles = []string{"replica", "fetch", "client", "admin"}
	}
	m.mu.Lock()
	for _, r := range roles {
		m.refuse[r] = true
	}
	m.mu.Unlock()
	m.cutLinks()
}

// heal makes the member reachable again.
func (m *member) heal() {
	m.mu.Lock()
	clear(m.refuse)
	m.mu.Unlock()
}

func (m *member) cutLinks() {
	m.mu.Lock()
	relays := make([]*relay, 0, len(m.relays))
	for r := range m.relays {
		relays = append(relays, r)
	}
	m.mu.Unlock()
	for _, r := range relays {
		r.close()
	}
}

func (m *member) logText() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.log == nil {
		return ""
	}
	return m.log.String()
}

// send sends a control line to the daemon, as lmgrd does.
func (m *member) send(line string) {
	m.h.t.Helper()
	m.mu.Lock()
	ch := m.ch
	m.mu.Unlock()
	require.NotNil(m.h.t, ch, "member %d is down", m.rank)
	require.NoError(m.h.t, ch.Send([]byte(line), nil))
}

func (h *triadHarness) close() {
	for _, m := range h.members {
		m.crash()
	}
	h.wg.Wait()
	if h.t.Failed() {
		for _, m := range h.members {
			h.t.Logf("member %d log:\n%s", m.rank, m.logText())
		}
	}
}

// promote plays lmgrd's election result: member i is the master (with a
// lease of an hour), every other running member is a standby pointing to it.
// It waits for member i to log its takeover.
func (h *triadHarness) promote(i int) {
	h.t.Helper()
	m := h.members[i]
	before := strings.Count(m.logText(), "Took over as master")
	for _, o := range h.members {
		if o != m && o.running() {
			o.send(fmt.Sprintf("ROLE serving=0 code=-20 master=%d@%s", h.port, m.ip))
		}
	}
	m.send(fmt.Sprintf("ROLE serving=1 lease=%d", handoff.BootTimeNow()+int64(time.Hour)))
	require.Eventually(h.t, func() bool { return strings.Count(m.logText(), "Took over as master") > before },
		10*time.Second, 5*time.Millisecond, "member %d did not take over", i)
}

func (m *member) running() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.done != nil && m.ch != nil
}

// serveLmgrd is the fake lmgrd on ln: it reads each connection's greeting
// byte by byte, as lmgrd's readGreeting does, and hands it over.
func (m *member) serveLmgrd(ln net.Listener) {
	m.h.wg.Add(1)
	go func() {
		defer m.h.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			m.h.wg.Add(1)
			go func() { defer m.h.wg.Done(); m.route(c) }()
		}
	}()
}

func (m *member) route(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := readLine(c)
	if err != nil {
		c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	hello, perr := wire.ParseMessage(line)
	role := hello.Get("role")
	if role == "" {
		role = "client"
	}
	m.mu.Lock()
	ch, refused := m.ch, perr != nil || m.refuse[role]
	m.mu.Unlock()
	if refused || ch == nil {
		c.Close()
		return
	}
	inner, outer, err := socketPair(c.RemoteAddr().(*net.TCPAddr).IP)
	if err != nil {
		m.h.t.Errorf("fake lmgrd %d: %v", m.rank, err)
		c.Close()
		return
	}
	err = ch.Send([]byte(line), inner.(*net.TCPConn))
	inner.Close() // the daemon holds its own copy now
	if err != nil {
		c.Close()
		outer.Close()
		return
	}
	m.relay(c, outer)
}

// readLine reads one line byte by byte, so that nothing after it is
// consumed: the rest belongs to the daemon.
func readLine(c net.Conn) (string, error) {
	var b strings.Builder
	buf := make([]byte, 1)
	for b.Len() <= wire.MaxLine {
		if _, err := c.Read(buf); err != nil {
			return "", err
		}
		if buf[0] == '\n' {
			return strings.TrimRight(b.String(), "\r"), nil
		}
		b.WriteByte(buf[0])
	}
	return "", wire.ErrLineTooLong
}

// socketPair returns the two ends of a new TCP connection on loopback whose
// dialing end (outer) is bound to ip: inner's remote address is ip.
func socketPair(ip net.IP) (inner, outer net.Conn, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	defer ln.Close()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 5 * time.Second}
	outer, err = d.Dial("tcp", ln.Addr().String())
	if err != nil {
		return nil, nil, err
	}
	inner, err = ln.Accept()
	if err != nil {
		outer.Close()
		return nil, nil, err
	}
	return inner, outer, nil
}

// relay copies between a dialing peer's connection and the relay end of
// the socket handed to the daemon; closing it cuts the link both ways.
type relay struct {
	a, b net.Conn
	once sync.Once
	m    *member
}

func (m *member) relay(a, b net.Conn) {
	r := &relay{a: a, b: b, m: m}
	m.mu.Lock()
	m.relays[r] = true
	m.mu.Unlock()
	m.h.wg.Add(2)
	go func() { defer m.h.wg.Done(); _, _ = io.Copy(b, a); r.close() }()
	go func() { defer m.h.wg.Done(); _, _ = io.Copy(a, b); r.close() }()
}

func (r *relay) close() {
	r.once.Do(func() {
		r.a.Close()
		r.b.Close()
		r.m.mu.Lock()
		delete(r.m.relays, r)
		r.m.mu.Unlock()
	})
}

// ident is a client's identity, as its HELLO gives it.
type ident struct {
	user, host, display string
	pid                 int
}

func identOf(user string) ident {
	return ident{user: user, host: "ws-" + user, display: ":0", pid: 1000 + len(user)}
}

// connect opens a client session on member i's direct port.
func (h *triadHarness) connect(i int, id ident) (*wire.Conn, error) {
	h.t.Helper()
	c, err := net.DialTimeout("tcp", net.JoinHostPort(h.members[i].ip, strconv.Itoa(h.direct)), 5*time.Second)
	if err != nil {
		return nil, err
	}
	wc := wire.NewConn(c)
	h.t.Cleanup(func() { wc.Close() })
	_, _, err = call(h.t, wc, "HELLO", "proto", "1", "vendor", "demo", "role", "client",
		"user", id.user, "host", id.host, "display", id.display, "pid", strconv.Itoa(id.pid))
	return wc, err
}

// client is connect that must succeed.
func (h *triadHarness) client(i int, id ident) *wire.Conn {
	h.t.Helper()
	wc, err := h.connect(i, id)
	require.NoError(h.t, err)
	return wc
}

// checkout checks out one f, reattaching to handle when it is not empty.
func checkout(t *testing.T, c *wire.Conn, handle string) (string, error) {
	t.Helper()
	kv := []string{"feature", "f"}
	if handle != "" {
		kv = append(kv, "handle", handle)
	}
	resp, _, err := call(t, c, "CHECKOUT", kv...)
	return resp.Get("handle"), err
}

// holderView is what a member's STATUS says about one holder, without the
// fields that name the answering server.
type holderView struct {
	Handle, User, Host, Display, Count, Start string
}

// table is a member's license table for f as its STATUS shows it.
type table struct {
	InUse   string
	Holders []holderView // in handle order
}

func (tb table) handles() []string {
	var hs []string
	for _, h := range tb.Holders {
		hs = append(hs, h.Handle)
	}
	return hs
}

// status reads member i's table through an admin session (served by
// standbys too). A member that cannot be asked gives an empty table.
func (h *triadHarness) status(i int) (table, error) {
	c, err := net.DialTimeout("tcp", net.JoinHostPort(h.members[i].ip, strconv.Itoa(h.direct)), 5*time.Second)
	if err != nil {
		return table{}, err
	}
	wc := wire.NewConn(c)
	defer wc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, _, err := wc.Call(ctx, wire.New("HELLO", "proto", "1", "vendor", "demo", "role", "admin", "user", "root", "host", "test")); err != nil {
		return table{}, err
	}
	_, recs, err := wc.Call(ctx, wire.New("STATUS", "feature", "f"))
	if err != nil {
		return table{}, err
	}
	var tb table
	for _, r := range recs {
		switch r.Verb {
		case "FEATURE":
			tb.InUse = r.Get("inuse")
		case "HOLDER":
			tb.Holders = append(tb.Holders, holderView{r.Get("handle"), r.Get("user"), r.Get("host"), r.Get("display"), r.Get("count"), r.Get("start")})
		}
	}
	if tb.InUse == "" {
		return tb, errors.New("STATUS without a FEATURE record")
	}
	slices.SortFunc(tb.Holders, func(a, b holderView) int {
		x, _ := strconv.ParseUint(a.Handle, 10, 64)
		y, _ := strconv.ParseUint(b.Handle, 10, 64)
		return int(x) - int(y)
	})
	return tb, nil
}

// mustStatus is status that must succeed.
func (h *triadHarness) mustStatus(i int) table {
	h.t.Helper()
	tb, err := h.status(i)
	require.NoError(h.t, err)
	return tb
}

// waitTable waits until member i's table equals want.
func (h *triadHarness) waitTable(i int, want table) {
	h.t.Helper()
	var got table
	require.Eventually(h.t, func() bool {
		tb, err := h.status(i)
		got = tb
		return err == nil && tb.InUse == want.InUse && slices.Equal(tb.Holders, want.Holders)
	}, 10*time.Second, 5*time.Millisecond, "member %d's table never became %+v (last %+v)", i, want, got)
}

// waitLog waits until member i's current log contains s.
func (h *triadHarness) waitLog(i int, s string) {
	h.t.Helper()
	m := h.members[i]
	require.Eventually(h.t, func() bool { return strings.Contains(m.logText(), s) },
		10*time.Second, 5*time.Millisecond, "member %d never logged %q", i, s)
}

// dialPeerAs opens a raw connection to member i's fake lmgrd from host
// 127.0.0.(from+1), as a peer's daemon would, and sends hello.
func (h *triadHarness) dialPeerAs(from, i int, hello wire.Message) (net.Conn, *wire.Reader, wire.Message, error) {
	h.t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(h.members[from].ip)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", h.servers[i])
	require.NoError(h.t, err)
	h.t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	require.NoError(h.t, wire.NewWriter(c).WriteMessage(hello))
	r := wire.NewReaderSize(c, replMaxLine)
	reply, err := r.ReadMessage()
	return c, r, reply, err
}

// peerHello is the greeting of rank's daemon for role, with kv added.
func (h *triadHarness) peerHello(role string, rank int, kv ...string) wire.Message {
	return wire.New("HELLO", append([]string{"proto", "1", "role", role, "vendor", "demo",
		"rank", strconv.Itoa(rank), "servers", strings.Join(h.servers, ",")}, kv...)...)
}
