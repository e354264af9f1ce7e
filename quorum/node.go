package quorum

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"
)

// campaignTransfer is the context raft puts on the vote requests of a
// leadership transfer (raft.go's campaignTransfer); such requests bypass the
// followers' CheckQuorum lease.
var campaignTransfer = []byte("CampaignTransfer")

// Node is one triad member: an etcd raft node with FlexLM's roles on top.
// It is a pure state machine: Tick, Step and Propose go in, Ready comes out;
// it owns no goroutine, socket or clock.
//
// The rules on top of raft (docs/triad.md argues each):
//   - the tertiary never sends a vote request, so it never becomes leader;
//   - a new member neither votes nor campaigns for a startup promise of
//     PromiseTicks, since its votes and leases of a previous life are lost;
//   - a leader serves only while it holds a lease: LeaseTicks from the SEND
//     time of a heartbeat round (a raft ReadIndex) that a quorum
//     acknowledged, and only once it has applied every entry committed
//     before that round;
//   - with PRIMARY_IS_MASTER a secondary leader hands the leadership to the
//     primary once the primary has every entry; it stops serving before it
//     asks, and only the leader itself votes in a transfer election, so the
//     tertiary's lease to the old leader is never bypassed.
type Node struct {
	cfg    Config
	timing Timing
	rn     *raft.RawNode
	store  Storage

	now        int64
	promiseEnd int64 // the startup promise runs until this tick

	heard     [Size]int64      // tick of the last accepted envelope per peer; -1 never
	refused   [Size]int64      // tick of the last envelope refused for a mismatch; -1 never
	refusedAs [Size]LinkReason // why it was refused
	mismatch  [Size]string
	peerLinks [Size][Size]bool

	peerDigest     [Size]string // each peer's license digest, as last heard
	licensesDiffer [Size]bool   // what was last logged of peerDigest

	// clock skew
	wall     int64               // this server's wall clock, Unix ms (SetWallClock); 0 unknown
	skew     [Size]time.Duration // peer's wall clock minus ours, as last measured
	skewOver [Size]bool          // the last measured skew is beyond the limit

	// amnesia (docs/triad.md, "A member that lost its store")
	amnesiac       bool              // the store was empty at New, or Config.Rebuilt
	peerTerm       [Size]uint64      // lowest term each peer reported since New (valid once heard)
	peerRebuilding [Size]bool        // what each peer's last envelope said
	leaderCommit   uint64            // highest commit index a leader sent since New
	caughtUp       bool              // applied >= leaderCommit once a leader was heard (or led)
	resent         [Size]resendState // the leader's catch-up of members that lost entries

	// lease
	reignTerm  uint64 // term of the current leadership; 0 when not leader
	reignStart int64  // reads sent before this tick do not count
	leaseUntil int64
	leaseIndex uint64 // commit index when the lease was first granted in this reign
	leased     bool
	lastRead   int64
	transfer   bool // a PRIMARY_IS_MASTER handback is in progress

	applied       uint64
	lastKeepalive int64
	leaderless    int64 // a secondary's tick when it started yielding to the primary
	logLost       bool
	leaderSeen    int64 // the last tick at which this member knew a leader
	broken        error
	storageErr    error // wraps ErrStorage: a Ready could not be stored (see Ready)
	out           [Size][]raftpb.Message
	pending       *raft.Ready

	events []Event
	shown  view // what the events have reported so far
}

// resendState is what a leader last sent a member that lost entries it had
// acknowledged (resend).
type resendState struct {
	at   int64  // tick of the last send; sends are at most one per tick
	upTo uint64 // last index sent (a snapshot's index)
	snap bool   // the last send was a snapshot
}

// view is what events have been logged about.
type view struct {
	live   [Size]bool
	quorum bool
	master int
}

// New makes a member of a new triad, or one restarting from store's contents.
// A nil store is a fresh raft.MemoryStorage.
func New(cfg Config, store Storage) (*Node, error) {
	if cfg.Timing == (Timing{}) {
		cfg.Timing = FastTiming()
	}
	if cfg.ServerDigest == "" {
		cfg.ServerDigest = Digest(cfg.Hosts[:]...)
	}
	if cfg.MaxClockSkew == 0 {
		cfg.MaxClockSkew = DefaultMaxClockSkew
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if store == nil {
		store = NewMemoryStorage()
	}
	t := cfg.Timing
	snap, err := store.Snapshot()
	if err != nil {
		return nil, fmt.Errorf("quorum: storage: %w", err)
	}
	rn, err := raft.NewRawNode(&raft.Config{
		ID:                        id(cfg.Self),
		ElectionTick:              t.electionTicks(cfg.Self),
		HeartbeatTick:             t.HeartbeatTicks,
		Storage:                   store,
		Applied:                   snap.Metadata.Index,
		MaxSizePerMsg:             maxSizePerMsg,
		MaxCommittedSizePerReady:  64 << 20,
		MaxUncommittedEntriesSize: 256 << 20,
		MaxInflightMsgs:           256,
		CheckQuorum:               true,
		PreVote:                   true,
		ReadOnlyOption:            raft.ReadOnlySafe,
		DisableProposalForwarding: cfg.Forwardable == nil, // see ProposeForwarded
		Logger:                    &raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)},
	})
	if err != nil {
		return nil, fmt.Errorf("quorum: %w", err)
	}
	hs, _, err := store.InitialState()
	if err != nil {
		return nil, fmt.Errorf("quorum: storage: %w", err)
	}
	last, err := store.LastIndex()
	if err != nil {
		return nil, fmt.Errorf("quorum: storage: %w", err)
	}
	n := &Node{cfg: cfg, timing: t, rn: rn, store: store, applied: snap.Metadata.Index,
		promiseEnd: PromiseTicks(t), shown: view{master: None}}
	// A store that holds nothing but the bootstrap: a first start, or a
	// store that was lost. The two cannot be told apart from here.
	n.amnesiac = cfg.Rebuilt || (raft.IsEmptyHardState(hs) && last <= bootstrap().Metadata.Index)
	n.caughtUp = !n.amnesiac
	for r := range Size {
		n.heard[r], n.refused[r] = -1, -1
	}
	return n, nil
}

