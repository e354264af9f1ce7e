package main

import (
	"net"
	"testing"

	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/assert"

	"github.com/lmtriad/lmtriad/hostid"
	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/wire"
)

// addrConn is a net.Conn that only knows its peer's address.
type addrConn struct {
	net.Conn
	remote net.Addr
}

func (c addrConn) RemoteAddr() net.Addr { return c.remote }

func TestAdminRequestsRestrictedByLocalRemoteAdminAndX(t *testing.T) {
	remote := &net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 5000}
	local := &net.TCPAddr{IP: net.ParseIP("127.0.0.5"), Port: 5000}
	tests := []struct {
		name     string
		opts     Options
		from     net.Addr
		disabled bool
		wantCode int
		wantLog  string
	}{
		{"remote refused by the default restricted", NewOptions(), remote, false, wire.CodeNotLicAdmin,
			"lmdown refused for joe at node (192.0.2.7): You are not a license administrator. (-63,2:lmdown from another host needs the full admin password (LM_ADMIN_PASSWORD, -password-file) or lmgrd -remote-admin full"},
		{"remote admitted by -remote-admin full", Options{RemoteAdmin: hostid.AccessFull}, remote, false, 0,
			"SHUTDOWN request from joe at node (192.0.2.7)"},
		{"-local refuses a remote peer", Options{LocalOnly: true, RemoteAdmin: hostid.AccessFull}, remote, false, wire.CodeMustBeLocal,
			"lmdown refused for joe at node (192.0.2.7)"},
		{"-local admits loopback", Options{LocalOnly: true}, local, false, 0,
			"SHUTDOWN request from joe at node (127.0.0.5)"},
		{"-x refuses even loopback", NewOptions(), local, true, wire.CodeNotLicAdmin,
			"lmdown refused for joe at node (127.0.0.5): You are not a license administrator. (-63,1:lmdown is disabled by lmgrd -x lmdown)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log, hook := logtest.NewNullLogger()
			a := &adminSession{s: &server{opts: tt.opts, log: log}, conn: addrConn{remote: tt.from},
				hello: wire.Hello("role", "admin", "user", "joe", "host", "node")}
			err := a.authorise("lmdown", "SHUTDOWN", tt.disabled, true)
			if assert.NotNil(t, hook.LastEntry()) {
				assert.Contains(t, hook.LastEntry().Message, tt.wantLog)
			}
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
