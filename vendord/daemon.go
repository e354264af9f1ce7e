package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/lmtriad/lmtriad/flexlog"
	"github.com/lmtriad/lmtriad/handoff"
	"github.com/lmtriad/lmtriad/hostid"
	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/options"
	"github.com/lmtriad/lmtriad/pool"
	"github.com/lmtriad/lmtriad/vendorctl"
	"github.com/lmtriad/lmtriad/wire"
)

var errNoFeatures = errors.New("no features to serve")

func exitCode(err error) int {
	if errors.Is(err, errNoFeatures) {
		return vendorctl.ExitNoFeatures
	}
	return vendorctl.ExitError
}

// daemon is one running vendor daemon: the license pool behind a mutex,
// and the connections that use it.
type daemon struct {
	opts  Options
	log   logrus.FieldLogger
	now   func() time.Time
	lease func() int64 // the clock of lmgrd's lease deadlines

	mu    sync.Mutex // guards pool, pools, gen, ready and commit
	pool  *pool.State
	pools []licfile.Pool
	// packages are the names of this vendor's PACKAGE lines: a checkout of
	// one gets -125 when no pool has that name.
	packages map[string]bool
	// nextRecycle is when -auto-recycle next runs (recycle.go).
	nextRecycle time.Time
	// A triad member's daemon serves the table lmgrd hands it (generation
	// gen); ready once that table holds this vendor's pools. Every change it
	// makes goes through commit to the triad's log before a client hears of it.
	gen    uint64
	ready  bool
	commit *committer

	// master is set while this daemon grants licenses: at once for a lone
	// server, for a triad member while lmgrd says so and its table is ready.
	master atomic.Bool

	ctl         *vendorctl.Channel // nil when run without lmgrd
	role        atomic.Pointer[role]
	nextSession atomic.Uint64

	maxClients       int                             // client connections allowed; admins get AdminReserve more
	siteOptions      atomic.Pointer[options.Options] // the options file in force (nil: none)
	siteOptionsPath  string                          // its path, for the log (loadPolicy's own)
	skipped          atomic.Pointer[[]string]        // the lines the last load left out, for lmstat
	reports          reportLog                       // REPORTLOG
	counts           usageCounts                     // checkouts and denials since start (STATUS, lmgrd's /metrics)
	exitWhy          atomic.Value                    // string: why the daemon stops, when not a signal
	debugMu          sync.Mutex                      // guards the fields of the debug log below
	debugLog         *os.File                        // DEBUGLOG or lmswitch, when open
	debugFromOptions bool                            // debugLog is the options file's DEBUGLOG (not lmswitch's)
	debugLogPath     string
	logOut           io.Writer        // where the log went before DEBUGLOG
	clients          atomic.Int64     // client and admin connections open now (see reserve)
	refusals         flexlog.Throttle // the warnings of -106 answers
	hosts            hostShares       // connections open per source address

	connsMu sync.Mutex
	conns   map[net.Conn]bool // true: a client's (closed when this server steps down)
	// sessions are the live connections by session id, for telling a
	// client its license was revoked (revoke.go).
	sessions map[uint64]*session
	wg       sync.WaitGroup
	ctx      context.Context
	cancel   context.CancelFunc
}

// role is what lmgrd last said about this server's place in its triad.
type role struct {
	serving bool
	lease   int64  // lease clock ns after which serving lapses; 0: no lease (a lone server)
	code    int    // the FlexLM error a client gets when not serving (-20, -23)
	master  string // port@host of the master, for redirection
	gen     uint64 // the table generation lmgrd serves from
}