// PromiseTicks is how long a new member neither votes nor campaigns: longer,
// on any clock within MaxDrift, than any lease it may have acknowledged in
// its previous life (CheckQuorum's lease is not kept across a restart; its
// votes are, in the raft log's hard state).
func PromiseTicks(t Timing) int64 {
	return int64(math.Ceil(float64(t.ElectionTicks)*(1+t.MaxDrift))) + 2
}

// maxSizePerMsg bounds the entries of one raft append (raft's and resend's).
const maxSizePerMsg = 1 << 20

func id(rank int) uint64   { return uint64(rank) + 1 }
func rank(id uint64) int   { return int(id) - 1 }
func (n *Node) Now() int64 { return n.now }

// Config returns the configuration in use (with defaults applied).
func (n *Node) Config() Config { return n.cfg }

// SetLicenseDigest changes the digest sent to peers (after lmreread).
func (n *Node) SetLicenseDigest(d string) {
	n.cfg.LicenseDigest = d
	for r := range Size {
		if r != n.cfg.Self && n.heard[r] >= 0 {
			n.notePeerLicenses(r, n.peerDigest[r])
		}
	}
}

// notePeerLicenses records peer r's license digest and logs, once per
// change, whether it serves the same licenses as this server. Information
// only: license files converge through the log (enrolment).
func (n *Node) notePeerLicenses(r int, digest string) {
	n.peerDigest[r] = digest
	differ := digest != n.cfg.LicenseDigest
	if differ == n.licensesDiffer[r] {
		return
	}
	n.licensesDiffer[r] = differ
	text := "Licenses of " + n.cfg.Hosts[r] + " match this server's"
	if differ {
		text = "Licenses of " + n.cfg.Hosts[r] + " differ from this server's (it stays in the triad)"
	}
	n.events = append(n.events, Event{Kind: EventLicenseMismatch, Peer: r, Host: n.cfg.Hosts[r], Text: text})
}

// SetWallClock tells the node this server's wall clock, in Unix
// milliseconds; the glue calls it before Step and Ready (it only records
// the value). Envelopes carry it, and a peer whose clock differs by more
// than Config.MaxClockSkew is refused (EventClockSkew). A node whose wall
// clock was never set sends 0 and checks nothing.
func (n *Node) SetWallClock(unixMs int64) { n.wall = unixMs }

// Tick advances the node's clock by one tick.
func (n *Node) Tick() {
	n.now++
	if n.broken != nil || n.storageErr != nil {
		return
	}
	leader := n.rn.BasicStatus().RaftState == raft.StateLeader
	if n.master() != None {
		n.leaderSeen = n.now
	}
	// The promise is about votes and campaigns: a leader (made by a
	// handback during the promise) keeps its heartbeats and CheckQuorum.
	if leader || (n.now >= n.promiseEnd && !n.yieldsToPrimary()) {
		n.rn.Tick()
		if n.now == n.promiseEnd && n.cfg.Self != Tertiary && n.rn.BasicStatus().Lead == raft.None &&
			(n.live((n.cfg.Self+1)%Size) || n.live((n.cfg.Self+2)%Size)) {
			// A member that starts beside a peer with no leader asks at
			// once (a pre-vote: it disturbs no leader that has a lease).
			_ = n.rn.Campaign()
		}
		if n.relays() && n.now-n.leaderSeen == int64(2*n.timing.ElectionTicks) && !leader {
			_ = n.rn.Campaign() // the relay's pre-vote, at once (see relays)
		}
	}
	st := n.rn.BasicStatus()
	if st.RaftState == raft.StateLeader {
		n.noteReign(st)
		if n.now-n.lastRead >= int64(n.timing.HeartbeatTicks) && !n.transfer {
			n.lastRead = n.now
			var ctx [8]byte
			binary.BigEndian.PutUint64(ctx[:], uint64(n.now))
			n.rn.ReadIndex(ctx[:])
		}
		n.maybeHandBack(st)
	}
	n.noteCatchUp()
	n.note()
}

