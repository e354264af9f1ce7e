package hostid

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestLockMatches holds the cases of both former matchers: this machine's
// (w nil: checked through Info.Matches, as lmgrd checks its SERVER line) and
// a license client's (checked through Lock.Matches, as the pool checks a
// FEATURE's HOSTID).
func TestLockMatches(t *testing.T) {
	info := Info{Ethers: []string{"001122aabbcc"}, IPs: []string{"127.0.0.1", "10.1.2.3", "fd00::2"}, Hostname: "lic1"}
	client := &Identity{User: "ann", Host: "WS1.example.com", Display: ":0", HostIDs: []string{"00AABBCCDDEE", "10.1.2.3", "FLEXID=9-abc"}}
	tests := []struct {
		hostid string
		w      *Identity // nil: this machine, info
		want   bool
	}{
		{"ANY", nil, true},
		{"any", nil, true},
		{"DEMO", nil, true},
		{"ANY=x", nil, true},
		{"001122aabbcc", nil, true},
		{"001122AABBCC", nil, true},
		{"0x001122aabbcc", nil, true},
		{"00:11:22:aa:bb:cc", nil, true},
		{"001122aabbcd", nil, false},
		{`"deadbeef0000 001122aabbcc"`, nil, true},
		{"ETHER=001122AABBCC", nil, true},
		{"INTERNET=127.0.0.1", nil, true},
		{"INTERNET=10.1.*.*", nil, true},
		{"INTERNET=10.2.*.*", nil, false},
		{"INTERNET=10.1.2*", nil, true},
		{"INTERNET=fd00::*", nil, true},
		{"INTERNET=fd01::*", nil, false},
		{"HOSTNAME=LIC1", nil, true},
		{"HOSTNAME=lic2", nil, false},
		{"ID=1234", nil, false},
		{"", nil, false}, // names no machine (a pool without HOSTID is open, below)

		{"", client, true},
		{"ANY", &Identity{}, true},
		{"demo", &Identity{}, true},
		{"00aabbccddee", client, true},
		{"0x00aabbccddee", client, true},
		{"00:aa:bb:cc:dd:ee", client, true},
		{"001122334455", client, false},
		{`"001122334455 00AABBCCDDEE"`, client, true},
		{"HOSTNAME=ws1.EXAMPLE.com", client, true},
		{"HOSTNAME=ws2", client, false},
		{"INTERNET=10.1.*.*", client, true},
		{"INTERNET=10.1.2.3", client, true},
		{"INTERNET=10.2.*.*", client, false},
		{"INTERNET=10.1.*.*", &Identity{HostIDs: []string{"INTERNET=10.1.9.9"}}, true},
		{"INTERNET=10.1.*.*", &Identity{HostIDs: []string{"10.1.2"}}, false},
		{"INTERNET=*", &Identity{HostIDs: []string{"00AABBCCDDEE"}}, false},
		{"FLEXID=9-ABC", client, true},
		{"ID=00AABBCCDDEE", client, true},
		{"USER=ann", client, true},
		{"USER=bob", client, false},
		{"USER=", &Identity{}, false},
		{"DISPLAY=:0", client, true},
		{"HOSTNAME=", &Identity{}, false},
	}
	for _, tt := range tests {
		if tt.w == nil {
			assert.Equal(t, tt.want, info.Matches(tt.hostid), "Info.Matches(%q)", tt.hostid)
			continue
		}
		assert.Equal(t, tt.want, ParseLock(tt.hostid).Matches(*tt.w), "HOSTID=%s matches %+v", tt.hostid, *tt.w)
	}
}

func TestDefault(t *testing.T) {
	assert.Equal(t, "001122aabbcc", Info{Ethers: []string{"001122aabbcc"}}.Default())
	assert.Equal(t, "HOSTNAME=box", Info{Hostname: "box"}.Default())
}

func TestLocalHasLoopbackAddress(t *testing.T) {
	info, err := Local()
	assert.NoError(t, err)
	assert.True(t, info.Matches("INTERNET=127.0.0.1"), "loopback address must be among %v", info.IPs)
}

func TestIsHost(t *testing.T) {
	lookupIP = func(host string) ([]net.IP, error) {
		if host == "lic2" {
			return []net.IP{net.ParseIP("10.0.0.2"), net.ParseIP("fd00::2")}, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	defer func() { lookupIP = net.LookupIP }()
	tests := []struct {
		ip, host string
		want     bool
	}{
		{"127.0.0.2", "127.0.0.2", true},
		{"127.0.0.3", "127.0.0.2", false},
		{"10.0.0.2", "lic2", true},
		{"fd00::2", "lic2", true},
		{"10.0.0.9", "lic2", false},
		{"10.0.0.2", "unknown", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, IsHost(net.ParseIP(tt.ip), tt.host), "IsHost(%s, %s)", tt.ip, tt.host)
	}
}

func TestIsLocalPeer(t *testing.T) {
	assert.True(t, IsLocalPeer(&net.TCPAddr{IP: net.ParseIP("127.0.0.3")}))
	assert.True(t, IsLocalPeer(&net.TCPAddr{IP: net.ParseIP("::1")}))
	assert.False(t, IsLocalPeer(&net.TCPAddr{IP: net.ParseIP("192.0.2.7")}))
	assert.True(t, IsLocalPeer(&net.UnixAddr{Name: "@x", Net: "unix"}))
}
