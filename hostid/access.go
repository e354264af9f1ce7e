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
// remote one gets Remote (-remote-admin), raised to the level of the
// administrator password it proved, but never more than restricted under
// LocalOnly (-local: admin commands only from this host).
//
// The password argument of the methods is the level a request proved with
// a password (package adminauth); AccessAnonymous when it proved none.
type AdminPolicy struct {
	Remote    Access
	LocalOnly bool
}

// Level is the access of a request from peer.
func (p AdminPolicy) Level(peer net.Addr, password Access) Access {
	return p.LevelFor(IsLocalPeer(peer), password)
}

// LevelFor is the access of a request from this host (local) or another.
func (p AdminPolicy) LevelFor(local bool, password Access) Access {
	if local {
		return AccessFull
	}
	lv := max(p.Remote, password)
	if p.LocalOnly && lv > AccessRestricted {
		return AccessRestricted
	}
	return lv
}

// Authorise decides an admin action (command is lmutil's name for it:
// lmdown, lmremove, lmreread, lmenroll, lmpasswd) from peer: nil if it may
// go ahead, else the error to answer. disabled is lmgrd -x for that
// command. The refusals: -x gives -63 with a detail naming -x; -local
// gives -119 to a remote peer, password or not; a remote peer below full
// access (-remote-admin, no full password) gets -63 minor 2.
func (p AdminPolicy) Authorise(command string, disabled bool, peer net.Addr, password Access) *wire.Error {
	return p.authorise(command, disabled, IsLocalPeer(peer), password)
}

// MinorNeedsFull is the minor code of the -63 that a remote request below
// full access gets: lmutil then asks for the full password on a terminal.
const MinorNeedsFull = 2

func (p AdminPolicy) authorise(command string, disabled, local bool, password Access) *wire.Error {
	if disabled {
		return wire.NewError(wire.CodeNotLicAdmin, 1).WithDetail(command + " is disabled by lmgrd -x " + command)
	}
	if local {
		return nil
	}
	if p.LocalOnly {
		return wire.NewError(wire.CodeMustBeLocal, 1).WithDetail("lmgrd -local: " + command + " only from the license server's host")
	}
	if lv := p.LevelFor(false, password); lv < AccessFull {
		return wire.NewError(wire.CodeNotLicAdmin, MinorNeedsFull).WithDetail(command + " from another host needs the full admin password " +
			"(LM_ADMIN_PASSWORD, -password-file) or lmgrd -remote-admin full (this request has " + lv.String() + " access)")
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

// WhoWithPassword is Who, noting the administrator password the request
// proved (none: AccessAnonymous): "joe at node (10.1.2.3) with the full
// password".
func WhoWithPassword(user, host string, peer net.Addr, password Access) string {
	if password == AccessAnonymous {
		return Who(user, host, peer)
	}
	return Who(user, host, peer) + " with the " + password.String() + " password"
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