// relays reports whether the tertiary may ask for votes: only when the
// triad has had no leader for two election timeouts although a peer is
// live. That happens when the eligible member it hears is missing
// committed entries that the tertiary holds: raft lets only a member with
// every committed entry lead, so the tertiary leads for a moment, without
// ever serving, to bring that member up to date and hand it the role.
func (n *Node) relays() bool {
	return n.cfg.Self == Tertiary && n.now-n.leaderSeen >= int64(2*n.timing.ElectionTicks) &&
		(n.live(Primary) || n.live(Secondary))
}

// yieldsToPrimary: a secondary with no leader lets a live primary campaign
// first (its raft clock stands still) for the primary's startup promise and
// three of its election timeouts after it hears it, so that the primary is
// master whenever it is up at the start, as in FlexLM. A primary that cannot
// win in that time is passed by.
func (n *Node) yieldsToPrimary() bool {
	if n.cfg.Self != Secondary || !n.live(Primary) || n.rn.BasicStatus().Lead != raft.None {
		n.leaderless = n.now
		return false
	}
	return n.now-n.leaderless < PromiseTicks(n.timing)+int64(3*n.timing.ElectionTicks)
}

// noteReign resets the lease when this node has become leader of a new term.
func (n *Node) noteReign(st raft.BasicStatus) {
	if st.RaftState != raft.StateLeader {
		n.reignTerm, n.leased, n.leaseUntil, n.transfer = 0, false, 0, false
		return
	}
	if st.Term != n.reignTerm {
		n.reignTerm, n.reignStart, n.leased, n.leaseUntil, n.transfer = st.Term, n.now, false, 0, false
		n.lastRead = n.now - int64(n.timing.HeartbeatTicks) // renew at the next tick
	}
	if n.transfer && st.LeadTransferee == raft.None {
		// The handback was abandoned: serve again, on reads sent from now on.
		n.transfer, n.reignStart = false, n.now+1
	}
}

// maybeHandBack starts the PRIMARY_IS_MASTER handback: a secondary leader
// gives the role to the primary once the primary holds every entry.
//
// A tertiary leader (see relays) hands the role to the primary, or else the
// secondary, as soon as one of them is live and holds every entry.
func (n *Node) maybeHandBack(st raft.BasicStatus) {
	if n.transfer {
		return
	}
	var to []int
	switch {
	case n.cfg.Self == Tertiary:
		to = []int{Primary, Secondary}
	case n.cfg.PrimaryIsMaster && n.cfg.Self == Secondary:
		to = []int{Primary}
	default:
		return
	}
	last, err := n.store.LastIndex()
	if err != nil {
		return
	}
	var match [Size]uint64
	n.rn.WithProgress(func(pid uint64, _ raft.ProgressType, pr tracker.Progress) {
		if r := rank(pid); r >= 0 && r < Size {
			match[r] = pr.Match
		}
	})
	lastTerm, err := n.store.Term(last)
	if err != nil {
		return
	}
	for _, r := range to {
		if n.amnesiac && !n.mayVoteAmnesiac(r, st.Term+1, last, lastTerm) {
			continue // it could not vote for r in the transfer election
		}
		if n.live(r) && match[r] >= last {
			// Stop serving first: the vote requests of a transfer bypass leases.
			n.transfer, n.leased, n.leaseUntil = true, false, 0
			n.rn.TransferLeader(id(r))
			return
		}
	}
}

// Step takes an envelope from a peer. Envelopes from a member with other
// SERVER lines, or a wall clock too far off, are refused (and logged)
// without reaching raft. A peer's license digest is only recorded
// (Status.PeerLicenseDigest): members that serve other licenses for a
// moment stay in the triad.
// After a storage failure (ErrStorage) envelopes are dropped: the member
// takes no further part until the glue makes a new Node.
func (n *Node) Step(e Envelope) error {
	if e.From < 0 || e.From >= Size || e.From == n.cfg.Self || e.To != n.cfg.Self {
		return fmt.Errorf("quorum: envelope from %d to %d reached %d", e.From, e.To, n.cfg.Self)
	}
	if n.storageErr != nil {
		return nil
	}
	switch {
	case e.ServerDigest != n.cfg.ServerDigest:
		n.refuse(e.From, EventServerMismatch, "License File SERVER line mismatch with %s: kept out of the triad")
		return nil
	case n.skewed(e):
		n.refused[e.From], n.refusedAs[e.From] = n.now, LinkClockSkew
		return nil
	}
	n.mismatch[e.From] = ""
	n.peerLinks[e.From] = e.Links
	if n.heard[e.From] < 0 || e.Term < n.peerTerm[e.From] {
		n.peerTerm[e.From] = e.Term
	}
	n.peerRebuilding[e.From] = e.Rebuilding
	n.heard[e.From] = n.now
	n.notePeerLicenses(e.From, e.LicenseDigest)
	var errs []error
	for _, m := range e.Msgs {
		if m.From != id(e.From) || m.To != id(n.cfg.Self) {
			errs = append(errs, fmt.Errorf("quorum: %v from %d to %d inside an envelope from %d", m.Type, m.From, m.To, id(e.From)))
			continue
		}
		commit := m.Commit
		ok, clamped := n.mayStep(&m)
		if !ok {
			continue
		}
		if err := n.stepRaft(m); err != nil && !errors.Is(err, raft.ErrStepPeerNotFound) {
			errs = append(errs, fmt.Errorf("quorum: %v from %s: %w", m.Type, n.cfg.Hosts[e.From], err))
			continue
		}
		switch m.Type {
		case raftpb.MsgHeartbeat, raftpb.MsgApp, raftpb.MsgSnap:
			if st := n.rn.BasicStatus(); st.Lead == m.From && st.Term == m.Term {
				n.leaderCommit = max(n.leaderCommit, commit)
				if m.Type == raftpb.MsgSnap && m.Snapshot != nil {
					n.leaderCommit = max(n.leaderCommit, m.Snapshot.Metadata.Index)
				}
			}
			if clamped {
				n.askResend(e.From, m, commit)
			}
		case raftpb.MsgAppResp:
			n.maybeResend(e.From, m)
		}
	}
	n.noteCatchUp()
	n.noteReign(n.rn.BasicStatus())
	n.note()
	return errors.Join(errs...)
}

