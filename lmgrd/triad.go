package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lmtriad/lmtriad/clusterkey"
	"github.com/lmtriad/lmtriad/enrol"
	"github.com/lmtriad/lmtriad/flexlog"
	"github.com/lmtriad/lmtriad/handoff"
	"github.com/lmtriad/lmtriad/hostid"
	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/pool"
	"github.com/lmtriad/lmtriad/quorum"
	"github.com/lmtriad/lmtriad/table"
	"github.com/lmtriad/lmtriad/vendorctl"
	"github.com/lmtriad/lmtriad/wire"
)

// compactEvery is how many applied entries pass between snapshots of the
// license tables; compactKeep entries stay in the log behind a snapshot
// for a member that is only a little behind.
const (
	compactEvery = 10000
	compactKeep  = 5000
)

// triad runs this member's raft node (package quorum) on the real clock and
// the TLS transport, keeps the committed license tables (package table),
// and feeds the vendor daemons: when this member becomes master, each
// daemon gets the committed table and serves from it; each change a
// daemon makes goes into the log, and the daemon answers its client once
// lmgrd reports it committed.
//
// Only the run goroutine touches node and tables.
type triad struct {
	s      *server
	timing quorum.Timing
	clock  func() int64 // CLOCK_BOOTTIME ns: ticks count suspended time too
	start  int64

	node   *quorum.Node
	store  *quorum.BoltStorage
	tables *table.Tables
	tr     *quorum.TLSTransport
	dir    string // the state directory
	key    *clusterkey.Key

	// enrolled is the set of enrolled license files (package enrol), the
	// other half of the replicated state; enrolDirty marks a change the
	// enroller has not been given yet.
	enrolled   *enrol.Set
	enrolDirty bool
	enroller   *enroller
	enrolProps chan []byte

	props chan proposal
	wake  chan struct{}

	mu     sync.Mutex // guards status
	status quorum.Status

	genSeq   uint64 // table generations: unique per member (see nextGen)
	lastSnap uint64
	badStep  flexlog.Throttle // log lines of peers' bad messages
	notReady flexlog.Throttle // log lines of a log that cannot be stored

	state *memberState // the locked state directory (state.go)

	// shown is tables for other goroutines (lmdown's borrowed count): the
	// run goroutine stores it whenever it replaces tables, which are safe
	// for concurrent reads.
	shown atomic.Pointer[table.Tables]
	stuck *stuckLog // the raft log could not be written (state.go); nil when it can
}

type proposal struct {
	v *vendorProc
	p vendorctl.Propose
}