// Run serves until ctx is done, lmgrd goes away or a shutdown is requested.
func Run(ctx context.Context, opts Options) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	d := &daemon{opts: opts, log: opts.Logger, now: opts.Now, lease: opts.LeaseClock, conns: map[net.Conn]bool{}}
	if d.log == nil {
		d.log = logrus.StandardLogger()
	}
	d.log = d.log.WithField(flexlog.FieldDaemon, opts.Vendor)
	if d.now == nil {
		d.now = time.Now
	}
	if d.opts.Monotonic == nil {
		start := time.Now()
		d.opts.Monotonic = func() time.Duration { return time.Since(start) }
	}
	if d.lease == nil {
		d.lease = handoff.BootTimeNow
	}
	d.role.Store(&role{serving: !opts.Triad, code: wire.CodeServBusy})

	d.logSignaturePolicy()
	pools, policy, packages, err := d.loadPools()
	if err != nil {
		d.log.WithError(err).Error("Cannot read license file")
		return err
	}
	d.siteOptions.Store(policy)
	d.openReportLog()
	if len(pools) == 0 {
		d.log.Error("No features to serve, exiting")
		return errNoFeatures
	}
	d.pools, d.packages = pools, packages
	d.pool = pool.New(pools, d.poolOptions())
	d.maxClients = opts.MaxConnections
	if d.maxClients == 0 {
		d.maxClients = connectionBudget(raiseFileLimit(), opts.AdminReserve)
	}
	d.log.Infof("Accepting up to %d client connections (%d more for administrators)", d.maxClients, opts.AdminReserve)

	ctx, d.cancel = context.WithCancel(ctx)
	defer d.cancel()
	d.ctx = ctx
	// Sessions are named apart across daemons: after a failover the new
	// master holds the old master's holders, and a new client must never
	// get the session number of an old one.
	d.nextSession.Store(rand.Uint64() &^ (1<<32 - 1))
	if !opts.Triad {
		d.master.Store(true)
	}
	d.log.Infof("FlexNet-compatible vendor daemon %s started (pid %d)", wire.Version, os.Getpid())
	d.logServing(pools)

	if opts.Handoff != nil {
		ch, err := handoff.FromFile(opts.Handoff)
		opts.Handoff.Close()
		if err != nil {
			return err
		}
		d.ctl = vendorctl.New(ch)
		d.wg.Add(1)
		go func() { defer d.wg.Done(); d.control(ctx) }()
		// Closing the channel is what ends control's blocking Recv.
		go func() { <-ctx.Done(); d.ctl.Close() }()
	}
	if opts.DirectPort != 0 {
		ln, err := net.Listen("tcp", net.JoinHostPort(bindHost(opts.ServerHost, opts.Triad), fmt.Sprint(opts.DirectPort)))
		if err != nil {
			return fmt.Errorf("vendord %s: port %d: %w", opts.Vendor, opts.DirectPort, err)
		}
		d.log.Infof("Listening on direct port %d", opts.DirectPort)
		d.wg.Add(1)
		go func() { defer d.wg.Done(); d.accept(ctx, ln) }()
	}
	d.wg.Add(1)
	go func() { defer d.wg.Done(); d.expireLoop(ctx) }()
	d.wg.Add(1)
	go func() { defer d.wg.Done(); d.flushReports(ctx) }()
	d.wg.Add(1)
	go func() { defer d.wg.Done(); flexlog.WriteTimestamps(ctx, d.log, d.now) }()

	<-ctx.Done()
	d.log.Infof("Shutting down %s", opts.Vendor)
	d.master.Store(false) // from here on nothing changes the license table
	d.mu.Lock()
	if d.commit != nil {
		d.commit.fail()
	}
	d.mu.Unlock()
	d.closeAll()
	d.wg.Wait()
	if why, _ := d.exitWhy.Load().(string); why != "" {
		d.log.Info("EXITING: " + why)
	} else {
		d.log.Info("EXITING DUE TO SIGNAL 15") // SIGTERM (or SIGINT) from outside
	}
	return nil
}

func (d *daemon) poolOptions() pool.Options {
	return pool.Options{HeartbeatTimeout: d.opts.HeartbeatTimeout, Location: time.Local, Monotonic: d.opts.Monotonic,
		Policy: d.siteOptions.Load()}
}

// bindHost is the address to bind for a SERVER host: its IP, or the
// address of this machine its name resolves to (a triad on one machine
// shares a port), else every address.
func bindHost(host string, triad bool) string {
	if ip := net.ParseIP(host); ip != nil {
		return host
	}
	if triad {
		if ip := hostid.OwnAddress(host); ip != nil {
			return ip.String()
		}
	}
	return ""
}