// askResend answers a leader's heartbeat whose commit index is beyond this
// member's log (mayStep clamped it) with a rejected append that says where
// the log ends. Raft's leader keeps the match index this member had before
// it lost its log and never sends below it; the leader's Node sees the
// rejection and resends from the hint (maybeResend).
func (n *Node) askResend(from int, m raftpb.Message, commit uint64) {
	if n.rn.BasicStatus().Term != m.Term {
		return
	}
	last, err := n.store.LastIndex()
	if err != nil {
		return
	}
	term, _ := n.store.Term(last)
	n.out[from] = append(n.out[from], raftpb.Message{Type: raftpb.MsgAppResp, From: id(n.cfg.Self), To: m.From,
		Term: m.Term, Index: commit, Reject: true, RejectHint: last, LogTerm: term})
}

// maybeResend is the leader's side of askResend: a member that says it
// holds less than raft's match index for it lost entries it acknowledged
// (its store was lost). Raft never sends below the match index, so the
// leader's Node sends the entries from its own log, or its snapshot, at
// most once per tick (and again at once when the member acknowledges the
// last chunk); the member's raft takes them as any append of this term.
func (n *Node) maybeResend(p int, m raftpb.Message) {
	st := n.rn.BasicStatus()
	if st.RaftState != raft.StateLeader || m.Term != st.Term {
		return
	}
	var match uint64
	n.rn.WithProgress(func(pid uint64, _ raft.ProgressType, pr tracker.Progress) {
		if pid == m.From {
			match = pr.Match
		}
	})
	rs := &n.resent[p]
	has := m.RejectHint
	if !m.Reject {
		if rs.upTo == 0 || m.Index != rs.upTo {
			return // an ordinary acknowledgement, not of a resend
		}
		has = m.Index
	}
	if has >= match {
		rs.upTo = 0
		return
	}
	acked := !m.Reject && m.Index == rs.upTo
	if !acked && (rs.at == n.now || (rs.snap && n.now-rs.at < int64(n.timing.ElectionTicks))) {
		return // one resend per tick; a snapshot gets an election timeout to arrive
	}
	n.resend(p, has, st)
}

// resend sends member p the leader's entries after index from, at most
// MaxSizePerMsg of them, or the leader's snapshot when they are compacted.
func (n *Node) resend(p int, from uint64, st raft.BasicStatus) {
	rs := &n.resent[p]
	first, err1 := n.store.FirstIndex()
	last, err2 := n.store.LastIndex()
	if err1 != nil || err2 != nil || from >= last {
		return
	}
	msg := raftpb.Message{From: id(n.cfg.Self), To: id(p), Term: st.Term, Commit: st.Commit}
	term, err := n.store.Term(from)
	var ents []raftpb.Entry
	if err == nil && from+1 >= first {
		ents, err = n.store.Entries(from+1, last+1, maxSizePerMsg)
	}
	if err == nil && len(ents) > 0 {
		msg.Type, msg.Index, msg.LogTerm, msg.Entries = raftpb.MsgApp, from, term, ents
		rs.upTo, rs.snap = ents[len(ents)-1].Index, false
	} else {
		snap, err := n.store.Snapshot()
		if err != nil || snap.Metadata.Index <= from {
			return
		}
		msg.Type, msg.Snapshot = raftpb.MsgSnap, &snap
		rs.upTo, rs.snap = snap.Metadata.Index, true
	}
	rs.at = n.now
	n.out[p] = append(n.out[p], msg)
}

// noteCatchUp ends Rebuilding: this member leads, or it has applied the
// commit index a leader sent it since it started.
func (n *Node) noteCatchUp() {
	if n.caughtUp {
		return
	}
	if n.rn.BasicStatus().RaftState == raft.StateLeader || (n.leaderCommit > 0 && n.applied >= n.leaderCommit) {
		n.caughtUp = true
	}
}

