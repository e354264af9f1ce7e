package hostid

import (
	"net/netip"
	"path"
	"strings"
)

// Identity is what a node lock is matched against: a client asking a vendor
// daemon for a license (from its checkout request), or this machine
// (Info.Identity, for the hostid of a SERVER line).
type Identity struct {
	User    string // matched by USER=
	Host    string // matched by HOSTNAME=
	Display string // matched by DISPLAY=
	// HostIDs are the host ids as reported: Ethernet addresses, IP
	// addresses (bare or written INTERNET=...), typed ids such as
	// FLEXID=9-abc.
	HostIDs []string
}

// Identity is this machine as a node lock sees it: its host name, with its
// Ethernet and IP addresses as host ids.
func (i Info) Identity() Identity {
	ids := make([]string, 0, len(i.Ethers)+len(i.IPs))
	ids = append(append(ids, i.Ethers...), i.IPs...)
	return Identity{Host: i.Hostname, HostIDs: ids}
}

// Lock is a parsed node lock: the hostid of a SERVER line or the HOSTID= of
// a FEATURE or INCREMENT line. The zero Lock, like that of an empty hostid,
// locks nothing.
type Lock struct {
	open bool // ANY or DEMO among the ids
	ids  []lockID
}

type lockID struct {
	kind  string // upper-case type before '=' (HOSTNAME, INTERNET, USER, DISPLAY, ID...); "" for a plain id
	value string // text after '=' (the whole id when kind is "")
	text  string // the whole id as written
	ether string // a plain id written 0x... or with colons: as 12 bare hex digits; else ""
}

// ParseLock parses a hostid: one id, or ids separated by blanks, possibly
// within double quotes.
func ParseLock(hostid string) Lock {
	var l Lock
	for _, f := range strings.Fields(strings.Trim(strings.TrimSpace(hostid), `"`)) {
		id := lockID{value: f, text: f}
		if k, v, ok := strings.Cut(f, "="); ok {
			id.kind, id.value = strings.ToUpper(k), v
		} else if e := strings.ReplaceAll(strings.TrimPrefix(strings.ToLower(f), "0x"), ":", ""); e != strings.ToLower(f) {
			id.ether = e
		}
		if strings.EqualFold(f, "ANY") || strings.EqualFold(f, "DEMO") || id.kind == "ANY" {
			return Lock{open: true}
		}
		l.ids = append(l.ids, id)
	}
	return l
}

// Empty reports whether l has no id at all: its hostid was empty.
func (l Lock) Empty() bool { return !l.open && len(l.ids) == 0 }

// Matches reports whether w passes the lock l: l is empty, or one of its
// ids is ANY, DEMO or ANY=..., or one of them matches w:
//
//   - HOSTNAME=x matches w.Host, case-insensitively;
//   - USER=x and DISPLAY=x match w.User and w.Display exactly;
//   - INTERNET=pattern matches a host id that is an IP address (bare or
//     written INTERNET=...): an IPv4 pattern a.b.c.d matches octet by octet,
//     '*' matching any octet and numbers comparing without leading zeros;
//     any pattern also matches as a path.Match pattern of an address as
//     written (IPv6 addresses, partial octets such as 10.1.2*);
//   - any other id, plain or typed (ID=, FLEXID=, ETHER=...), matches a
//     host id equal, case-insensitively, to the whole id or to its value; a
//     plain Ethernet address may also be written with a 0x prefix or with
//     colons (0x001122aabbcc, 00:11:22:aa:bb:cc).
//
// None of the typed ids matches an empty field of w.
func (l Lock) Matches(w Identity) bool {
	if l.open || len(l.ids) == 0 {
		return true
	}
	for i := range l.ids {
		if l.ids[i].matches(w) {
			return true
		}
	}
	return false
}

func (id *lockID) matches(w Identity) bool {
	switch id.kind {
	case "HOSTNAME":
		return w.Host != "" && strings.EqualFold(id.value, w.Host)
	case "USER":
		return w.User != "" && id.value == w.User
	case "DISPLAY":
		return w.Display != "" && id.value == w.Display
	case "INTERNET":
		for _, c := range w.HostIDs {
			if ipMatches(id.value, c) {
				return true
			}
		}
		return false
	}
	// The client may report either the whole typed text or the bare value.
	for _, c := range w.HostIDs {
		if strings.EqualFold(c, id.text) || strings.EqualFold(c, id.value) ||
			id.ether != "" && strings.EqualFold(c, id.ether) {
			return true
		}
	}
	return false
}

// ipMatches reports whether host id c, an IP address written bare or as
// INTERNET=..., matches pattern (see Lock.Matches).
func ipMatches(pattern, c string) bool {
	if len(c) > 9 && strings.EqualFold(c[:9], "INTERNET=") {
		c = c[9:]
	}
	if octetsMatch(pattern, c) {
		return true
	}
	if ok, _ := path.Match(pattern, c); !ok {
		return false
	}
	_, err := netip.ParseAddr(c)
	return err == nil
}

// octetsMatch reports whether c, an IPv4 address, matches pattern, whose
// octets may be '*'.
func octetsMatch(pattern, c string) bool {
	pp := strings.Split(pattern, ".")
	cp := strings.Split(c, ".")
	if len(pp) != 4 || len(cp) != 4 {
		return false
	}
	for i := range 4 {
		if cp[i] == "" || strings.Trim(cp[i], "0123456789") != "" {
			return false
		}
		if pp[i] != "*" && strings.TrimLeft(pp[i], "0") != strings.TrimLeft(cp[i], "0") {
			return false
		}
	}
	return true
}