// loadPools reads the license files and the options file. Like FlexLM,
// it serves what it can: a bad line (or an unreadable file among others)
// is left out and logged with its file:line, the rest is served; only
// when no file can be read at all is the load an error. What was left
// out is kept for lmstat (skippedLines).
func (d *daemon) loadPools() ([]licfile.Pool, *options.Options, map[string]bool, error) {
	files, err := licfile.Load(d.opts.LicensePath)
	var skipped []string
	if err != nil {
		var list licfile.ErrorList
		if !errors.As(err, &list) || len(files) == 0 {
			return nil, nil, nil, err
		}
		for _, e := range list {
			text := e.Error() + " (line ignored)"
			if e.Pos.Line == 0 {
				text = e.Pos.File + ": " + e.Msg + " (file ignored)"
			}
			d.log.Error(text)
			skipped = append(skipped, text)
		}
	}
	if err := d.verifySignatures(files, &skipped); err != nil {
		return nil, nil, nil, err
	}
	policy := d.loadPolicy(files, &skipped)
	d.skipped.Store(&skipped)
	all, excluded := licfile.Pools(files, d.now())
	for _, e := range excluded {
		d.log.Warnf("Ignored: %v", e)
	}
	var mine []licfile.Pool
	for _, p := range all {
		if p.Vendor == d.opts.Vendor {
			mine = append(mine, p)
		}
	}
	return mine, policy, licfile.PackageNames(files, d.opts.Vendor), nil
}

func (d *daemon) logServing(pools []licfile.Pool) {
	seen := map[string]bool{}
	for _, p := range pools {
		if !seen[p.Name] {
			seen[p.Name] = true
			d.log.Infof("Serving features for the following vendor: %s feature: %s", d.opts.Vendor, p.Name)
		}
	}
}

// control reads lmgrd's channel: handed-off client sockets and commands.
// Only the channel's end is lmgrd's death: a message that could not be
// received (a socket at the descriptor limit) loses that connection only.
func (d *daemon) control(ctx context.Context) {
	for {
		m, err := d.ctl.Recv()
		if errors.Is(err, vendorctl.ErrPeerClosed) {
			if ctx.Err() == nil {
				d.log.Info("lmgrd has gone away, shutting down")
				d.exitWhy.Store("lmgrd has gone away")
				d.cancel()
			}
			return
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			d.log.WithError(err).Warn("Lost one message from lmgrd (a client connection at the descriptor limit?)")
			continue
		}
		d.command(ctx, m)
	}
}

// command applies a message from lmgrd.
func (d *daemon) command(ctx context.Context, m vendorctl.Message) {
	switch m.Kind {
	case vendorctl.KindClient:
		first, err := wire.ParseMessage(m.Greeting)
		if err != nil {
			m.Conn.Close()
			return
		}
		d.serve(ctx, m.Conn, &first, hostid.AccessAnonymous)
	case vendorctl.KindAdmin:
		// An administrator who proved a password to lmgrd: the greeting
		// must be an admin's, the level one lmgrd knows.
		first, err := wire.ParseMessage(m.Greeting)
		level, lerr := hostid.ParseRemoteAdmin(m.Password)
		if err != nil || lerr != nil || m.Password == "" || first.Get("role") != "admin" {
			m.Conn.Close()
			return
		}
		d.serve(ctx, m.Conn, &first, level)
	case vendorctl.KindRole:
		d.setRole(m.Role)
	case vendorctl.KindTable:
		d.takeTable(m.Table)
	case vendorctl.KindCommitted:
		d.mu.Lock()
		if c := d.commit; c != nil && c.gen == m.Committed.Gen {
			c.ack(m.Committed.Seq)
		}
		d.mu.Unlock()
	case vendorctl.KindRejected:
		d.rejected(m.Rejected)
	case vendorctl.KindReread:
		d.reread()
	case vendorctl.KindShutdown:
		d.log.Info("SERVER shutdown requested")
		d.exitWhy.Store("shut down by lmgrd (lmdown, or lmgrd stopping)")
		d.cancel()
	default:
		d.log.Warnf("Unexpected %v message from lmgrd", m.Kind)
	}
}