// mayVoteAmnesiac is the vote rule of a member that started with an empty
// store (docs/triad.md argues it): it grants a vote in term T to candidate
// c only when
//   - the third member d reported a term below T since this start (if this
//     member voted in T in its previous life, and that vote helped elect a
//     leader, d's durable term was at least T before this start: it led T,
//     or voted for this member in T; so every report since is >= T); and
//   - the candidate's log is empty and d, if heard, has an empty store too
//     (a triad's first start; not with Config.Rebuilt), or d was heard
//     since this start and this member has caught up from a leader (it
//     holds every entry it may have acknowledged in its previous life) or
//     d is rebuilding too (then c holds all that is left).
func (n *Node) mayVoteAmnesiac(c int, term, lastIndex, lastTerm uint64) bool {
	d := Size*(Size-1)/2 - c - n.cfg.Self
	if n.heard[d] >= 0 && n.peerTerm[d] >= term {
		return false // d may have led term with this member's forgotten vote
	}
	empty := lastIndex <= bootstrap().Metadata.Index && lastTerm <= bootstrap().Metadata.Term
	if empty && !n.cfg.Rebuilt && (n.heard[d] < 0 || n.peerRebuilding[d]) {
		return true
	}
	return n.heard[d] >= 0 && (n.caughtUp || n.peerRebuilding[d])
}

// ErrBroken is returned once raft has refused to go on: a peer's message
// contradicted this member's durable log (a lost or damaged state). The
// member then neither serves nor votes; lmgrd says so and keeps running.
var ErrBroken = errors.New("quorum: this member's raft log contradicts its peers'; it takes no further part")

// stepRaft steps raft, which panics when its invariants break (it assumes
// a member never loses what it acknowledged); that stops this member, not
// the process.
func (n *Node) stepRaft(m raftpb.Message) (err error) {
	if n.broken != nil {
		return n.broken
	}
	defer func() {
		if r := recover(); r != nil {
			n.broken = fmt.Errorf("%w: %v", ErrBroken, r)
			err = n.broken
		}
	}()
	return n.rn.Step(m)
}

// mayStep filters the messages raft must not see: vote requests during the
// startup promise, a transfer's vote requests at anyone but the leader that
// asked for the transfer, and the votes an amnesiac member may not give
// (mayVoteAmnesiac). It clamps a heartbeat's commit index to the log
// (clamped: this member lost entries the leader counts on).
func (n *Node) mayStep(m *raftpb.Message) (ok, clamped bool) {
	if m.Type == raftpb.MsgHeartbeat {
		// raft panics on a commit index beyond the log: it trusts that a
		// member never forgets what it acknowledged. A member whose state
		// directory was lost meets exactly that; clamp, and say so.
		if last, err := n.store.LastIndex(); err == nil && m.Commit > last {
			m.Commit = last
			clamped = true
			if !n.logLost {
				n.logLost = true
				n.events = append(n.events, Event{Kind: EventLogLost, Peer: rank(m.From), Host: n.cfg.Hosts[rank(m.From)],
					Text: "raft log lost: the master counts on entries this member no longer has (was its -state directory removed?); catching up"})
			}
		}
		return true, clamped
	}
	if m.Type == raftpb.MsgProp {
		// A peer forwards only what Forwardable allows (ProposeForwarded);
		// anything else would let a standby write the license tables.
		for _, e := range m.Entries {
			if e.Type != raftpb.EntryNormal || n.cfg.Forwardable == nil || !n.cfg.Forwardable(e.Data) {
				return false, false
			}
		}
		return true, false
	}
	if m.Type != raftpb.MsgVote && m.Type != raftpb.MsgPreVote {
		return true, false
	}
	if n.now < n.promiseEnd {
		return false, false
	}
	if bytes.Equal(m.Context, campaignTransfer) && n.rn.BasicStatus().RaftState != raft.StateLeader {
		return false, false
	}
	if n.amnesiac && !n.mayVoteAmnesiac(rank(m.From), m.Term, m.Index, m.LogTerm) {
		// Pre-votes too: a pre-vote granted for a vote that would be
		// refused only makes a candidate whose vote requests disturb the
		// others' election timers.
		return false, false
	}
	return true, false
}

// skewed measures the skew of e's sender's wall clock, logs when it goes
// beyond the limit or comes back, and reports whether it is beyond.
func (n *Node) skewed(e Envelope) bool {
	r := e.From
	if n.wall == 0 || e.WallClock == 0 {
		return false
	}
	skew := time.Duration(e.WallClock-n.wall) * time.Millisecond
	n.skew[r] = skew
	over := skew > n.cfg.MaxClockSkew || -skew > n.cfg.MaxClockSkew
	if over != n.skewOver[r] {
		n.skewOver[r] = over
		text := "Clock of " + n.cfg.Hosts[r] + " back within the limit"
		if over {
			text = fmt.Sprintf("Clock of %s differs from this server's by %v (limit %v): kept out of the triad until it is fixed",
				n.cfg.Hosts[r], skew.Abs().Round(time.Second), n.cfg.MaxClockSkew)
		}
		n.events = append(n.events, Event{Kind: EventClockSkew, Peer: r, Host: n.cfg.Hosts[r], Text: text,
			Detail: fmt.Sprintf("its clock minus this server's: %v", skew)})
	}
	return over
}