func newTriad(s *server, files []*licfile.File, key *clusterkey.Key, clock func() int64) (*triad, error) {
	first := s.servers[0]
	timing := quorum.FastTiming()
	if first.HeartbeatInterval > 0 {
		timing = quorum.FlexLMTiming(first.HeartbeatInterval)
	}
	var hosts, addrs [quorum.Size]string
	for i, sv := range s.servers {
		hosts[i] = sv.Host
		addrs[i] = net.JoinHostPort(sv.Host, strconv.Itoa(s.portOf(i)))
	}
	dir, err := stateDir(s.opts.StateDir, s.host, s.port)
	if err != nil {
		return nil, err
	}
	// openState locks dir, checks the log before trusting it and moves a
	// damaged one aside (state.go).
	var tables *table.Tables
	var enrolled *enrol.Set
	ms, err := openState(s.log, dir, s.opts.NoFsync, func(data []byte) (err error) {
		tables, enrolled = table.New(tablePoolOptions(s)), enrol.NewSet()
		if len(data) > 0 {
			tables, enrolled, err = decodeState(data, tablePoolOptions(s))
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	store := ms.store
	if s.opts.NoFsync {
		s.log.Warnf("Triad state in %s, written without fsync (-no-fsync): a power cut of two members at once loses their latest grants", dir)
	} else {
		s.log.Infof("Triad state in %s", dir)
	}
	node, err := quorum.New(quorum.Config{
		Self:            s.self,
		Hosts:           hosts,
		PrimaryIsMaster: first.PrimaryIsMaster,
		Timing:          timing,
		ServerDigest:    quorum.Digest(serverList(s.servers)),
		LicenseDigest:   enrolled.Digest(), // members converge by enrolment; peers show it
		Forwardable:     enrol.IsEntry,     // license file changes reach the log from any member
		MaxClockSkew:    s.opts.MaxClockSkew,
		Rebuilt:         ms.rebuilding, // its log was lost or damaged: no vote until caught up
	}, store)
	if err != nil {
		ms.Close()
		return nil, fmt.Errorf("triad: %w", err)
	}
	tr := quorum.NewTLSTransport(quorum.TLSConfig{Self: s.self, Hosts: hosts, Addrs: addrs, Key: key, Log: s.log,
		LocalIP: s.localIP(), ReadTimeout: 4 * time.Duration(timing.ElectionTicks) * timing.Tick})
	t := &triad{s: s, timing: timing, clock: clock, start: clock(), node: node, store: store, tr: tr,
		tables: tables, props: make(chan proposal, 4096), wake: make(chan struct{}, 1),
		genSeq: uint64(time.Now().UnixNano()) &^ 3, lastSnap: ms.snap, state: ms,
		dir: dir, key: key, enrolled: enrolled, enrolProps: make(chan []byte, 16)}
	t.status = node.Status()
	t.shown.Store(tables)
	t.watchRebuild() // state.go: says when a lost or damaged log is rebuilt
	t.enroller = newEnroller(t, s.opts.LicensePath)
	t.enroller.setServers(files)
	t.enroller.published(enrolled.Clone())
	return t, nil
}

// stateDir is where this member keeps its raft log: -state, else
// /var/lib/lmtriad (root) or $XDG_STATE_HOME/lmtriad (~/.local/state/lmtriad),
// in a directory per SERVER host and port so that members sharing a
// machine never share a log.
// localIP is the address links to peers are dialled from: the one the
// listener is bound to (nil: any).
func (s *server) localIP() net.IP {
	if s.opts.BindAny {
		return nil
	}
	return hostid.OwnAddress(s.host)
}

func stateDir(dir, host string, port int) (string, error) {
	dir, err := stateDirPath(dir, host, port)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("state directory: %w", err)
	}
	return dir, nil
}

// stateDirPath is stateDir without creating it.
func stateDirPath(dir, host string, port int) (string, error) {
	if dir == "" {
		base := "/var/lib/lmtriad"
		if os.Geteuid() != 0 {
			state := os.Getenv("XDG_STATE_HOME")
			if state == "" {
				home, err := os.UserHomeDir()
				if err != nil {
					return "", fmt.Errorf("no -state directory and no home directory: %w", err)
				}
				state = filepath.Join(home, ".local", "state")
			}
			base = filepath.Join(state, "lmtriad")
		}
		dir = filepath.Join(base, host+"-"+strconv.Itoa(port))
	}
	return dir, nil
}

func tablePoolOptions(s *server) pool.Options {
	return pool.Options{HeartbeatTimeout: s.opts.ClientHeartbeatTimeout, Location: time.Local}
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

// poke makes the run loop look at the vendor daemons again (one started).
func (t *triad) poke() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// propose queues a vendor daemon's proposal for the run loop; false once
// lmgrd is stopping.
func (t *triad) propose(v *vendorProc, p vendorctl.Propose) bool {
	select {
	case t.props <- proposal{v, p}:
		return true
	case <-t.s.ctx.Done():
		return false
	}
}

func (t *triad) run(ctx context.Context) {
	defer t.store.Close()
	defer t.tr.Close()
	ticker := time.NewTicker(t.timing.Tick)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			t.catchUp()
		case <-t.wake:
		case data := <-t.enrolProps:
			t.catchUp()
			t.forwardEnrol(data)
		case e := <-t.tr.Recv():
			t.catchUp()
			t.step(e)
			// Take what else has arrived before acting: one Ready for a burst.
			for more := true; more; {
				select {
				case e := <-t.tr.Recv():
					t.step(e)
				default:
					more = false
				}
			}
		case p := <-t.props:
			t.catchUp()
			t.proposeOne(p)
			for more := true; more; {
				select {
				case p := <-t.props:
					t.proposeOne(p)
				default:
					more = false
				}
			}
		}
		t.cycle()
	}
}

// catchUp runs the ticks owed since start, so a stalled (or suspended)
// process acts on the time that really passed.
func (t *triad) catchUp() {
	t.node.SetWallClock(t.wallClock().UnixMilli())
	want := (t.clock() - t.start) / int64(t.timing.Tick)
	for t.node.Now() < want {
		t.node.Tick()
	}
}

func (t *triad) step(e quorum.Envelope) {
	if err := t.node.Step(e); err != nil {
		if ok, _ := t.badStep.Allow(time.Now(), 10*time.Second); ok {
			t.s.log.Warnf("Bad message from triad peer %s: %v", t.s.servers[e.From].Host, err)
		}
	}
}

// proposeOne puts a daemon's changes into the log, or tells it they will
// not be: it is not the master's, or of a table generation since replaced.
func (t *triad) proposeOne(p proposal) {
	p.v.mu.Lock()
	gen, ctl := p.v.gen, p.v.ctl
	p.v.mu.Unlock()
	if ctl == nil || gen == 0 || p.p.Gen != gen {
		return // a daemon that has gone, or a generation it has left behind
	}
	err := t.node.Propose(p.p.Entry)
	if err == nil {
		return
	}
	t.reject(p.v, gen, err.Error())
}

// reject tells the daemon its generation's changes will not be committed;
// it gets the committed table again when this member serves.
func (t *triad) reject(v *vendorProc, gen uint64, why string) {
	v.mu.Lock()
	out := v.out
	if v.gen == gen {
		v.gen = 0
	}
	v.mu.Unlock()
	if out != nil {
		out.push(outMsg{rejected: &vendorctl.Rejected{Gen: gen, Reason: why}})
	}
}

// cycle acts on the node's output: stop serving first, then send, apply,
// and last start serving.
func (t *triad) cycle() {
	rd, err := t.node.Ready()
	if err != nil {
		t.feed(t.node.Status(), false) // not serving
		if t.storageFailed(err) {
			return // state.go: the log cannot be written; a new node once it can
		}
		if ok, _ := t.notReady.Allow(time.Now(), 10*time.Second); ok {
			t.s.log.Errorf("Triad: not serving: %v", err)
		}
		return
	}
	t.feed(t.node.Status(), false)
	for _, e := range rd.Messages {
		t.tr.Send(e)
	}
	if rd.Snapshot != nil {
		t.restore(rd.Snapshot.Data)
	}
	for _, e := range rd.CommittedEntries {
		if enrol.IsEntry(e.Data) {
			t.applyEnrol(e.Data)
			continue
		}
		t.apply(e.Data)
	}
	t.node.Advance()
	if t.enrolDirty {
		t.enrolDirty = false
		t.enroller.published(t.enrolled.Clone())
		t.node.SetLicenseDigest(t.enrolled.Digest())
	}
	for _, e := range rd.Events {
		t.s.log.Info(e.Text)
	}
	st := t.node.Status()
	t.feed(st, true)
	t.mu.Lock()
	t.status = st
	t.mu.Unlock()
	if st.Applied-t.lastSnap >= compactEvery {
		t.compact()
	}
}

func (t *triad) restore(data []byte) {
	if len(data) == 0 { // the bootstrap snapshot: no tables yet
		t.tables, t.enrolled, t.enrolDirty = table.New(tablePoolOptions(t.s)), enrol.NewSet(), true
		t.shown.Store(t.tables)
		return
	}
	tables, enrolled, err := decodeState(data, tablePoolOptions(t.s))
	if err != nil {
		t.s.log.Errorf("Triad: the master's snapshot cannot be read: %v", err)
		return
	}
	t.tables, t.enrolled, t.enrolDirty = tables, enrolled, true
	t.shown.Store(tables)
	t.s.passwords.set(enrolled.Passwords)
	t.s.log.Info("Triad: caught up from the master's snapshot of the license tables and enrolled license files")
}

// decodeState reads a raft snapshot: the license tables and the enrolled
// license files.
func decodeState(data []byte, opts pool.Options) (*table.Tables, *enrol.Set, error) {
	tdata, enrolled, err := enrol.DecodeSnapshot(data)
	if err != nil {
		return nil, nil, fmt.Errorf("the enrolled license files cannot be read: %w", err)
	}
	tables, err := table.Unmarshal(tdata, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("the license tables cannot be read: %w", err)
	}
	return tables, enrolled, nil
}

func (t *triad) compact() {
	data, err := t.tables.Marshal()
	if err == nil {
		data, err = enrol.EncodeSnapshot(data, t.enrolled)
	}
	if err == nil {
		err = t.node.Compact(data, compactKeep)
	}
	if err != nil {
		t.s.log.WithError(err).Warn("Triad: cannot compact the log")
		return
	}
	t.lastSnap = t.node.Status().Applied
}

// apply applies one committed entry to the tables and tells the daemon
// that proposed it (if it is this member's, of the current generation).
func (t *triad) apply(data []byte) {
	e, err := table.DecodeEntry(data)
	if err == nil {
		err = t.tables.Apply(e)
	}
	if err != nil {
		// Every member skips the same entry the same way: the tables stay
		// alike. The daemon that proposed it takes the table again.
		t.s.log.Warnf("Triad: committed change not applied (%v)", err)
	}
	if len(e.Deltas) == 0 {
		return
	}
	t.s.mu.Lock()
	v := t.s.vendors[e.Vendor]
	t.s.mu.Unlock()
	if v == nil {
		return
	}
	v.mu.Lock()
	gen, out := v.gen, v.out
	v.mu.Unlock()
	if out == nil || gen != e.Gen {
		return
	}
	if err != nil {
		t.reject(v, gen, err.Error())
		return
	}
	out.push(outMsg{committed: &vendorctl.Committed{Gen: gen, Seq: e.Deltas[len(e.Deltas)-1].Seq}})
}

// feed tells each vendor daemon its role. Not serving is said at once;
// serving (mayStart) only after this cycle's entries are applied, with the
// committed table first, handed over once every entry this member proposed
// before is applied.
func (t *triad) feed(st quorum.Status, mayStart bool) {
	t.s.mu.Lock()
	vendors := make([]*vendorProc, 0, len(t.s.vendors))
	for _, v := range t.s.vendors {
		vendors = append(vendors, v)
	}
	t.s.mu.Unlock()
	for _, v := range vendors {
		v.mu.Lock()
		out, gen, last := v.out, v.gen, v.lastRole
		v.mu.Unlock()
		if out == nil {
			continue
		}
		if !st.Serving {
			r := t.notServing(st)
			if gen != 0 {
				v.mu.Lock()
				v.gen = 0 // the next reign hands a fresh table over
				v.mu.Unlock()
			}
			if r != last {
				t.sendRole(v, out, r)
			}
			continue
		}
		if !mayStart {
			continue
		}
		if gen == 0 {
			if st.Applied < st.LastIndex {
				continue // own proposals in flight: the table is not final yet
			}
			gen = t.nextGen()
			b, err := table.EncodeSnapshot(t.tables.Snapshot(v.line.Name))
			if err == nil {
				out.push(outMsg{table: &vendorctl.Table{Gen: gen, Snapshot: b}})
			}
			if err != nil {
				t.s.log.WithError(err).Warnf("Cannot hand the license table to %s", v.line.Name)
				continue
			}
			v.mu.Lock()
			v.gen = gen
			v.mu.Unlock()
		}
		r := vendorctl.Role{Serving: true, Gen: gen,
			Lease: t.start + (st.Now+st.LeaseLeft)*int64(t.timing.Tick)}
		// Renew at most once a tick: a lease deadline that moved is news,
		// the same one resent on every proposal is not.
		if r.Gen != last.Gen || !last.Serving || r.Lease-last.Lease >= int64(t.timing.Tick) {
			t.sendRole(v, out, r)
		}
	}
}

func (t *triad) sendRole(v *vendorProc, out *outbox, r vendorctl.Role) {
	out.push(outMsg{role: &r})
	v.mu.Lock()
	v.lastRole = r
	v.mu.Unlock()
}

// notServing is what clients are told while this member does not serve:
// -23 on a master about to serve, -20 and the master's address otherwise.
func (t *triad) notServing(st quorum.Status) vendorctl.Role {
	switch {
	case st.Role == quorum.RoleMaster:
		return vendorctl.Role{Code: wire.CodeBusyNewServ}
	case st.Role == quorum.RoleStandby && st.Master >= 0:
		return vendorctl.Role{Code: wire.CodeServBusy, Master: t.s.portAtHost(st.Master)}
	}
	return vendorctl.Role{Code: wire.CodeServBusy}
}

// nextGen is a new table generation: unique across members (the low two
// bits are the rank) and across restarts (it starts at the start time).
func (t *triad) nextGen() uint64 {
	t.genSeq += 4
	return t.genSeq | uint64(t.s.self)
}

func (t *triad) currentStatus() quorum.Status {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.status
}

// errNoClusterKey names the command that makes a key.
var errNoClusterKey = errors.New("a triad member needs the triad's cluster key: make one with \"lmutil lmkeygen -cluster FILE\", " +
	"copy it to all three servers (mode 0600) and start lmgrd with -cluster-key FILE")

// wallClock is the clock members compare (clock skew); Options.WallClock
// in tests.
func (t *triad) wallClock() time.Time {
	if t.s.opts.WallClock != nil {
		return t.s.opts.WallClock()
	}
	return time.Now()
}

// bootClock is the clock of leases and ticks.
var bootClock = handoff.BootTimeNow
