package hostid

import (
	"fmt"
	"net"

	"github.com/lmtriad/lmtriad/wire"
)

// Access is what an administrator's request may see and do.
type Access int

const (
	// AccessAnonymous reads feature totals only, as FlexLM's lmstat shows
	// them without user lines: no user, host or display of a holder.
	AccessAnonymous Access = iota
	// AccessRestricted reads everything, holders' identities included, and
	// changes nothing.
	AccessRestricted
	// AccessFull also acts: lmdown, lmremove, lmreread, lmenroll.
	AccessFull
)

// Names of the levels, as lmgrd -remote-admin takes them ("none" is
// anonymous: reads see totals, actions are refused).
const (
	RemoteAdminNone       = "none"
	RemoteAdminRestricted = "restricted"
	RemoteAdminFull       = "full"
)

// DefaultRemoteAdmin is what remote requests get unless -remote-admin says
// otherwise.
const DefaultRemoteAdmin = RemoteAdminRestricted

func (a Access) String() string {
	switch a {
	case AccessAnonymous:
		return "anonymous"
	case AccessRestricted:
		return "restricted"
	case AccessFull:
		return "full"
	}
	return fmt.Sprintf("Access(%d)", int(a))
}

// RemoteAdmin is the -remote-admin name of a: none, restricted or full.
func (a Access) RemoteAdmin() string {
	switch a {
	case AccessAnonymous:
		return RemoteAdminNone
	case AccessFull:
		return RemoteAdminFull
	}
	return RemoteAdminRestricted
}

// ParseRemoteAdmin reads an -remote-admin value: none, restricted or full
// ("" is the default, restricted).
func ParseRemoteAdmin(s string) (Access, error) {
	switch s {
	case "", RemoteAdminRestricted:
		return AccessRestricted, nil
	case RemoteAdminNone:
		return AccessAnonymous, nil
	case RemoteAdminFull:
		return AccessFull, nil
	}
	return 0, fmt.Errorf("-remote-admin %q: want none, restricted or full", s)
}

// AdminPolicy is lmgrd's rule for administrators, shared with its vendor
// daemons: a request from this host (IsLocalPeer) has full access; a
// remote one gets Remote (-remote-admin), but never more than restricted
// under LocalOnly (-local: admin commands only from this host).
type AdminPolicy struct {
	Remote    Access
	LocalOnly bool
}

// Level is the access of a request from peer.
func (p AdminPolicy) Level(peer net.Addr) Access {
	return p.LevelFor(IsLocalPeer(peer))
}

// LevelFor is the access of a request from this host (local) or another.
func (p AdminPolicy) LevelFor(local bool) Access {
	if local {
		return AccessFull
	}
	if p.LocalOnly && p.Remote > AccessRestricted {
		return AccessRestricted
	}
	return p.Remote
}

// Authorise decides an admin action (command is lmutil's name for it:
// lmdown, lmremove, lmreread, lmenroll) from peer: nil if it may go
// ahead, else the error to answer. disabled is lmgrd -x for that command.
// The refusals: -x gives -63 with a detail naming -x; -local gives -119
// to a remote peer; a remote peer below full access (-remote-admin) gets
// -63.
func (p AdminPolicy) Authorise(command string, disabled bool, peer net.Addr) *wire.Error {
	return p.authorise(command, disabled, IsLocalPeer(peer))
}

func (p AdminPolicy) authorise(command string, disabled, local bool) *wire.Error {
	if disabled {
		return wire.NewError(wire.CodeNotLicAdmin, 1).WithDetail(command + " is disabled by lmgrd -x " + command)
	}
	if local {
		return nil
	}
	if p.LocalOnly {
		return wire.NewError(wire.CodeMustBeLocal, 1).WithDetail("lmgrd -local: " + command + " only from the license server's host")
	}
	if lv := p.LevelFor(false); lv < AccessFull {
		return wire.NewError(wire.CodeNotLicAdmin, 2).WithDetail(command + " from another host needs lmgrd -remote-admin full (remote access is " + lv.String() + ")")
	}
	return nil
}

// Who describes an administrator's request for the log, FlexLM-style:
// "joe at node (10.1.2.3)", from the user and host its HELLO gave and the
// connection's source address.
func Who(user, host string, peer net.Addr) string {
	if user == "" {
		user = "unknown"
	}
	if host == "" {
		host = "unknown"
	}
	return user + " at " + host + " (" + PeerAddress(peer) + ")"
}

// PeerAddress is the IP address of peer without the port ("local" for a
// connection that is not IP).
func PeerAddress(peer net.Addr) string {
	switch a := peer.(type) {
	case *net.TCPAddr:
		return a.IP.String()
	case *net.UDPAddr:
		return a.IP.String()
	case *net.IPAddr:
		return a.IP.String()
	case nil:
		return "unknown"
	}
	return "local"
}