func (n *Node) refuse(from int, kind EventKind, why string) {
	n.refused[from], n.refusedAs[from] = n.now, LinkServerMismatch
	if n.mismatch[from] != why {
		n.mismatch[from] = why
		n.events = append(n.events, Event{Kind: kind, Peer: from, Host: n.cfg.Hosts[from],
			Text: fmt.Sprintf(why, n.cfg.Hosts[from])})
	}
}

// ErrNotServing is returned by Propose when this node may not change the
// license tables: it is not the leader serving with a lease.
var ErrNotServing = errors.New("quorum: not the serving master")

// Propose appends data to the log. Only a serving master proposes.
func (n *Node) Propose(data []byte) error {
	if !n.Serving() {
		return ErrNotServing
	}
	return n.rn.Propose(data)
}

// ErrNoLeader is returned by ProposeForwarded when no leader is known.
var ErrNoLeader = errors.New("quorum: no master known to take the proposal")

// ProposeForwarded appends data through the leader from any member: the
// leader appends it itself, a follower forwards it (raft's MsgProp). Only
// data that Config.Forwardable allows is taken. Delivery is not promised: a
// proposal lost with a leader change is simply not applied, so the caller
// proposes again until it sees its entry applied.
func (n *Node) ProposeForwarded(data []byte) error {
	if n.cfg.Forwardable == nil || !n.cfg.Forwardable(data) {
		return fmt.Errorf("quorum: %d bytes of data that may not be forwarded", len(data))
	}
	if n.broken != nil {
		return n.broken
	}
	if n.rn.BasicStatus().Lead == raft.None {
		return ErrNoLeader
	}
	if err := n.rn.Propose(data); err != nil {
		return fmt.Errorf("quorum: forwarding a proposal: %w", err)
	}
	return nil
}

// Ready is the output since the previous Ready: what to send, what to apply.
type Ready struct {
	// Messages are the envelopes to send, at most one per peer.
	Messages []Envelope
	// Snapshot, when not nil, replaces the state machine: a lagging member
	// catching up. Apply it before CommittedEntries.
	Snapshot *raftpb.Snapshot
	// CommittedEntries are the committed entries' data, in log order, to
	// apply to the state machine.
	CommittedEntries []raftpb.Entry
	// Events to log, in order.
	Events []Event
}

// ErrStorage is wrapped, with the storage's own error (e.g. ENOSPC), by
// the error Ready returns when it could not store raft's output. Nothing of
// that Ready is sent, so no peer hears an acknowledgement of what was not
// stored. The Node then takes no further part: it does not serve, tick,
// step envelopes, acknowledge or vote, and every later Ready returns the
// same error; Status.StorageErr says why. To recover, the glue makes a new
// Node with New(cfg, store) on the same store once writes succeed again, as
// a restarted process would (the startup promise applies): Storage
// implementations keep what they serve exactly what they hold after a
// failed write (BoltStorage does).
var ErrStorage = errors.New("quorum: the raft log could not be stored")

// Ready persists raft's output to the storage and returns what the glue must
// do: stop serving first if Status says so, then send, then apply, then
// call Advance. An error wrapping ErrStorage means this Node has stopped.
func (n *Node) Ready() (Ready, error) {
	var out Ready
	if n.pending != nil {
		return out, errors.New("quorum: Ready called before Advance")
	}
	if n.broken != nil {
		return out, n.broken
	}
	if n.storageErr != nil {
		return out, n.storageErr
	}
	if n.rn.HasReady() {
		rd := n.rn.Ready()
		if !raft.IsEmptySnap(rd.Snapshot) {
			if err := n.store.ApplySnapshot(rd.Snapshot); err != nil {
				return out, n.storageFailed(fmt.Errorf("storing a snapshot at %d: %w", rd.Snapshot.Metadata.Index, err))
			}
			snap := rd.Snapshot
			out.Snapshot = &snap
		}
		if err := n.store.Save(rd.HardState, rd.Entries, rd.MustSync); err != nil {
			return out, n.storageFailed(fmt.Errorf("storing %d entries and the hard state: %w", len(rd.Entries), err))
		}
		n.noteReign(n.rn.BasicStatus())
		for _, rs := range rd.ReadStates {
			n.granted(rs)
		}
		for _, m := range rd.Messages {
			if n.cfg.Self == Tertiary && (m.Type == raftpb.MsgVote || m.Type == raftpb.MsgPreVote) && !n.relays() {
				continue // the tertiary never asks to be master
			}
			to := rank(m.To)
			if to < 0 || to >= Size {
				continue
			}
			n.out[to] = append(n.out[to], m)
			if m.Type == raftpb.MsgSnap {
				// Delivery is best effort; a lost snapshot shows up as a
				// rejected append later, and raft probes again.
				defer n.rn.ReportSnapshot(m.To, raft.SnapshotFinish)
			}
		}
		for _, e := range rd.CommittedEntries {
			if e.Type == raftpb.EntryNormal && len(e.Data) > 0 {
				out.CommittedEntries = append(out.CommittedEntries, e)
			}
		}
		n.pending = &rd
	}
	keepalive := n.now-n.lastKeepalive >= int64(n.timing.HeartbeatTicks)
	if keepalive {
		n.lastKeepalive = n.now
	}
	links := n.links()
	term, rebuilding := n.rn.BasicStatus().Term, n.Rebuilding()
	for r := range Size {
		if r == n.cfg.Self || (!keepalive && len(n.out[r]) == 0) {
			continue
		}
		out.Messages = append(out.Messages, Envelope{From: n.cfg.Self, To: r, ServerDigest: n.cfg.ServerDigest,
			LicenseDigest: n.cfg.LicenseDigest, Links: links, Term: term, Rebuilding: rebuilding, WallClock: n.wall,
			Msgs: n.out[r]})
		n.out[r] = nil
	}
	n.note()
	out.Events, n.events = n.events, nil
	return out, nil
}

