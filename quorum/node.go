package quorum

import (
	"fmt"
	"math"
	"strings"
)

// promiseUnknown is PromisedTo during the startup promise: a server that has
// just started may have promised something before it crashed, so it supports
// nobody (and claims nothing) for ElectionTicks.
const promiseUnknown = -2

const forever = math.MaxInt64

// peerState is what a server knows about one peer, from the peer's last message.
type peerState struct {
	heard     bool
	lastHeard int64
	live      bool

	rejected     bool
	lastRejected int64
	mismatch     string // kind+detail of the last mismatch logged, to log each once

	links   [Size]bool
	master  int
	serving bool
}

// Node is one server's election state machine. It is not safe for concurrent
// use; the glue serializes Tick, Step, Ready and Status (one goroutine or a mutex).
type Node struct {
	cfg Config
	t   Timing
	now int64

	peers [Size]peerState
	role  Role

	// promisedTo/promiseUntil: whom this server supports and until which tick.
	// Self (with promiseUntil == forever) while it claims the role.
	promisedTo   int
	promiseUntil int64

	reignStart int64 // tick at which the current claim started
	leaseUntil int64 // serving while now < leaseUntil

	lastHeartbeat int64
	hadQuorum     bool
	loggedMaster  int
	deferSince    int64 // secondary: tick since which it defers to a primary that does not claim; -1 if not

	msgs      []Message
	events    []Event
	prev      SoftState // as of the last Ready
	announced SoftState // as of the last heartbeat sent
}