func (d *daemon) reread() {
	pools, policy, packages, err := d.loadPools()
	if err != nil {
		d.log.WithError(err).Error("Reread failed, still serving the licenses read before")
		return
	}
	var deltas []pool.Delta
	d.mu.Lock()
	d.pools, d.packages = pools, packages
	d.siteOptions.Store(policy)
	d.openReportLog()
	if d.mayChange() { // a standby gets the master's Reload delta instead
		deltas = d.pool.Reload(pools, d.now())
		d.queue(deltas)
	}
	// Every member takes the options file itself (it is enrolled like the
	// license files): it changes what later checkouts get, frees nobody.
	d.pool.SetPolicy(policy, d.now())
	if d.mayChange() {
		// The new options file may let queued requests through, or refuse
		// them for good.
		served := d.pool.ServeQueues(d.now())
		d.queue(served)
		deltas = append(deltas, served...)
	}
	commit, seq := d.commit, d.pool.Seq()
	d.mu.Unlock()
	d.logDeltas(deltas)
	d.revoke(deltas)
	d.tellQueued(deltas, commit, seq)
	d.log.Info("Rereading license file: done")
	d.logServing(pools)
}

func (d *daemon) accept(ctx context.Context, ln net.Listener) {
	go func() { <-ctx.Done(); ln.Close() }()
	var (
		pause    time.Duration
		failures flexlog.Throttle
	)
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			// Out of descriptors (EMFILE, ENFILE) or the like: the
			// connection waits in the listen backlog. Try again soon,
			// after a short pause that keeps a failing loop cheap; the
			// licenses held are not concerned.
			if ok, more := failures.Allow(time.Now(), acceptLogEvery); ok {
				d.log.WithError(err).WithField("failures_since_last_warning", more).Warn("Accept failed")
			}
			pause = min(max(2*pause, acceptPauseMin), acceptPauseMax)
			select {
			case <-ctx.Done():
				return
			case <-time.After(pause):
			}
			continue
		}
		pause = 0
		d.serve(ctx, c, nil, hostid.AccessAnonymous)
	}
}

// The accept loop's pauses after a failure, doubling from min to max, and
// how often it says so.
const (
	acceptPauseMin = 5 * time.Millisecond
	acceptPauseMax = 50 * time.Millisecond
	acceptLogEvery = 5 * time.Second
)

// serve runs one client connection in its own goroutine. first is the
// greeting lmgrd already read, or nil on the direct port. A connection over
// the limit is answered -106 and closed here, before the caller takes the
// next one, so that connections on their way in never pile up past the
// descriptors kept for them (see limits.go).
func (d *daemon) serve(ctx context.Context, c net.Conn, first *wire.Message, password hostid.Access) {
	// On the direct port the role is not known before the greeting:
	// count the connection against the larger, administrators' cap, and
	// let admit hold a client to the client limit at its greeting.
	admin := first == nil || first.Get("role") == "admin"
	host, why := d.reserve(c, admin)
	if why != admitted {
		d.refuse(c, why)
		return
	}
	if !d.track(c, true) {
		c.Close()
		d.release(host)
		return
	}
	s := &session{d: d, id: d.nextSession.Add(1), conn: c, password: password}
	d.addSession(s)
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer d.release(host)
		defer d.untrack(c)
		err := wire.Serve(ctx, c, wire.ServeOptions{
			First: first,
			// A silent holder is freed by the expiry loop first, which
			// tells it (REVOKED reason=timeout) over this connection; only
			// then is the idle connection cut.
			IdleTimeout:     d.opts.HeartbeatTimeout + 2*d.opts.ExpireEvery,
			GreetingTimeout: greetingTimeout,
			ReadTimeout:     lineTimeout,
			WriteLock:       &s.wmu,
		}, s)
		d.dropSession(s)
		d.cutSlow(c, err)
		c.Close()
		var deltas []pool.Delta
		d.mu.Lock()
		// A client that went away frees its licenses; this daemon shutting
		// down does not: a triad's next master keeps them for the clients
		// to reattach.
		if d.mayChange() && ctx.Err() == nil {
			deltas = d.pool.CloseSession(s.id, d.now())
			d.queue(deltas)
		}
		commit, seq := d.commit, d.pool.Seq()
		d.mu.Unlock()
		d.logDeltas(deltas)
		d.tellQueued(deltas, commit, seq)
	}()
}