// storageFailed stops the node: raft has accepted a Ready that could not be
// stored, so its state is ahead of the store's and it must not go on.
// Nothing queued is sent.
func (n *Node) storageFailed(err error) error {
	n.storageErr = fmt.Errorf("%w: %w", ErrStorage, err)
	n.out = [Size][]raftpb.Message{}
	n.reignTerm, n.leased, n.leaseUntil = 0, false, 0
	return n.storageErr
}

// Advance tells the node that the last Ready has been acted on: its
// entries are applied.
func (n *Node) Advance() {
	if n.pending == nil {
		return
	}
	rd := n.pending
	n.pending = nil
	if !raft.IsEmptySnap(rd.Snapshot) {
		n.applied = max(n.applied, rd.Snapshot.Metadata.Index)
	}
	if k := len(rd.CommittedEntries); k > 0 {
		n.applied = max(n.applied, rd.CommittedEntries[k-1].Index)
	}
	n.rn.Advance(*rd)
	n.noteCatchUp()
}

// Rebuilding reports whether this member started with an empty store (a
// first start, or a lost one; or Config.Rebuilt) and has not yet caught up
// from a leader: it has not applied the commit index a leader sent it since
// it started. While rebuilding it votes only under mayVoteAmnesiac's rule.
func (n *Node) Rebuilding() bool { return n.amnesiac && !n.caughtUp }

// Applied is the index of the last entry applied (or snapshot restored).
func (n *Node) Applied() uint64 { return n.applied }

// Compact records a snapshot of the state machine at the applied index and
// drops the log before keep entries behind it, so memory stays bounded; a
// member further behind catches up from the snapshot.
func (n *Node) Compact(data []byte, keep uint64) error {
	if n.pending != nil {
		return errors.New("quorum: Compact between Ready and Advance")
	}
	cs := raftpb.ConfState{Voters: []uint64{1, 2, 3}}
	if _, err := n.store.CreateSnapshot(n.applied, &cs, data); err != nil && !errors.Is(err, raft.ErrSnapOutOfDate) {
		return fmt.Errorf("quorum: snapshot: %w", err)
	}
	if n.applied > keep {
		if err := n.store.Compact(n.applied - keep); err != nil && !errors.Is(err, raft.ErrCompacted) {
			return fmt.Errorf("quorum: compact: %w", err)
		}
	}
	return nil
}

// granted takes a read's answer: a quorum acknowledged the heartbeat round
// sent at the tick in its context.
func (n *Node) granted(rs raft.ReadState) {
	if len(rs.RequestCtx) != 8 || n.reignTerm == 0 || n.transfer {
		return
	}
	sent := int64(binary.BigEndian.Uint64(rs.RequestCtx))
	if sent < n.reignStart || sent > n.now {
		return
	}
	if !n.leased {
		n.leased, n.leaseIndex = true, rs.Index
	}
	n.leaseUntil = max(n.leaseUntil, sent+int64(n.timing.LeaseTicks))
}

// Serving reports whether this node is the master and may grant: the
// leader, within its lease, with everything committed before it applied.
func (n *Node) Serving() bool {
	return n.broken == nil && n.storageErr == nil && n.cfg.Self != Tertiary && n.reignTerm != 0 && n.leased && !n.transfer && n.now < n.leaseUntil && n.applied >= n.leaseIndex &&
		n.rn.BasicStatus().RaftState == raft.StateLeader
}

func (n *Node) live(r int) bool {
	return r == n.cfg.Self || (n.heard[r] >= 0 && n.now-n.heard[r] < int64(n.timing.ElectionTicks))
}

func (n *Node) links() [Size]bool {
	var l [Size]bool
	for r := range Size {
		l[r] = n.live(r)
	}
	return l
}

// master is the leader this node knows of, or None.
func (n *Node) master() int {
	lead := n.rn.BasicStatus().Lead
	if lead == raft.None {
		return None
	}
	m := rank(lead)
	if m == Tertiary || (m != n.cfg.Self && !n.live(m)) {
		return None // the tertiary only ever leads to relay entries (relays)
	}
	return m
}

