package quorum

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Role is a server's place in the triad.
type Role uint8

const (
	// RoleNoQuorum: no live peer (alone). Serves nothing; FlexLM logs "Lost quorum".
	RoleNoQuorum Role = iota
	// RoleStandby: in quorum, not master (FlexLM's slave). Redirects clients to Status.Master.
	RoleStandby
	// RoleMaster: claims the master role. It serves only while Status.Serving, i.e.
	// while its lease is valid; a master that is not serving yet answers clients
	// "-23 License server system temporarily busy (new server connecting)".
	RoleMaster
)

func (r Role) String() string {
	switch r {
	case RoleNoQuorum:
		return "NoQuorum"
	case RoleStandby:
		return "Standby"
	case RoleMaster:
		return "Master"
	}
	return "Role(" + strconv.Itoa(int(r)) + ")"
}

// ClusterState is the cluster status in the words of the DSLS License
// Administration Tool, computed from the link matrix as one server sees it.
type ClusterState uint8

const (
	// ClusterNotOperational: no link at all (red). This server has no quorum.
	ClusterNotOperational ClusterState = iota
	// ClusterPartiallyOperational: exactly one link (yellow): one member is out, the
	// other two still form a quorum; losing one more stops the cluster.
	ClusterPartiallyOperational
	// ClusterOperational: at least two links (green), so every member is connected
	// to the cluster. A single cut link between two members still counts as green.
	ClusterOperational
)

func (c ClusterState) String() string {
	switch c {
	case ClusterNotOperational:
		return "not operational"
	case ClusterPartiallyOperational:
		return "partially operational"
	case ClusterOperational:
		return "operational"
	}
	return "ClusterState(" + strconv.Itoa(int(c)) + ")"
}

// LinkReason says why a member's link is not usable, as one server sees it
// (Status.LinkReason); LinkOK when it is.
type LinkReason uint8

const (
	LinkOK LinkReason = iota
	// LinkUnreachable: nothing heard from the peer within the election
	// timeout (down, cut off, or its envelopes refused by the transport:
	// see TLSTransport.LastRefusal for why).
	LinkUnreachable
	// LinkServerMismatch: the peer is heard but its SERVER lines differ.
	LinkServerMismatch
	// LinkClockSkew: the peer is heard but its wall clock is more than
	// Config.MaxClockSkew away.
	LinkClockSkew
	// LinkCatchingUp: a live peer that this server, the leader, sees
	// behind its commit index, or that says it is rebuilding its store;
	// or this server itself while Status.Rebuilding.
	LinkCatchingUp
	// LinkStorageFailure: this server's raft log could not be stored
	// (Status.StorageErr).
	LinkStorageFailure
)

func (l LinkReason) String() string {
	switch l {
	case LinkOK:
		return "ok"
	case LinkUnreachable:
		return "unreachable"
	case LinkServerMismatch:
		return "SERVER line mismatch"
	case LinkClockSkew:
		return "clock skew"
	case LinkCatchingUp:
		return "catching up"
	case LinkStorageFailure:
		return "storage failure"
	}
	return "LinkReason(" + strconv.Itoa(int(l)) + ")"
}

// EventKind classifies log events.
type EventKind uint8

const (
	EventConnected       EventKind = iota + 1 // "Connected to HOST"
	EventLostConnection                       // "Lost connection to HOST"
	EventMaster                               // "CONNECTED, master is HOST"
	EventLostQuorum                           // "Lost quorum"
	EventExistingMaster                       // "Selected (EXISTING) master node"
	EventServerMismatch                       // SERVER lines differ in hosts, ports or order
	EventLicenseMismatch                      // a peer's licenses differ from ours, or match again (information only)
	EventLogLost                              // this member lacks entries the master counts on
	EventClockSkew                            // a peer's wall clock is off by more than MaxClockSkew, or back within it
)

