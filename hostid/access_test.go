package hostid

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/lmtriad/lmtriad/wire"
)

func TestIsLocalPeerKnowsThisHostsOwnAddresses(t *testing.T) {
	own := func() ([]net.Addr, error) {
		return []net.Addr{
			&net.IPNet{IP: net.ParseIP("10.1.2.3"), Mask: net.CIDRMask(24, 32)},
			&net.IPNet{IP: net.ParseIP("fd00::5"), Mask: net.CIDRMask(64, 128)},
		}, nil
	}
	assert.True(t, isLocalIP(net.ParseIP("10.1.2.3"), own), "this host's LAN address")
	assert.True(t, isLocalIP(net.ParseIP("fd00::5"), own))
	assert.True(t, isLocalIP(net.ParseIP("127.0.0.5"), own), "loopback")
	assert.False(t, isLocalIP(net.ParseIP("10.1.2.4"), own), "a neighbour on the same subnet")
	assert.False(t, isLocalIP(nil, own))

	// The real interfaces: every address of this machine is local.
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Skip("no interface addresses:", err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			assert.True(t, IsLocalPeer(&net.TCPAddr{IP: n.IP, Port: 4000}), "%v", n.IP)
		}
	}
}

func TestAdminLevelAndAuthorisation(t *testing.T) {
	tests := []struct {
		name      string
		remote    string // -remote-admin
		localOnly bool   // -local
		local     bool   // the request comes from this host
		disabled  bool   // -x for the command
		password  Access // the level of the password the request proved
		want      Access
		wantCode  int // of Authorise; 0: allowed
	}{
		{"local address, default", "", false, true, false, AccessAnonymous, AccessFull, 0},
		{"loopback under -remote-admin none", "none", false, true, false, AccessAnonymous, AccessFull, 0},
		{"local under -local", "", true, true, false, AccessAnonymous, AccessFull, 0},
		{"remote, default restricted", "", false, false, false, AccessAnonymous, AccessRestricted, wire.CodeNotLicAdmin},
		{"remote, restricted", "restricted", false, false, false, AccessAnonymous, AccessRestricted, wire.CodeNotLicAdmin},
		{"remote, none", "none", false, false, false, AccessAnonymous, AccessAnonymous, wire.CodeNotLicAdmin},
		{"remote, full", "full", false, false, false, AccessAnonymous, AccessFull, 0},
		{"remote, full but -local", "full", true, false, false, AccessAnonymous, AccessRestricted, wire.CodeMustBeLocal},
		{"remote, none and -local", "none", true, false, false, AccessAnonymous, AccessAnonymous, wire.CodeMustBeLocal},
		{"-x refuses even local", "", false, true, true, AccessAnonymous, AccessFull, wire.CodeNotLicAdmin},
		{"-x refuses remote full", "full", false, false, true, AccessAnonymous, AccessFull, wire.CodeNotLicAdmin},
		{"remote with the full password", "", false, false, false, AccessFull, AccessFull, 0},
		{"remote, none, with the full password", "none", false, false, false, AccessFull, AccessFull, 0},
		{"remote, none, with the restricted password", "none", false, false, false, AccessRestricted, AccessRestricted, wire.CodeNotLicAdmin},
		{"remote with the full password under -local", "", true, false, false, AccessFull, AccessRestricted, wire.CodeMustBeLocal},
		{"-x refuses the full password", "", false, false, true, AccessFull, AccessFull, wire.CodeNotLicAdmin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			remote, err := ParseRemoteAdmin(tt.remote)
			assert.NoError(t, err)
			p := AdminPolicy{Remote: remote, LocalOnly: tt.localOnly}
			assert.Equal(t, tt.want, p.LevelFor(tt.local, tt.password))
			werr := p.authorise("lmdown", tt.disabled, tt.local, tt.password)
			if tt.wantCode == 0 {
				assert.Nil(t, werr)
				return
			}
			if assert.NotNil(t, werr) {
				assert.Equal(t, tt.wantCode, werr.Code)
				if tt.disabled {
					assert.Contains(t, werr.Detail, "disabled by lmgrd -x lmdown")
				}
			}
		})
	}
	_, err := ParseRemoteAdmin("everyone")
	assert.Error(t, err)
}

func TestAuthoriseFromAddresses(t *testing.T) {
	p := AdminPolicy{Remote: AccessRestricted}
	assert.Nil(t, p.Authorise("lmreread", false, &net.TCPAddr{IP: net.ParseIP("127.0.0.1")}, AccessAnonymous))
	assert.Nil(t, p.Authorise("lmreread", false, &net.UnixAddr{Name: "@x", Net: "unix"}, AccessAnonymous))
	assert.NotNil(t, p.Authorise("lmreread", false, &net.TCPAddr{IP: net.ParseIP("192.0.2.7")}, AccessAnonymous))
	assert.Equal(t, "joe at node (10.1.2.3)", Who("joe", "node", &net.TCPAddr{IP: net.ParseIP("10.1.2.3"), Port: 7}))
	assert.Equal(t, "unknown at unknown (192.0.2.7)", Who("", "", &net.TCPAddr{IP: net.ParseIP("192.0.2.7")}))
}