// note turns changes of links and master into log events.
func (n *Node) note() {
	for r := range Size {
		if r == n.cfg.Self {
			continue
		}
		if up := n.live(r); up != n.shown.live[r] {
			n.shown.live[r] = up
			text := "Lost connection to " + n.cfg.Hosts[r]
			kind := EventLostConnection
			if up {
				text, kind = "Connected to "+n.cfg.Hosts[r], EventConnected
			}
			n.events = append(n.events, Event{Kind: kind, Peer: r, Host: n.cfg.Hosts[r], Text: text})
		}
	}
	quorum := false
	for r := range Size {
		quorum = quorum || (r != n.cfg.Self && n.shown.live[r])
	}
	if !quorum && n.shown.quorum {
		// The last peer is gone: FlexLM's words, whatever was known of a master.
		n.events = append(n.events, Event{Kind: EventLostQuorum, Peer: None, Text: "Lost quorum"})
	}
	n.shown.quorum = quorum
	m := n.master()
	if m != n.shown.master {
		was := n.shown.master
		n.shown.master = m
		switch {
		case m != None:
			if was == None && n.cfg.Self == Primary && m == Secondary && !n.cfg.PrimaryIsMaster {
				// FlexLM's words for a returning primary that leaves the role where it is.
				n.events = append(n.events, Event{Kind: EventExistingMaster, Peer: m, Host: n.cfg.Hosts[m],
					Text: "Selected (EXISTING) master node"})
			}
			n.events = append(n.events, Event{Kind: EventMaster, Peer: m, Host: n.cfg.Hosts[m],
				Text: "CONNECTED, master is " + n.cfg.Hosts[m]})
		}
	}
}

// Status is this node's view of the triad.
func (n *Node) Status() Status {
	bs := n.rn.BasicStatus()
	st := Status{Self: n.cfg.Self, Hosts: n.cfg.Hosts, Now: n.now, Serving: n.Serving(), Master: n.master(),
		Term: bs.Term, Commit: bs.Commit, Applied: n.applied, Rebuilding: n.Rebuilding()}
	st.LastIndex, _ = n.store.LastIndex()
	st.Skew, st.SkewOver = n.skew, n.skewOver
	st.PeerLicenseDigest = n.peerDigest
	st.PeerLicenseDigest[n.cfg.Self] = n.cfg.LicenseDigest
	for r := range Size {
		st.Live[r] = n.live(r)
		st.Rejected[r] = r != n.cfg.Self && n.refused[r] >= 0 && n.now-n.refused[r] < int64(n.timing.ElectionTicks) && !st.Live[r]
	}
	quorum := st.Live[(n.cfg.Self+1)%Size] || st.Live[(n.cfg.Self+2)%Size]
	if n.storageErr != nil {
		st.StorageErr, st.Master, quorum = n.storageErr.Error(), None, false
	}
	switch {
	case n.storageErr != nil:
		st.Role = RoleNoQuorum
	case bs.RaftState == raft.StateLeader && n.cfg.Self != Tertiary:
		st.Role = RoleMaster
	case quorum:
		st.Role = RoleStandby
	default:
		st.Role = RoleNoQuorum
	}
	if st.Serving {
		st.LeaseLeft = n.leaseUntil - n.now
	}
	st.Links[n.cfg.Self] = st.Live
	for r := range Size {
		if r != n.cfg.Self && st.Live[r] {
			st.Links[r] = n.peerLinks[r]
			st.Links[r][r] = true
		}
	}
	st.Cluster = clusterState(st)
	st.LinkReason = n.linkReasons(st, bs)
	return st
}

// linkReasons is Status.LinkReason.
func (n *Node) linkReasons(st Status, bs raft.BasicStatus) [Size]LinkReason {
	var why [Size]LinkReason
	switch {
	case n.storageErr != nil:
		why[n.cfg.Self] = LinkStorageFailure
	case st.Rebuilding:
		why[n.cfg.Self] = LinkCatchingUp
	}
	var match [Size]uint64
	leader := bs.RaftState == raft.StateLeader
	if leader {
		n.rn.WithProgress(func(pid uint64, _ raft.ProgressType, pr tracker.Progress) {
			if r := rank(pid); r >= 0 && r < Size {
				match[r] = pr.Match
			}
		})
	}
	for r := range Size {
		switch {
		case r == n.cfg.Self:
		case st.Rejected[r]:
			why[r] = n.refusedAs[r]
		case !st.Live[r]:
			why[r] = LinkUnreachable
		case n.peerRebuilding[r] || (leader && match[r] < bs.Commit) || (leader && n.resent[r].upTo != 0):
			why[r] = LinkCatchingUp
		}
	}
	return why
}

func clusterState(st Status) ClusterState {
	links := 0
	for a := range Size {
		for b := a + 1; b < Size; b++ {
			if st.LinkUp(a, b) {
				links++
			}
		}
	}
	switch {
	case links >= 2:
		return ClusterOperational
	case links == 1:
		return ClusterPartiallyOperational
	}
	return ClusterNotOperational
}
