package hostid

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMatches(t *testing.T) {
	info := Info{Ethers: []string{"001122aabbcc"}, IPs: []string{"127.0.0.1", "10.1.2.3"}, Hostname: "lic1"}
	tests := []struct {
		id   string
		want bool
	}{
		{"ANY", true},
		{"any", true},
		{"DEMO", true},
		{"001122aabbcc", true},
		{"001122AABBCC", true},
		{"0x001122aabbcc", true},
		{"00:11:22:aa:bb:cc", true},
		{"001122aabbcd", false},
		{`"deadbeef0000 001122aabbcc"`, true},
		{"INTERNET=127.0.0.1", true},
		{"INTERNET=10.1.*.*", true},
		{"INTERNET=10.2.*.*", false},
		{"HOSTNAME=LIC1", true},
		{"HOSTNAME=lic2", false},
		{"ID=1234", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			assert.Equal(t, tt.want, info.Matches(tt.id), "Matches(%q)", tt.id)
		})
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
