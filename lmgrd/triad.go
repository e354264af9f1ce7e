package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lmtriad/lmtriad/handoff"
	"github.com/lmtriad/lmtriad/hostid"
	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/quorum"
	"github.com/lmtriad/lmtriad/wire"
)

// triad drives this server's quorum.Node from a real clock and TCP links to
// the two peers, and tells the vendor daemons whether to serve.
type triad struct {
	s      *server
	timing quorum.Timing
	start  int64 // handoff.BootTimeNow at start: ticks count suspended time too

	mu   sync.Mutex // guards node
	node *quorum.Node

	inbox chan quorum.Message
	out   [quorum.Size]chan quorum.Message // per peer; nil for self
}

// peerQueue is how many messages may wait for a slow peer link; older
// heartbeats are worthless, so a full queue drops.
const peerQueue = 64

func newTriad(s *server, files []*licfile.File) (*triad, error) {
	first := s.servers[0]
	timing := quorum.FastTiming()
	if first.HeartbeatInterval > 0 {
		timing = quorum.FlexLMTiming(first.HeartbeatInterval)
	}
	var hosts [quorum.Size]string
	for i, sv := range s.servers {
		hosts[i] = sv.Host
	}
	start := time.Now()
	node, err := quorum.New(quorum.Config{
		Self:            s.self,
		Hosts:           hosts,
		PrimaryIsMaster: first.PrimaryIsMaster,
		Timing:          timing,
		ServerDigest:    quorum.Digest(serverList(s.servers)),
		LicenseDigest:   licenseDigest(files, start),
		Incarnation:     uint64(start.UnixNano()),
	})
	if err != nil {
		return nil, fmt.Errorf("triad: %w", err)
	}
	t := &triad{s: s, timing: timing, start: handoff.BootTimeNow(), node: node, inbox: make(chan quorum.Message, 256)}
	for i := range s.servers {
		if i != s.self {
			t.out[i] = make(chan quorum.Message, peerQueue)
		}
	}
	return t, nil
}

// serverList is the SERVER lines as host:port in file order: what peers
// must agree on to be members of one triad.
func serverList(servers []licfile.Server) string {
	parts := make([]string, len(servers))
	for i, sv := range servers {
		port := sv.Port
		if port == 0 {
			port = licfile.DefaultPort
		}
		parts[i] = net.JoinHostPort(sv.Host, strconv.Itoa(port))
	}
	return strings.Join(parts, ",")
}

// licenseDigest summarizes the licenses served: every pool's key and count.
// Members that would serve different licenses must not form a quorum.
func licenseDigest(files []*licfile.File, now time.Time) string {
	pools, _ := licfile.Pools(files, now)
	parts := make([]string, 0, len(pools))
	for _, p := range pools {
		parts = append(parts, p.Key+"="+strconv.Itoa(p.Count))
	}
	return quorum.Digest(parts...)
}

func (t *triad) run(ctx context.Context) {
	for i, ch := range t.out {
		if ch != nil {
			t.s.wg.Add(1)
			go func() { defer t.s.wg.Done(); t.dialPeer(ctx, i, ch) }()
		}
	}
	ticker := time.NewTicker(t.timing.Tick)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			t.mu.Lock()
			t.catchUp()
		case m := <-t.inbox:
			t.mu.Lock()
			t.catchUp()
			if err := t.node.Step(m); err != nil {
				t.s.log.WithError(err).Warnf("Bad message from %s", t.s.servers[m.From].Host)
			}
		}
		rd := t.node.Ready()
		st := t.node.Status()
		t.mu.Unlock()
		t.apply(rd, st)
	}
}

// catchUp runs the ticks owed since start, so a stalled (or suspended)
// process acts on the time that really passed. t.mu is held.
func (t *triad) catchUp() {
	want := (handoff.BootTimeNow() - t.start) / int64(t.timing.Tick)
	for t.node.Now() < want {
		t.node.Tick()
	}
}

// apply tells the vendor daemons what to do first (stop serving before
// anything else), then logs, then sends.
func (t *triad) apply(rd quorum.Ready, st quorum.Status) {
	t.s.setRole(t.roleMessage(st))
	for _, e := range rd.Events {
		if e.Detail != "" {
			t.s.log.WithField("detail", e.Detail).Info(e.Text)
		} else {
			t.s.log.Info(e.Text)
		}
	}
	for _, m := range rd.Messages {
		ch := t.out[m.To]
		if ch == nil {
			continue
		}
		select {
		case ch <- m:
		default: // the link is stuck; heartbeats are resent anyway
		}
	}
}

