package main

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lmtriad/lmtriad/wire"
)

// peerConn is a connection that only knows its peer's address: what
// reserve and admit look at.
type peerConn struct {
	net.Conn
	addr net.Addr
}

func (c peerConn) RemoteAddr() net.Addr { return c.addr }

// noPeer has no address (not TCP): it is not counted per host.
var noPeer net.Conn = peerConn{}

func peerAt(ip string, port int) net.Conn {
	return peerConn{addr: &net.TCPAddr{IP: net.ParseIP(ip), Port: port}}
}

func reserved(d *daemon, c net.Conn, admin bool) bool {
	_, why := d.reserve(c, admin)
	return why == admitted
}

func TestHostOf(t *testing.T) {
	assert.Equal(t, "127.0.0.2", hostOf(&net.TCPAddr{IP: net.ParseIP("127.0.0.2"), Port: 7}))
	assert.Equal(t, "10.1.2.3", hostOf(&net.TCPAddr{IP: net.ParseIP("::ffff:10.1.2.3"), Port: 7}), "IPv4-mapped is IPv4")
	assert.Equal(t, "2001:db8::1", hostOf(&net.TCPAddr{IP: net.ParseIP("2001:db8::1")}))
	assert.Equal(t, "", hostOf(&net.UnixAddr{Name: "@x", Net: "unix"}))
	assert.Equal(t, "", hostOf(nil))
}

func TestHostCap(t *testing.T) {
	d, _ := limitedDaemon(10, 3)
	assert.Equal(t, int64(5), d.hostCap(false), "half of the client limit by default")
	assert.Equal(t, int64(8), d.hostCap(true), "an administrator has the reserve on top")
	d.maxClients = 1
	assert.Equal(t, int64(1), d.hostCap(false), "at least one")
	d.opts.MaxConnectionsPerHost = 7
	assert.Equal(t, int64(7), d.hostCap(false))
	d.opts.MaxConnectionsPerHost = -1
	assert.Equal(t, d.connectionCap(false), d.hostCap(false), "negative: no share")
	assert.Equal(t, d.connectionCap(true), d.hostCap(true))
}

// TestHostShareCountsEachSourceAddress: one address is held to its share,
// concurrently; other addresses still get in up to the daemon's limit;
// releasing frees the share again, and the map keeps no closed host.
func TestHostShareCountsEachSourceAddress(t *testing.T) {
	d, logs := limitedDaemon(10, 2)
	var in atomic.Int64
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if reserved(d, peerAt("127.0.0.2", 1000+i), false) {
				in.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(5), in.Load(), "one host gets its share, half the limit")
	assert.Equal(t, 5, d.hosts.count("127.0.0.2"))
	host, why := d.reserve(peerAt("127.0.0.2", 9), false)
	assert.Equal(t, refusedHostShare, why)
	assert.Equal(t, "127.0.0.2", host)
	assert.Equal(t, int64(5), d.clients.Load(), "a refusal is not counted")

	for i := range 5 {
		assert.True(t, reserved(d, peerAt(fmt.Sprintf("127.0.0.%d", 10+i), 1), false), "another host gets in")
	}
	_, why = d.reserve(peerAt("127.0.0.99", 1), false)
	assert.Equal(t, refusedFull, why, "the daemon's limit still holds")
	assert.Zero(t, d.hosts.count("127.0.0.99"), "a host refused at the limit is not counted")

	// An administrator on the flooding host has the reserve on top.
	assert.True(t, reserved(d, peerAt("127.0.0.2", 2), true))
	assert.Nil(t, d.admit(peerAt("127.0.0.2", 2), true))

	d.release("127.0.0.2")
	d.release("127.0.0.2")
	assert.True(t, reserved(d, peerAt("127.0.0.2", 3), false), "a released slot is the host's again")
	for i := range 5 {
		d.release(fmt.Sprintf("127.0.0.%d", 10+i))
	}
	d.hosts.mu.Lock()
	_, kept := d.hosts.open["127.0.0.10"]
	d.hosts.mu.Unlock()
	assert.False(t, kept, "a host with nothing open is forgotten")
	assert.Empty(t, logs.String(), "reserve itself logs nothing")
}

// TestAdmitHoldsAHostToItsShare: a direct-port connection counted against
// the administrators' cap is refused at its greeting when it turns out a
// client past its host's share; the refusal is logged with the peer's
// address, once for a burst.
func TestAdmitHoldsAHostToItsShare(t *testing.T) {
	d, logs := limitedDaemon(4, 2)
	for i := range 4 { // 2 clients' share + 2 reserve, as before greetings
		require.True(t, reserved(d, peerAt("127.0.0.3", 100+i), true))
	}
	assert.Nil(t, d.admit(peerAt("127.0.0.3", 100), true), "an administrator may use the reserve")
	for range 3 {
		e := d.admit(peerAt("127.0.0.3", 103), false)
		require.NotNil(t, e)
		assert.Equal(t, wire.CodeServerMaxedOut, e.Code, "a client past its host's share")
	}
	out := logs.String()
	assert.Equal(t, 1, strings.Count(out, "holds its share"), "one warning for the burst:\n%s", out)
	assert.Contains(t, out, "127.0.0.3:103", "the warning names the peer")
	assert.Nil(t, d.admit(peerAt("127.0.0.4", 1), false), "another host's client (counted elsewhere) is admitted")
}

// TestRefusalsAreLoggedWithThePeer: a refusal at the daemon's limit names
// the peer too.
func TestRefusalsAreLoggedWithThePeer(t *testing.T) {
	d, logs := limitedDaemon(1, 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer client.Close()
	server, err := ln.Accept()
	require.NoError(t, err)
	d.refuse(server, refusedFull)
	assert.Contains(t, logs.String(), "Maximum connections to the server has reached")
	assert.Contains(t, logs.String(), client.LocalAddr().String(), "the refused peer's address:\n%s", logs.String())
	m, _ := readReply(t, client)
	assert.Equal(t, wire.CodeServerMaxedOut, wire.ErrorFromMessage(m).Code)
}
