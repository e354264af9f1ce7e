// Package hostid reads this machine's FlexLM host ids (what lmhostid prints)
// and matches node locks (the hostid of a SERVER line, the HOSTID= of a
// FEATURE line) against this machine or a license client (Lock).
package hostid

import (
	"net"
	"os"
	"sort"
	"strings"
)

// Info is what identifies a machine: its Ethernet addresses as 12 lower-case
// hex digits, its IP addresses and its host name.
type Info struct {
	Ethers   []string
	IPs      []string
	Hostname string
}

// Local reads the host ids of this machine.
func Local() (Info, error) {
	var info Info
	ifaces, err := net.Interfaces()
	if err != nil {
		return info, err
	}
	for _, ifc := range ifaces {
		if len(ifc.HardwareAddr) == 6 && ifc.Flags&net.FlagLoopback == 0 {
			info.Ethers = append(info.Ethers, strings.ReplaceAll(ifc.HardwareAddr.String(), ":", ""))
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				info.IPs = append(info.IPs, ipn.IP.String())
			}
		}
	}
	sort.Strings(info.Ethers)
	info.Hostname, _ = os.Hostname()
	return info, nil
}

// Default is the id lmhostid prints without options: the Ethernet
// addresses, or the host name on a machine that has none.
func (i Info) Default() string {
	if len(i.Ethers) > 0 {
		return strings.Join(i.Ethers, " ")
	}
	return "HOSTNAME=" + i.Hostname
}

// Matches reports whether the license hostid id (one id or a quoted list of
// ids separated by blanks) names this machine, by the rules of Lock.Matches
// applied to i.Identity(). An empty id names no machine.
func (i Info) Matches(id string) bool {
	l := ParseLock(id)
	return !l.Empty() && l.Matches(i.Identity())
}

// lookupIP resolves host names for IsHost; tests replace it.
var lookupIP = net.LookupIP

// IsHost reports whether ip is an address of host (a SERVER line's host):
// the address itself, or one it resolves to. Triad members check it of
// each other's connections, so a stranger cannot pose as a member.
func IsHost(ip net.IP, host string) bool {
	if h := net.ParseIP(host); h != nil {
		return h.Equal(ip)
	}
	addrs, err := lookupIP(host)
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if a.Equal(ip) {
			return true
		}
	}
	return false
}

// OwnAddress is the address of this machine that host (a SERVER line's
// host name or address) names: host itself when it is an IP address, else
// the first address it resolves to that belongs to this machine (loopback
// included). nil when there is none.
func OwnAddress(host string) net.IP {
	if ip := net.ParseIP(host); ip != nil {
		return ip
	}
	addrs, err := lookupIP(host)
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if a.To4() != nil && isLocalIP(a, interfaceAddrs) {
			return a
		}
	}
	for _, a := range addrs {
		if isLocalIP(a, interfaceAddrs) {
			return a
		}
	}
	return nil
}

// IsLocalPeer reports whether a connection's remote address is on this
// machine: a loopback address, one of this machine's own interface
// addresses (net.InterfaceAddrs: a connection from this host to its own
// LAN address comes from that address), or not an IP connection at all (a
// Unix socket or a pipe). lmgrd -local admits admin requests only from
// those, and they get full administration (see AdminPolicy).
func IsLocalPeer(a net.Addr) bool {
	var ip net.IP
	switch ta := a.(type) {
	case *net.TCPAddr:
		ip = ta.IP
	case *net.UDPAddr:
		ip = ta.IP
	case *net.IPAddr:
		ip = ta.IP
	default:
		return true
	}
	return isLocalIP(ip, interfaceAddrs)
}

// interfaceAddrs lists this machine's addresses; tests replace it.
var interfaceAddrs = net.InterfaceAddrs

func isLocalIP(ip net.IP, addrs func() ([]net.Addr, error)) bool {
	if ip == nil {
		return false
	}
	if ip.IsLoopback() {
		return true
	}
	list, err := addrs()
	if err != nil {
		return false
	}
	for _, a := range list {
		var own net.IP
		switch v := a.(type) {
		case *net.IPNet:
			own = v.IP
		case *net.IPAddr:
			own = v.IP
		}
		if own != nil && own.Equal(ip) {
			return true
		}
	}
	return false
}