// roleMessage is the ROLE control line for the vendor daemons: serving with
// a lease deadline on the machine's boot-time clock, or the error clients
// get and the master to try instead.
func (t *triad) roleMessage(st quorum.Status) wire.Message {
	if st.Serving {
		lease := handoff.BootTimeNow() + st.LeaseLeft*int64(t.timing.Tick)
		var live []string
		for r, up := range st.Live {
			if up {
				live = append(live, strconv.Itoa(r))
			}
		}
		return wire.New("ROLE", "serving", "1", "lease", strconv.FormatInt(lease, 10), "live", strings.Join(live, ","))
	}
	m := wire.New("ROLE", "serving", "0")
	switch st.Role {
	case quorum.RoleMaster:
		m.Set("code", strconv.Itoa(wire.CodeBusyNewServ))
	case quorum.RoleStandby:
		m.Set("code", strconv.Itoa(wire.CodeServBusy))
		if st.Master >= 0 {
			m.Set("master", t.s.portAtHost(st.Master))
		}
	default:
		m.Set("code", strconv.Itoa(wire.CodeServBusy))
	}
	return m
}

func (t *triad) setLicenseDigest(d string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.node.Config().LicenseDigest != d {
		t.s.log.Info("Licenses changed: peers must reread the same license file to stay in the quorum")
		t.node.SetLicenseDigest(d)
	}
}

func (t *triad) status() quorum.Status {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.catchUp()
	return t.node.Status()
}

// dialPeer keeps a connection to peer rank open and writes this server's
// messages to it. Messages queued while it is down are dropped.
func (t *triad) dialPeer(ctx context.Context, rank int, out chan quorum.Message) {
	backoff := 100 * time.Millisecond
	addr := net.JoinHostPort(t.s.servers[rank].Host, strconv.Itoa(t.s.portOf(rank)))
	for ctx.Err() == nil {
		conn, err := t.connectPeer(ctx, addr)
		if err != nil {
			drain(out)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		t.writePeer(ctx, conn, out)
		conn.Close()
	}
}

func (t *triad) connectPeer(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	// Dial from our own SERVER host, so the peer can check who we are.
	if ip := net.ParseIP(t.s.host); ip != nil {
		d.LocalAddr = &net.TCPAddr{IP: ip}
	}
	hello := wire.Hello("role", "peer", "rank", strconv.Itoa(t.s.self), "servers", serverList(t.s.servers))
	c, _, err := wire.Dial(ctx, &d, addr, hello, 2*time.Second)
	if err != nil {
		if !errors.Is(err, wire.ErrCantConnect) {
			t.s.log.WithError(err).Warnf("Peer %s refused this server", addr)
		}
		return nil, err
	}
	return c.Raw(), nil
}

func (t *triad) writePeer(ctx context.Context, conn net.Conn, out chan quorum.Message) {
	w := bufio.NewWriter(conn)
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-out:
			_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
			w.WriteString(strings.Join(m.Fields(), " "))
			w.WriteByte('\n')
			if err := w.Flush(); err != nil {
				return
			}
		}
	}
}

func drain(ch chan quorum.Message) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// servePeer reads a peer's messages after checking that it is a member of
// this triad: the same SERVER lines, and for IP hosts, connecting from the
// address of the SERVER line it claims.
func (t *triad) servePeer(c net.Conn, hello wire.Message) {
	defer c.Close()
	if theirs, ours := hello.Get("servers"), serverList(t.s.servers); theirs != ours {
		t.s.log.WithField("ours", ours).WithField("theirs", theirs).Error("License File SERVER line order mismatch.")
		t.s.reject(c, wire.NewError(wire.CodeNotLicAdmin, 31).WithDetail("SERVER lines differ: ours "+ours+", yours "+theirs))
		return
	}
	rank, err := hello.Int("rank")
	if err != nil || rank < 0 || rank >= len(t.s.servers) || rank == t.s.self {
		t.s.reject(c, wire.NewError(wire.CodeNotLicAdmin, 30).WithDetail("bad peer rank"))
		return
	}
	peer := t.s.servers[rank].Host
	if ra, ok := c.RemoteAddr().(*net.TCPAddr); ok && !hostid.IsHost(ra.IP, peer) {
		t.s.log.Warnf("Refused peer claiming to be %s from %s", peer, ra.IP)
		t.s.reject(c, wire.NewError(wire.CodeNotLicAdmin, 32).WithDetail("not connecting from "+peer))
		return
	}
	_ = c.SetDeadline(time.Time{})
	if err := wire.NewWriter(c).WriteMessage(wire.OK("proto", strconv.Itoa(wire.ProtocolVersion), "rank", strconv.Itoa(t.s.self))); err != nil {
		return
	}
	go func() { <-t.s.ctx.Done(); c.Close() }()
	r := wire.NewReader(c)
	timeout := time.Duration(t.timing.PeerTimeoutTicks) * t.timing.Tick * 3
	for {
		_ = c.SetReadDeadline(time.Now().Add(timeout))
		line, err := r.ReadLine()
		if err != nil {
			return
		}
		m, err := quorum.MessageFromFields(strings.Fields(line))
		if err != nil {
			t.s.log.WithError(err).Warnf("Bad message from peer %s", peer)
			continue
		}
		m.From = rank // who sent it is what the connection proved, not what it says
		select {
		case t.inbox <- m:
		case <-t.s.ctx.Done():
			return
		}
	}
}