// queue hands deltas to the triad's log, if this is a triad's master.
// d.mu is held, so they are queued in Seq order.
func (d *daemon) queue(deltas []pool.Delta) {
	if d.commit != nil {
		d.commit.append(deltas)
	}
}

// closeClients disconnects every client; admins stay.
func (d *daemon) closeClients() {
	d.connsMu.Lock()
	defer d.connsMu.Unlock()
	for c, client := range d.conns {
		if client {
			c.Close()
		}
	}
}

func (d *daemon) track(c net.Conn, client bool) bool {
	d.connsMu.Lock()
	defer d.connsMu.Unlock()
	if d.conns == nil {
		return false
	}
	d.conns[c] = client
	return true
}

func (d *daemon) untrack(c net.Conn) {
	d.connsMu.Lock()
	defer d.connsMu.Unlock()
	delete(d.conns, c)
}

func (d *daemon) closeAll() {
	d.connsMu.Lock()
	defer d.connsMu.Unlock()
	for c := range d.conns {
		c.Close()
	}
	d.conns = nil
}

func (d *daemon) expireLoop(ctx context.Context) {
	t := time.NewTicker(d.opts.ExpireEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			var deltas, recycled []pool.Delta
			d.mu.Lock()
			now := d.now()
			if d.mayChange() { // a standby's holders are the master's to expire
				deltas = d.pool.Expire(now)
				d.queue(deltas)
			}
			recycled = d.autoRecycle(now)
			d.queue(recycled)
			commit, seq := d.commit, d.pool.Seq()
			d.mu.Unlock()
			d.logDeltas(deltas)
			d.revoke(deltas)
			d.tellQueued(deltas, commit, seq)
			d.logRecycled(recycled, " (automatic)")
		}
	}
}

// logDeltas writes FlexLM's OUT and IN lines for the changes of the pool.
// NOLOG IN / NOLOG OUT of the options file leave them out.
func (d *daemon) logDeltas(deltas []pool.Delta) {
	d.reports.write(reportEventsOf(deltas)...)
	site := d.siteOptions.Load()
	for _, dl := range deltas {
		h := dl.Holder
		f := logrus.Fields{
			flexlog.FieldFeature: h.Feature,
			flexlog.FieldUser:    h.User,
			flexlog.FieldHost:    h.Host,
			flexlog.FieldCount:   h.Count,
		}
		switch dl.Kind {
		case pool.Grant:
			if site.NoLog(options.LogOut) {
				continue
			}
			f[flexlog.FieldEvent] = flexlog.EventOut
		case pool.Release:
			if site.NoLog(options.LogIn) {
				continue
			}
			f[flexlog.FieldEvent] = flexlog.EventIn
			if r := releaseNote(dl.Reason); r != "" {
				f[flexlog.FieldReason] = r
			}
		case pool.Enqueue, pool.Dequeue:
			d.logQueue(dl, site)
			continue
		default:
			continue
		}
		d.log.WithFields(f).Info("usage")
	}
}

func releaseNote(r pool.ReleaseReason) string {
	switch r {
	case pool.Checkin:
		return ""
	case pool.SessionClosed:
		return "client exited"
	case pool.Timeout:
		return "INACTIVE"
	case pool.Removed:
		return "REMOVED"
	case pool.Reread:
		return "feature removed during lmreread"
	}
	return r.String()
}

// grants reports whether this daemon may grant licenses now: lmgrd says it
// is the master, and the lease lmgrd last renewed has not run out, even if
// lmgrd has stopped talking.
func (d *daemon) grants(r *role) bool {
	return r.serving && (r.lease == 0 || d.lease() < r.lease)
}

// mayChange reports whether this daemon may change the license table: it is
// the master and its lease has not run out. A deposed master that has not
// heard so yet must not free or grant anything the new master will not know.
func (d *daemon) mayChange() bool {
	return d.master.Load() && d.grants(d.role.Load())
}
