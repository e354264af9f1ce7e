package main

import (
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

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

// reserve counts a new connection in if there is room for it below its
// cap; the caller uncounts it (d.clients.Add(-1)) once it is closed. A
// connection whose role is not known yet (the direct port's, before its
// greeting) may take the administrators' reserve here; admit, at its
// greeting, then holds a client to the client limit.
func (d *daemon) reserve(admin bool) bool {
	limit := d.connectionCap(admin)
	for {
		n := d.clients.Load()
		if n >= limit {
			return false
		}
		if d.clients.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// refuseTimeout bounds writing -106 to a connection refused at once: a new
// connection's send buffer is empty, so the write does not wait unless the
// system is out of memory.
const refuseTimeout = 100 * time.Millisecond

// refuse answers a connection that was not counted in with -106 and closes
// it, before the caller takes the next one.
func (d *daemon) refuse(c net.Conn) {
	_ = c.SetWriteDeadline(time.Now().Add(refuseTimeout))
	_ = wire.NewWriter(c).WriteMessage(wire.NewError(wire.CodeServerMaxedOut, 2).Message())
	c.Close()
	d.maxedOut()
}

// admit refuses a client over the connection limit with FlexLM's -106; an
// administrator may still use the reserve. The caller's own connection is
// already counted.
func (d *daemon) admit(admin bool) *wire.Error {
	if d.clients.Load() <= d.connectionCap(admin) {
		return nil
	}
	d.maxedOut()
	return wire.NewError(wire.CodeServerMaxedOut, 1)
}

// maxedOutLogEvery spaces the warnings of a daemon at its limit: a burst of
// refused clients is one line, not one per client.
const maxedOutLogEvery = 5 * time.Second

func (d *daemon) maxedOut() {
	if ok, more := d.refusals.Allow(time.Now(), maxedOutLogEvery); ok {
		l := d.log
		if more > 0 {
			l = l.WithField("refused_since_last_warning", more)
		}
		l.Warn("Warning: Maximum connections to the server has reached. Please disconnect some clients from the server")
	}
}
