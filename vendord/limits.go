package main

import (
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/lmtriad/lmtriad/flexlog"
	"github.com/lmtriad/lmtriad/wire"
)

// A vendor daemon's descriptors are its own few, the client connections it
// counts (d.clients, at most maxClients+AdminReserve), and the connections
// on their way in that are not counted yet. The last are few because every
// connection is counted or refused before the next one comes in: the
// control loop receives one handed-off socket at a time and serve counts it
// (reserve) or answers it -106 and closes it (refuse) before receiving the
// next, however many lmgrd has queued on the channel (queued sockets are the
// kernel's, not this process's), and the direct port's accept loop does the
// same with what it accepts.
const (
	// descriptorsOwn are the daemon's own: stdio, the handoff channel, the
	// direct port's listener, the poller, license files during a reread,
	// and room for what the runtime and libraries open (a dozen in all
	// today).
	descriptorsOwn = 64
	// descriptorsInFlight are the uncounted connections on their way in:
	// a handed-off socket takes two while it is received (the one recvmsg
	// installs and net.FileConn's duplicate of it), an accept on the
	// direct port one. A refusal holds one of these until it is closed.
	descriptorsInFlight = 2 + 1
	// descriptorsKept is what the daemon keeps besides the connections it
	// counts.
	descriptorsKept = descriptorsOwn + descriptorsInFlight
)

// raiseFileLimit lifts the descriptor limit as far as the system allows
// (root may also raise the hard limit up to fs.nr_open), because every
// client connection is a descriptor. It returns the limit in force.
func raiseFileLimit() uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 1024
	}
	want := rl.Max
	if b, err := os.ReadFile("/proc/sys/fs/nr_open"); err == nil {
		if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil && n > want {
			want = n
		}
	}
	for _, lim := range []syscall.Rlimit{{Cur: want, Max: want}, {Cur: rl.Max, Max: rl.Max}} {
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
			return lim.Cur
		}
	}
	return rl.Cur
}

// connectionBudget is how many client connections fit in limit descriptors
// when adminReserve more are kept for administrators: what is left once
// descriptorsKept are set aside. So the daemon answers -106 at its limit
// and never runs out of descriptors, which would lose the connection being
// handed over (the kernel closes it) without an answer.
func connectionBudget(limit uint64, adminReserve int) int {
	budget := int64(min(limit, 1<<40)) - descriptorsKept - int64(adminReserve)
	if budget < 1 {
		return 1
	}
	return int(min(budget, 1<<30))
}

// connectionCap is how many connections a newcomer may find open and still
// be counted in: clients fill maxClients, administrators the reserve too.
func (d *daemon) connectionCap(admin bool) int64 {
	limit := int64(d.maxClients)
	if admin {
		limit += int64(d.opts.AdminReserve)
	}
	return limit
}

// reserve counts a new connection from c's peer in if there is room for
// it below its cap and below its host's share; the caller uncounts it with
// release(host) once it is closed. A connection whose role is not known yet
// (the direct port's, before its greeting) may take the administrators'
// reserve here; admit, at its greeting, then holds a client to the client
// limit and its host's share. When it is refused, reserve says why.
func (d *daemon) reserve(c net.Conn, admin bool) (host string, why refusal) {
	host = hostOf(c.RemoteAddr())
	limit := d.connectionCap(admin)
	// The host's count first: a refusal then never holds one of the
	// daemon's slots, not even for a moment.
	if !d.hosts.take(host, d.hostCap(admin)) {
		if d.clients.Load() >= limit {
			return host, refusedFull // the more general reason
		}
		return host, refusedHostShare
	}
	for {
		n := d.clients.Load()
		if n >= limit {
			d.hosts.release(host)
			return host, refusedFull
		}
		if d.clients.CompareAndSwap(n, n+1) {
			return host, admitted
		}
	}
}

// release uncounts a connection reserve counted in.
func (d *daemon) release(host string) {
	d.hosts.release(host)
	d.clients.Add(-1)
}

// refusal is why a connection was refused -106, or admitted.
type refusal int

const (
	admitted         refusal = iota
	refusedFull              // the daemon's connection limit
	refusedHostShare         // the peer's host holds its share already
)

// refuseTimeout bounds writing -106 to a connection refused at once: a new
// connection's send buffer is empty, so the write does not wait unless the
// system is out of memory.
const refuseTimeout = 100 * time.Millisecond

// refuse answers a connection that was not counted in with -106 and closes
// it, before the caller takes the next one.
func (d *daemon) refuse(c net.Conn, why refusal) {
	_ = c.SetWriteDeadline(time.Now().Add(refuseTimeout))
	_ = wire.NewWriter(c).WriteMessage(wire.NewError(wire.CodeServerMaxedOut, 2).Message())
	peer, host := remoteOf(c), hostOf(c.RemoteAddr())
	c.Close()
	d.maxedOut(peer, host, why)
}

