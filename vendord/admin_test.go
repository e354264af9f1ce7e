package main

import (
	"net"
	"testing"

	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lmtriad/lmtriad/pool"
	"github.com/lmtriad/lmtriad/vendorctl"
	"github.com/lmtriad/lmtriad/wire"
)

func TestLmremoveFollowsLmgrdsAdminPolicy(t *testing.T) {
	remote := &net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 5000}
	local := &net.TCPAddr{IP: net.ParseIP("127.0.0.5"), Port: 5000}
	tests := []struct {
		name     string
		args     vendorctl.Args
		from     net.Addr
		wantCode int
		wantLog  string
	}{
		{"local is full", vendorctl.Args{RemoteAdmin: "none"}, local, 0, "lmremove request from joe at node (127.0.0.5)"},
		{"remote, default restricted", vendorctl.Args{}, remote, wire.CodeNotLicAdmin, "lmremove refused for joe at node (192.0.2.7)"},
		{"remote, none", vendorctl.Args{RemoteAdmin: "none"}, remote, wire.CodeNotLicAdmin, "lmremove refused for joe at node (192.0.2.7)"},
		{"remote, full", vendorctl.Args{RemoteAdmin: "full"}, remote, 0, "lmremove request from joe at node (192.0.2.7)"},
		{"remote, full but -local", vendorctl.Args{RemoteAdmin: "full", LocalOnly: true}, remote, wire.CodeMustBeLocal, "lmremove refused for joe at node (192.0.2.7)"},
		{"-x lmremove, local", vendorctl.Args{NoRemove: true}, local, wire.CodeNotLicAdmin, "disabled by lmgrd -x lmremove"},
		{"unreadable -remote-admin is anonymous", vendorctl.Args{RemoteAdmin: "bogus"}, remote, wire.CodeNotLicAdmin, "refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log, hook := logtest.NewNullLogger()
			s := &session{d: &daemon{opts: Options{Args: tt.args}, log: log}, conn: peerConn{addr: tt.from},
				client: pool.Client{User: "joe", Host: "node"}}
			err := s.authorise("lmremove", tt.args.NoRemove)
			require.NotNil(t, hook.LastEntry())
			assert.Contains(t, hook.LastEntry().Message, tt.wantLog)
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

func TestAnonymousStatusCarriesNoIdentities(t *testing.T) {
	resp := wire.OK("vendor", "demo", "records", "4")
	records := []wire.Message{
		wire.New("FEATURE", "name", "solver", "issued", "2", "inuse", "1"),
		wire.New("POOL", "feature", "solver", "count", "2", "inuse", "1"),
		wire.New("HOLDER", "feature", "solver", "user", "alice", "host", "ws1", "display", "/dev/pts/1"),
		wire.New("FEATURE", "name", "mesher", "issued", "1", "inuse", "0"),
	}
	resp, got := anonymousStatus(resp, records)
	assert.Equal(t, "3", resp.Get("records"))
	assert.Equal(t, "anonymous", resp.Get("access"))
	for _, r := range got {
		assert.NotEqual(t, "HOLDER", r.Verb)
		assert.Empty(t, r.Get("user"))
	}
	assert.Equal(t, "1", got[0].Get("inuse"), "totals kept")
	assert.Len(t, records, 4, "the full answer is not changed")
}
