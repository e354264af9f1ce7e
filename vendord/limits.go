package main

import (
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/lmtriad/lmtriad/wire"
)

// descriptorsKept is what the daemon needs besides client connections:
// listeners, the handoff channel, peer streams, log files.
const descriptorsKept = 64

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

// connectionBudget is how many client connections fit in limit descriptors.
func connectionBudget(limit uint64, adminReserve int) int {
	budget := int64(limit) - descriptorsKept - int64(adminReserve)
	if budget < 1 {
		return 1
	}
	return int(min(budget, 1<<30))
}

// admit refuses a client over the connection limit with FlexLM's -106; an
// administrator may still use the reserve. The caller's own connection is
// already counted.
func (d *daemon) admit(admin bool) *wire.Error {
	limit := int64(d.maxClients)
	if admin {
		limit += int64(d.opts.AdminReserve)
	}
	if d.clients.Load() <= limit {
		return nil
	}
	d.log.Warn("Warning: Maximum connections to the server has reached. Please disconnect some clients from the server")
	return wire.NewError(wire.CodeServerMaxedOut, 1)
}
