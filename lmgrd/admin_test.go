package main

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/wire"
)

// addrConn is a net.Conn that only knows its peer's address.
type addrConn struct {
	net.Conn
	remote net.Addr
}

func (c addrConn) RemoteAddr() net.Addr { return c.remote }

func TestAdminRequestsRestrictedByLocalAndX(t *testing.T) {
	remote := &net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 5000}
	local := &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 5000}
	tests := []struct {
		name     string
		opts     Options
		from     net.Addr
		disabled bool
		wantCode int
	}{
		{"anyone by default", Options{}, remote, false, 0},
		{"-local refuses a remote peer", Options{LocalOnly: true}, remote, false, wire.CodeMustBeLocal},
		{"-local admits loopback", Options{LocalOnly: true}, local, false, 0},
		{"-x refuses even loopback", Options{}, local, true, wire.CodeNotLicAdmin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &adminSession{s: &server{opts: tt.opts}, conn: addrConn{remote: tt.from}}
			err := a.allowed(tt.disabled)
			if tt.wantCode == 0 {
				assert.Nil(t, err)
				return
			}
			if assert.NotNil(t, err) {
				assert.Equal(t, tt.wantCode, err.Code)
			}
		})
	}
}

func TestPickSelf(t *testing.T) {
	servers := []licfile.Server{{Host: "127.0.0.1"}, {Host: "127.0.0.2"}, {Host: "127.0.0.3"}}
	i, err := pickSelf(servers, "127.0.0.2")
	assert.NoError(t, err)
	assert.Equal(t, 1, i)
	_, err = pickSelf(servers, "127.0.0.9")
	assert.ErrorContains(t, err, "no SERVER line names that host")
	i, err = pickSelf(servers[:1], "")
	assert.NoError(t, err)
	assert.Equal(t, 0, i)
}
