package vendorctl

import (
	"bytes"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"

	"github.com/lmtriad/lmtriad/handoff"
)

func pair(t *testing.T) (*Channel, *Channel) {
	t.Helper()
	parent, child, err := handoff.Pair()
	require.NoError(t, err)
	ch, err := handoff.FromFile(child)
	child.Close()
	require.NoError(t, err)
	a, b := New(parent), New(ch)
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func TestMessagesRoundTrip(t *testing.T) {
	lmgrd, vendord := pair(t)
	big := bytes.Repeat([]byte("0123456789"), 3*handoff.MaxMessage/10) // three packets and more
	sent := make(chan error, 1)
	go func() { // a table larger than the socket's buffer needs a reader meanwhile
		sent <- errors.Join(
			lmgrd.SendRole(Role{Serving: true, Lease: 1234567890123, Gen: 42}),
			lmgrd.SendRole(Role{Code: -20, Master: "27000@h1"}),
			lmgrd.SendTable(Table{Gen: 43, Snapshot: big}),
			lmgrd.SendCommitted(Committed{Gen: 43, Seq: 9}),
			lmgrd.SendRejected(Rejected{Gen: 43, Reason: "not the master"}),
			lmgrd.SendReread(),
			lmgrd.SendShutdown())
	}()
	require.NoError(t, vendord.SendPropose(Propose{Gen: 43, Seq: 10, Entry: []byte("entry")}))

	want := []Message{
		{Kind: KindRole, Role: Role{Serving: true, Lease: 1234567890123, Gen: 42}},
		{Kind: KindRole, Role: Role{Code: -20, Master: "27000@h1"}},
		{Kind: KindTable, Table: Table{Gen: 43, Snapshot: big}},
		{Kind: KindCommitted, Committed: Committed{Gen: 43, Seq: 9}},
		{Kind: KindRejected, Rejected: Rejected{Gen: 43, Reason: "not the master"}},
		{Kind: KindReread},
		{Kind: KindShutdown},
	}
	for _, w := range want {
		m, err := vendord.Recv()
		require.NoError(t, err)
		assert.Equal(t, w, m)
	}
	require.NoError(t, <-sent)
	m, err := lmgrd.Recv()
	require.NoError(t, err)
	assert.Equal(t, Message{Kind: KindPropose, Propose: Propose{Gen: 43, Seq: 10, Entry: []byte("entry")}}, m)
}

func TestClientCarriesItsSocket(t *testing.T) {
	lmgrd, vendord := pair(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	s, err := ln.Accept()
	require.NoError(t, err)
	require.NoError(t, lmgrd.SendClient("HELLO proto=1 vendor=demo", s.(*net.TCPConn)))
	s.Close()
	m, err := vendord.Recv()
	require.NoError(t, err)
	require.Equal(t, KindClient, m.Kind)
	assert.Equal(t, "HELLO proto=1 vendor=demo", m.Greeting)
	defer m.Conn.Close()
	_, err = m.Conn.Write([]byte("x"))
	require.NoError(t, err)
	buf := make([]byte, 1)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err = c.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "x", string(buf))
}

func TestAdminConnectionCarriesThePasswordLevel(t *testing.T) {
	lmgrd, vendord := pair(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	s, err := ln.Accept()
	require.NoError(t, err)
	require.NoError(t, lmgrd.SendAdmin("HELLO proto=1 role=admin vendor=demo", "full", s.(*net.TCPConn)))
	s.Close()
	m, err := vendord.Recv()
	require.NoError(t, err)
	require.Equal(t, KindAdmin, m.Kind)
	defer m.Conn.Close()
	assert.Equal(t, "HELLO proto=1 role=admin vendor=demo", m.Greeting)
	assert.Equal(t, "full", m.Password)
}

func TestBadPacketsAreErrorsOfOneMessage(t *testing.T) {
	lmgrd, vendord := pair(t)
	raw := lmgrd.ch
	for _, pkt := range [][]byte{{99, 'x'}, {byte(KindRole), '{'}, {byte(KindTable), 1, 2}, {byte(KindClient), 'h'}} {
		require.NoError(t, raw.Send(pkt, nil))
		_, err := vendord.Recv()
		require.ErrorIs(t, err, ErrMalformed, "%v", pkt)
	}
	// The channel is still good.
	require.NoError(t, lmgrd.SendReread())
	m, err := vendord.Recv()
	require.NoError(t, err)
	assert.Equal(t, KindReread, m.Kind)
	// Only the closed channel is the end.
	lmgrd.Close()
	_, err = vendord.Recv()
	assert.ErrorIs(t, err, ErrPeerClosed)
}

func TestArgsRoundTripThroughTheVendorDaemonsFlags(t *testing.T) {
	for _, a := range []Args{
		{Vendor: "demo", LicensePath: "/a.lic:/b", HandoffFD: 3, ServerHost: "h1", ServerPort: 27000, HeartbeatTimeout: 2 * time.Minute},
		{Vendor: "x", LicensePath: "l", HandoffFD: -1, DirectPort: 27010, ServerHost: "127.0.0.2", ServerPort: 1,
			HeartbeatTimeout: time.Second, MaxConnections: 7, MaxConnectionsPerHost: -1, LocalOnly: true, NoRemove: true, NoDown: true, RemoteAdmin: "none", VendorKeys: "/etc/lmtriad/keys", Unsigned: true, Triad: true, AutoRecycle: true},
	} {
		var got Args
		app := &cli.App{Flags: Flags(), Action: func(c *cli.Context) error { got = FromCLI(c); return nil }}
		require.NoError(t, app.Run(append([]string{"vendord"}, a.Argv()...)))
		assert.Equal(t, a, got)
	}
}

func FuzzRecv(f *testing.F) {
	f.Add([]byte{byte(KindRole), '{', '}'})
	f.Add([]byte{byte(KindPropose), 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 'e'})
	f.Add([]byte{byte(KindTable) | moreBit, 1})
	f.Add([]byte{byte(KindCommitted), '{', '"', 'g', 'e', 'n', '"', ':', '1', '}'})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		if len(pkt) == 0 || len(pkt) > handoff.MaxMessage {
			return
		}
		k := Kind(pkt[0] &^ moreBit)
		_, _ = decode(k, pkt[1:], nil) // must not panic
	})
}