func (k EventKind) String() string {
	switch k {
	case EventConnected:
		return "Connected"
	case EventLostConnection:
		return "LostConnection"
	case EventMaster:
		return "Master"
	case EventLostQuorum:
		return "LostQuorum"
	case EventExistingMaster:
		return "ExistingMaster"
	case EventServerMismatch:
		return "ServerMismatch"
	case EventLicenseMismatch:
		return "LicenseMismatch"
	case EventLogLost:
		return "LogLost"
	case EventClockSkew:
		return "ClockSkew"
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// Event is something lmgrd writes to its debug log.
type Event struct {
	Kind EventKind
	// Peer is the rank concerned (the peer or the master), or None.
	Peer int
	// Host is Peer's host name, "" when Peer is None.
	Host string
	// Text is the debug-log message in FlexLM's wording, e.g. "Connected to host1".
	Text string
	// Detail adds facts for the log (mismatches: both host lists), or "".
	Detail string
}

func (e Event) String() string {
	if e.Detail == "" {
		return e.Text
	}
	return e.Text + " (" + e.Detail + ")"
}

// Status is a snapshot of one server's view of the triad.
type Status struct {
	Self  int
	Hosts [Size]string
	// Now is the server's tick counter.
	Now     int64
	Role    Role
	Serving bool
	// Master is raft's leader as this server knows it, or None. Non-masters
	// redirect clients to it.
	Master int
	// Live[r]: this server hears r (Live[Self] is true).
	Live [Size]bool
	// Rejected[r]: r is heard but refused for a SERVER line mismatch or a
	// clock too far off.
	Rejected [Size]bool
	// Links[a][b]: a reports hearing b. Row Self is this server's own view; a live
	// peer's row is what its last message said; other rows are all false
	// (unknown). Links[a][a] is true when a is known to be up.
	Links [Size][Size]bool
	// Cluster is the DSLS cluster status from the undirected links (a,b) for which
	// Links[a][b] or Links[b][a].
	Cluster ClusterState
	// LeaseLeft is how many ticks the master's lease still runs.
	LeaseLeft int64
	// Term, Commit and Applied are raft's term, commit index and the index
	// applied to the license tables.
	Term, Commit, Applied uint64
	// LastIndex is the last entry in this server's log: on a master, entries
	// after Applied are its own proposals still in flight.
	LastIndex uint64
	// Rebuilding: this server started with an empty raft store (a first
	// start, a lost or replaced -state directory, or Config.Rebuilt) and has
	// not yet applied the commit index a leader sent it since. Until then it
	// holds back its votes (docs/triad.md, "A member that lost its store").
	Rebuilding bool
	// StorageErr is why this server's raft log could not be stored (the
	// error of Ready, wrapping ErrStorage), or "". While it is set the
	// server takes no part: not serving, Role NoQuorum, Master None.
	StorageErr string
	// Skew[r] is peer r's wall clock minus this server's, as last measured
	// (from r's last envelope; 0 when never measured: neither side sets
	// its wall clock, or r was not heard). Skew[Self] is 0.
	Skew [Size]time.Duration
	// SkewOver[r]: Skew[r] is beyond Config.MaxClockSkew, so r is refused.
	SkewOver [Size]bool
	// PeerLicenseDigest[r] is the license digest r serves: this server's
	// own at Self, a peer's as last heard ("" when never heard). Members
	// whose digests differ stay in the triad; lmstat shows whether they
	// are in sync (LicensesInSync).
	PeerLicenseDigest [Size]string
	// LinkReason[r] says why member r is not live or not usable, as this
	// server sees it (LinkOK when it is): for a peer, unreachable, SERVER
	// line mismatch, clock skew or catching up; for Self, storage failure
	// or catching up (rebuilding).
	LinkReason [Size]LinkReason
}

// LicensesInSync reports whether every live peer serves the licenses this
// server serves (by PeerLicenseDigest).
func (s Status) LicensesInSync() bool {
	for r := range Size {
		if r != s.Self && s.Live[r] && s.PeerLicenseDigest[r] != s.PeerLicenseDigest[s.Self] {
			return false
		}
	}
	return true
}

// MasterHost returns the master's host name, or "" when there is none.
func (s Status) MasterHost() string {
	if s.Master < 0 || s.Master >= Size {
		return ""
	}
	return s.Hosts[s.Master]
}

// LinkUp reports whether the undirected link a-b is known to be up.
func (s Status) LinkUp(a, b int) bool { return a != b && (s.Links[a][b] || s.Links[b][a]) }

// String is a one-line summary, e.g.
// "Master serving master=host0 cluster=operational links=0-1,0-2,1-2"; a
// member that is rebuilding its store says so after its role.
func (s Status) String() string {
	var b strings.Builder
	b.WriteString(s.Role.String())
	if s.Serving {
		b.WriteString(" serving")
	}
	if s.Rebuilding {
		b.WriteString(" rebuilding")
	}
	if s.StorageErr != "" {
		b.WriteString(" storage-failed")
	}
	master := s.MasterHost()
	if master == "" {
		master = "none"
	}
	fmt.Fprintf(&b, " master=%s cluster=%q links=", master, s.Cluster.String())
	var links []string
	for a := range Size {
		for c := a + 1; c < Size; c++ {
			if s.LinkUp(a, c) {
				links = append(links, fmt.Sprintf("%d-%d", a, c))
			}
		}
	}
	if len(links) == 0 {
		b.WriteString("none")
	}
	b.WriteString(strings.Join(links, ","))
	var rej []string
	for r, x := range s.Rejected {
		if x {
			rej = append(rej, s.Hosts[r])
		}
	}
	if len(rej) > 0 {
		b.WriteString(" rejected=" + strings.Join(rej, ","))
	}
	return b.String()
}