// New returns the state machine of server cfg.Self in a freshly started state:
// no quorum, and a startup promise of ElectionTicks during which it supports
// no master and does not claim the role (it may have promised something before
// a restart, and promises are not persisted).
func New(cfg Config) (*Node, error) {
	if cfg.Timing == (Timing{}) {
		cfg.Timing = FastTiming()
	}
	if cfg.ServerDigest == "" {
		cfg.ServerDigest = Digest(cfg.Hosts[:]...)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Node{
		cfg:           cfg,
		t:             cfg.Timing,
		role:          RoleNoQuorum,
		promisedTo:    promiseUnknown,
		promiseUntil:  int64(cfg.Timing.ElectionTicks),
		lastHeartbeat: math.MinInt64 / 2,
		loggedMaster:  None,
		deferSince:    -1,
		prev:          SoftState{Role: RoleNoQuorum, Master: None},
		announced:     SoftState{Role: RoleNoQuorum, Master: None},
	}
	for i := range n.peers {
		n.peers[i].master = None
	}
	return n, nil
}

// Config returns the configuration in use, with New's defaults applied.
func (n *Node) Config() Config { return n.cfg }

// SetLicenseDigest changes the digest of the licenses this server serves,
// after a reread. Peers compare it with their own at every message: until
// they have reread the same licenses they treat this server as mismatched.
func (n *Node) SetLicenseDigest(d string) { n.cfg.LicenseDigest = d }

// Now returns the number of Tick calls so far.
func (n *Node) Now() int64 { return n.now }

// Serving reports whether this server may grant licenses right now: it is
// master and its lease is valid. Check it (after catching up on ticks) before
// every grant.
func (n *Node) Serving() bool { return n.role == RoleMaster && n.now < n.leaseUntil }

// Tick advances the logical clock by one tick: peers time out, leases and
// promises run out, heartbeats fall due.
func (n *Node) Tick() {
	n.now++
	for r := range n.peers {
		p := &n.peers[r]
		if r == n.cfg.Self {
			continue
		}
		if p.live && n.now-p.lastHeard >= int64(n.t.PeerTimeoutTicks) {
			n.dropPeer(r)
			n.emit(EventLostConnection, r, "Lost connection to "+n.cfg.Hosts[r], "")
		}
		if p.rejected && n.now-p.lastRejected >= int64(n.t.PeerTimeoutTicks) {
			p.rejected, p.mismatch = false, ""
		}
	}
	n.evaluate()
	switch {
	case n.role == RoleMaster && !n.Serving():
		// A claim waits for grants; ask every tick so the failover is not
		// stretched by a heartbeat period after a peer's promise runs out.
		if n.lastHeartbeat < n.now {
			n.broadcastHeartbeat()
		}
	case n.now-n.lastHeartbeat >= int64(n.t.HeartbeatTicks):
		n.broadcastHeartbeat()
	default:
		n.announce()
	}
}

// announce sends a heartbeat at once when the role, serving state or master
// changed, so that peers (and their clients' redirects) follow without
// waiting for the next period.
func (n *Node) announce() {
	if n.role != RoleNoQuorum && n.softState() != n.announced {
		n.broadcastHeartbeat()
	}
}

// Step feeds one message from a peer. m.From must be set by the transport from
// the connection's identity. An error means the message was malformed and ignored.
func (n *Node) Step(m Message) error {
	switch {
	case m.From < 0 || m.From >= Size || m.From == n.cfg.Self:
		return fmt.Errorf("%w: from %d", ErrBadMessage, m.From)
	case m.Type != MsgHeartbeat && m.Type != MsgHeartbeatResp:
		return fmt.Errorf("%w: type %v", ErrBadMessage, m.Type)
	}
	r := m.From
	p := &n.peers[r]
	// The SERVER lines are compared before anything else: a peer whose file
	// orders the servers differently also numbers the ranks differently (its To
	// and Master are in its own numbering).
	if kind, text, detail := n.mismatch(m); kind != 0 {
		p.lastRejected = n.now
		if key := kind.String() + detail; !p.rejected || p.mismatch != key {
			p.rejected, p.mismatch = true, key
			n.emit(kind, r, text, detail)
		}
		if p.live {
			n.dropPeer(r)
			n.emit(EventLostConnection, r, "Lost connection to "+n.cfg.Hosts[r], "")
		}
		n.evaluate()
		return nil
	}
	switch {
	case m.To != n.cfg.Self:
		return fmt.Errorf("%w: to %d, this server is %d", ErrBadMessage, m.To, n.cfg.Self)
	case m.Master < None || m.Master >= Size:
		return fmt.Errorf("%w: master %d", ErrBadMessage, m.Master)
	}
	p.rejected, p.mismatch = false, ""
	p.heard, p.lastHeard = true, n.now
	p.links, p.master, p.serving = m.Links, m.Master, m.Serving
	if !p.live {
		p.live = true
		n.emit(EventConnected, r, "Connected to "+n.cfg.Hosts[r], "")
	}
	switch {
	case m.IsClaim():
		n.handleClaim(m)
	case m.Type == MsgHeartbeatResp:
		n.handleResp(m)
	}
	n.evaluate()
	n.announce()
	return nil
}

// Ready returns and clears the pending output. Apply it in this order:
// SoftState first (when Serving turned false, stop granting licenses), then
// Events, then Messages: a reply that hands the role to another server may be
// among the Messages, and it must not leave before this server stopped serving.
func (n *Node) Ready() Ready {
	rd := Ready{Messages: n.msgs, Events: n.events}
	n.msgs, n.events = nil, nil
	if ss := n.softState(); ss != n.prev {
		n.prev = ss
		rd.SoftState = &ss
	}
	return rd
}

// HasReady reports whether Ready would return something.
func (n *Node) HasReady() bool {
	return len(n.msgs) > 0 || len(n.events) > 0 || n.softState() != n.prev
}

// Status returns a snapshot of this server's view.
func (n *Node) Status() Status {
	self := n.cfg.Self
	s := Status{
		Self:       self,
		Hosts:      n.cfg.Hosts,
		Now:        n.now,
		Role:       n.role,
		Serving:    n.Serving(),
		Master:     n.statusMaster(),
		PromisedTo: None,
	}
	switch {
	case n.promisedTo == self && n.role == RoleMaster:
		s.PromisedTo = self
	case n.promisedTo != None && n.now < n.promiseUntil:
		s.PromisedTo = n.promisedTo
		s.PromiseLeft = n.promiseUntil - n.now
	}
	if s.Serving {
		s.LeaseLeft = n.leaseUntil - n.now
	}
	s.Links[self] = n.ownLinks()
	for r := range n.peers {
		if r == self {
			continue
		}
		s.Rejected[r] = n.peers[r].rejected
		if p := n.peers[r]; p.live {
			s.Live[r] = true
			s.Links[r] = p.links
			s.Links[r][r] = true
		}
	}
	s.Live[self] = true
	for a := range Size {
		for b := range Size {
			if s.Links[a][b] {
				s.Links[b][b] = true
			}
		}
	}
	links := 0
	for a := range Size {
		for b := a + 1; b < Size; b++ {
			if s.LinkUp(a, b) {
				links++
			}
		}
	}
	switch {
	case links >= 2:
		s.Cluster = ClusterOperational
	case links == 1:
		s.Cluster = ClusterPartiallyOperational
	}
	return s
}

// handleClaim answers a peer's claim to the master role with a grant or a refusal.
func (n *Node) handleClaim(m Message) {
	from := m.From
	granted := false
	if from != Tertiary {
		if n.role == RoleMaster && n.yieldsTo(from, m.Serving) {
			n.stepDown()
		}
		if n.role != RoleMaster && n.canPromise(from) && !n.withholds(from) {
			n.promisedTo = from
			n.promiseUntil = n.now + int64(n.t.ElectionTicks)
			granted = true
		}
	}
	resp := n.message(MsgHeartbeatResp, from)
	resp.Echo, resp.EchoIncarnation, resp.Granted = m.SentAt, m.Incarnation, granted
	n.msgs = append(n.msgs, resp)
}

// handleResp extends the lease by a grant: it runs LeaseTicks from the moment the
// answered claim was sent, so it ends before the granter's promise does.
func (n *Node) handleResp(m Message) {
	if n.role != RoleMaster || !m.Granted || m.EchoIncarnation != n.cfg.Incarnation ||
		m.Echo < n.reignStart || m.Echo > n.now {
		return
	}
	if until := m.Echo + int64(n.t.LeaseTicks); until > n.leaseUntil {
		n.leaseUntil = until
	}
}

// evaluate recomputes the role after any change of input.
func (n *Node) evaluate() {
	quorate := false
	for r := range n.peers {
		quorate = quorate || n.peers[r].live
	}
	if !quorate {
		if n.role == RoleMaster {
			n.stepDown()
		}
		n.role = RoleNoQuorum
		if n.hadQuorum {
			n.hadQuorum = false
			n.emit(EventLostQuorum, None, "Lost quorum", "")
		}
		n.loggedMaster, n.deferSince = None, -1
		return
	}
	n.hadQuorum = true
	if n.role == RoleNoQuorum {
		n.role = RoleStandby
	}
	if n.role == RoleMaster && !n.Serving() && n.shouldYield() {
		n.stepDown()
	}
	if n.role == RoleStandby && n.shouldCampaign() {
		n.campaign()
	}
	n.logMaster()
}

// canPromise reports whether this server may promise to support master m now.
func (n *Node) canPromise(m int) bool {
	return n.promisedTo == m || n.promisedTo == None || n.now >= n.promiseUntil
}

// withholds: with PRIMARY_IS_MASTER the primary does not promise to the secondary,
// or its own promise would keep it from ever taking the role back.
func (n *Node) withholds(from int) bool {
	return n.cfg.PrimaryIsMaster && n.cfg.Self == Primary && from == Secondary
}

// yieldsTo decides a conflict between this server's claim and claimer from's.
func (n *Node) yieldsTo(from int, fromServing bool) bool {
	if n.cfg.PrimaryIsMaster {
		if from == Primary {
			return true
		}
		if n.cfg.Self == Primary {
			return false
		}
	}
	if n.Serving() {
		return false
	}
	if fromServing {
		return true
	}
	return from < n.cfg.Self
}

// shouldYield: a claim that is not serving is dropped when every live peer
// reports another master that this server would not win against.
func (n *Node) shouldYield() bool {
	others := false
	for r := range n.peers {
		p := n.peers[r]
		if !p.live {
			continue
		}
		m := p.master
		if m == None || m == n.cfg.Self {
			return false
		}
		if n.peers[m].live && n.peers[m].master == m && !n.yieldsTo(m, n.peers[m].serving) {
			return false
		}
		others = true
	}
	return others
}

// shouldCampaign decides whether an eligible standby claims the master role.
func (n *Node) shouldCampaign() bool {
	self := n.cfg.Self
	if self == Tertiary || !n.canPromise(self) {
		n.deferSince = -1
		return false
	}
	if km := n.knownMaster(); km != None {
		n.deferSince = -1
		// PRIMARY_IS_MASTER: the primary takes the role back from a secondary it hears.
		return n.cfg.PrimaryIsMaster && self == Primary && km == Secondary && n.peers[Secondary].live
	}
	if self == Primary {
		return true
	}
	// The secondary leaves the role to a primary that is in the cluster, but only
	// for ElectionTicks: a primary that is heard yet never claims (one-way link)
	// must not keep the triad without a master.
	if n.primaryInCluster() {
		if n.deferSince < 0 {
			n.deferSince = n.now
		}
		if n.now-n.deferSince < int64(n.t.ElectionTicks) {
			return false
		}
	}
	n.deferSince = -1
	return true
}

func (n *Node) primaryInCluster() bool {
	for r := range n.peers {
		if p := n.peers[r]; p.live && (r == Primary || p.links[Primary]) {
			return true
		}
	}
	return false
}

func (n *Node) campaign() {
	n.role = RoleMaster
	n.promisedTo, n.promiseUntil = n.cfg.Self, forever
	n.reignStart, n.leaseUntil = n.now, 0
	n.broadcastHeartbeat()
}

// stepDown gives up a claim. Serving ends here, before any grant to another
// claimer can be sent, so the old master's lease never overlaps the new one's.
func (n *Node) stepDown() {
	n.role = RoleStandby
	n.promisedTo, n.promiseUntil = None, 0
	n.leaseUntil = 0
}

func (n *Node) dropPeer(r int) {
	p := &n.peers[r]
	p.live, p.master, p.serving, p.links = false, None, false, [Size]bool{}
}

// directMaster is the master this server knows first-hand: itself if it claims,
// else a live claimer (the one it promised to, else a serving one, else the
// lowest rank). It is what Message.Master carries; second-hand knowledge is
// never passed on, so a dead master cannot be kept alive by gossip.
func (n *Node) directMaster() int {
	if n.role == RoleMaster {
		return n.cfg.Self
	}
	best := None
	for r := range n.peers {
		p := n.peers[r]
		if !p.live || p.master != r {
			continue
		}
		if n.promisedTo == r && n.now < n.promiseUntil {
			return r
		}
		if best == None || (p.serving && !n.peers[best].serving) {
			best = r
		}
	}
	return best
}

// knownMaster is directMaster, else a master a live peer reports.
func (n *Node) knownMaster() int {
	if m := n.directMaster(); m != None {
		return m
	}
	best := None
	for r := range n.peers {
		p := n.peers[r]
		if p.live && p.master != None && p.master != n.cfg.Self && (best == None || p.master < best) {
			best = p.master
		}
	}
	return best
}

func (n *Node) statusMaster() int {
	if n.role == RoleNoQuorum {
		return None
	}
	return n.knownMaster()
}

// logMaster logs "CONNECTED, master is HOST" once per master, when a server
// learns of it (or, on the master itself, when it starts serving).
func (n *Node) logMaster() {
	m := n.knownMaster()
	if n.role == RoleMaster && !n.Serving() {
		return
	}
	if m == None {
		n.loggedMaster = None
		return
	}
	if m == n.loggedMaster {
		return
	}
	n.loggedMaster = m
	for r := range m {
		if r == n.cfg.Self || n.peers[r].live {
			// A lower-ranked eligible server is up, yet the triad keeps m.
			n.emit(EventExistingMaster, m, "Selected (EXISTING) master node", "")
			break
		}
	}
	n.emit(EventMaster, m, "CONNECTED, master is "+n.cfg.Hosts[m], "")
}

// mismatch compares a peer's SERVER lines and license digest with ours.
func (n *Node) mismatch(m Message) (EventKind, string, string) {
	host := n.cfg.Hosts[m.From]
	if m.Hosts != n.cfg.Hosts || m.ServerDigest != n.cfg.ServerDigest {
		detail := fmt.Sprintf("%s lists %s; %s lists %s", n.cfg.Hosts[n.cfg.Self],
			strings.Join(n.cfg.Hosts[:], ","), host, strings.Join(m.Hosts[:], ","))
		switch {
		case m.Hosts == n.cfg.Hosts:
			return EventServerMismatch, "License File SERVER line mismatch with " + host,
				"same hosts in the same order, but hostids or ports differ"
		case sameSet(m.Hosts, n.cfg.Hosts):
			return EventOrderMismatch, "License File SERVER line order mismatch.", detail
		default:
			return EventServerMismatch, "License File SERVER line mismatch with " + host, detail
		}
	}
	if m.LicenseDigest != n.cfg.LicenseDigest {
		return EventLicenseMismatch, "License File FEATURE line mismatch with " + host,
			fmt.Sprintf("license digest %s here, %s on %s", dash(n.cfg.LicenseDigest), dash(m.LicenseDigest), host)
	}
	return 0, "", ""
}

func sameSet(a, b [Size]string) bool {
	for _, x := range a {
		found := false
		for _, y := range b {
			found = found || x == y
		}
		if !found {
			return false
		}
	}
	return true
}

func (n *Node) ownLinks() [Size]bool {
	var l [Size]bool
	for r := range n.peers {
		l[r] = r == n.cfg.Self || n.peers[r].live
	}
	return l
}

func (n *Node) message(t MsgType, to int) Message {
	return Message{
		Type:          t,
		From:          n.cfg.Self,
		To:            to,
		SentAt:        n.now,
		Incarnation:   n.cfg.Incarnation,
		Master:        n.directMaster(),
		Serving:       n.Serving(),
		Links:         n.ownLinks(),
		Hosts:         n.cfg.Hosts,
		ServerDigest:  n.cfg.ServerDigest,
		LicenseDigest: n.cfg.LicenseDigest,
	}
}

func (n *Node) broadcastHeartbeat() {
	for r := range Size {
		if r != n.cfg.Self {
			n.msgs = append(n.msgs, n.message(MsgHeartbeat, r))
		}
	}
	n.lastHeartbeat = n.now
	n.announced = n.softState()
}

func (n *Node) emit(kind EventKind, peer int, text, detail string) {
	e := Event{Kind: kind, Peer: peer, Text: text, Detail: detail}
	if peer >= 0 {
		e.Host = n.cfg.Hosts[peer]
	}
	n.events = append(n.events, e)
}

func (n *Node) softState() SoftState {
	return SoftState{Role: n.role, Serving: n.Serving(), Master: n.statusMaster()}
}