// admit refuses a client over the connection limit, or whose host holds
// more than its share, with FlexLM's -106; an administrator may still use
// the reserve. The caller's own connection is already counted.
func (d *daemon) admit(c net.Conn, admin bool) *wire.Error {
	host := hostOf(c.RemoteAddr())
	why := admitted
	switch {
	case d.clients.Load() > d.connectionCap(admin):
		why = refusedFull
	case host != "" && int64(d.hosts.count(host)) > d.hostCap(admin):
		why = refusedHostShare
	default:
		return nil
	}
	d.maxedOut(remoteOf(c), host, why)
	return wire.NewError(wire.CodeServerMaxedOut, 1)
}

// maxedOutLogEvery spaces the warnings of a daemon at its limit: a burst of
// refused clients is one line, not one per client.
const maxedOutLogEvery = 5 * time.Second

// maxedOut logs a -106 refusal with the peer's address, at most one line
// per maxedOutLogEvery for each reason: a flood is a line now and then
// that counts the refusals held back.
func (d *daemon) maxedOut(peer, host string, why refusal) {
	now := time.Now()
	if why == refusedHostShare {
		if ok, more := d.hosts.refusals.Allow(now, maxedOutLogEvery); ok {
			d.log.WithFields(logrus.Fields{"peer": peer, "refused_since_last_warning": more}).Warnf(
				"Warning: host %s holds its share of %d client connections; refusing it more", host, d.hostCap(false))
		}
		return
	}
	if ok, more := d.refusals.Allow(now, maxedOutLogEvery); ok {
		l := d.log.WithField("peer", peer)
		if more > 0 {
			l = l.WithField("refused_since_last_warning", more)
		}
		l.Warn("Warning: Maximum connections to the server has reached. Please disconnect some clients from the server")
	}
}

// hostCap is how many connections one source address may hold: its share
// of the client connections (MaxConnectionsPerHost; by default half of
// them, at least one), and the administrators' reserve on top for an
// administrator. A negative MaxConnectionsPerHost means no share: the
// daemon's own cap.
func (d *daemon) hostCap(admin bool) int64 {
	share := int64(d.opts.MaxConnectionsPerHost)
	switch {
	case share < 0:
		return d.connectionCap(admin)
	case share == 0:
		share = max(int64(d.maxClients)/2, 1)
	}
	if admin {
		share += int64(d.opts.AdminReserve)
	}
	return share
}

// hostShares counts the connections open from each source address, so that
// one host cannot take every client slot: past its share it is refused -106
// while other hosts still get in.
type hostShares struct {
	mu       sync.Mutex
	open     map[string]int
	refusals flexlog.Throttle // the warnings of hosts refused past their share
	cuts     flexlog.Throttle // the warnings of slow senders cut
}

// take counts one more connection from host unless it has limit already.
// A connection without a host (not TCP) is not counted per host.
func (h *hostShares) take(host string, limit int64) bool {
	if host == "" {
		return true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if int64(h.open[host]) >= limit {
		return false
	}
	if h.open == nil {
		h.open = map[string]int{}
	}
	h.open[host]++
	return true
}

// release uncounts a connection take counted.
func (h *hostShares) release(host string) {
	if host == "" {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.open[host] <= 1 {
		delete(h.open, host) // the map holds only hosts connected now
		return
	}
	h.open[host]--
}

// count is how many connections host has open.
func (h *hostShares) count(host string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.open[host]
}

// hostOf is the source address a connection is counted under: the peer's
// IP (an IPv4-mapped IPv6 address as IPv4), or "" for a peer without one.
func hostOf(a net.Addr) string {
	var ip net.IP
	switch a := a.(type) {
	case *net.TCPAddr:
		ip = a.IP
	case *net.UDPAddr:
		ip = a.IP
	}
	if ip == nil {
		return ""
	}
	if v4 := ip.To4(); v4 != nil {
		ip = v4
	}
	return ip.String()
}

func remoteOf(c net.Conn) string {
	if a := c.RemoteAddr(); a != nil {
		return a.String()
	}
	return ""
}

// Deadlines for slow senders. A greeting on the direct port must be in
// full within greetingTimeout of the connect (lmgrd's own greeting timeout
// is the same), and any request line within lineTimeout of its first
// byte. A client idle between complete lines (heartbeating) is not
// concerned: only -heartbeat-timeout ends it.
const (
	greetingTimeout = 10 * time.Second
	lineTimeout     = 5 * time.Second
)

// cutSlow logs, rate-limited and with the peer's address, a connection
// closed because its greeting or a request line did not come in time.
func (d *daemon) cutSlow(c net.Conn, err error) {
	var what string
	switch {
	case errors.Is(err, wire.ErrGreetingTimeout):
		what = "greeting"
	case errors.Is(err, os.ErrDeadlineExceeded):
		what = "request line"
	default:
		return
	}
	if ok, more := d.hosts.cuts.Allow(time.Now(), maxedOutLogEvery); ok {
		d.log.WithFields(logrus.Fields{"peer": remoteOf(c), "cut_since_last_warning": more}).Warnf(
			"Closed a connection whose %s did not come in time", what)
	}
}
