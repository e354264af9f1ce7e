package main

import (
	"fmt"
	"io"
	"math"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lmtriad/lmtriad/flexlog"
	"github.com/lmtriad/lmtriad/hostid"
	"github.com/lmtriad/lmtriad/wire"
)

func TestConnectionBudgetKeepsHeadroomForConnectsInFlight(t *testing.T) {
	// A handed-off socket takes two descriptors while it is received
	// (recvmsg's and net.FileConn's duplicate) and a direct-port accept one,
	// before either is counted or refused.
	require.GreaterOrEqual(t, descriptorsInFlight, 2+1)
	require.Equal(t, descriptorsOwn+descriptorsInFlight, descriptorsKept)
	require.Equal(t, 67, descriptorsKept, "the numbers below")

	tests := []struct {
		limit   uint64
		reserve int
		want    int
	}{
		{512, 16, 512 - 67 - 16},       // lmgrd's test under prlimit --nofile=512
		{4096, 16, 4096 - 67 - 16},     // the reproduction: 4,800 clients, 4,096 files
		{20000, 16, 20000 - 67 - 16},   // the report: 21,000 clients, 20,000 files
		{1 << 20, 16, 1<<20 - 67 - 16}, // fs.nr_open's default
		{100, 16, 100 - 67 - 16},
		{84, 16, 1},
		{83, 16, 1}, // nothing left: one client still, never zero or less
		{10, 16, 1},
		{0, 0, 1},
		{1 << 62, 16, 1 << 30}, // RLIM_INFINITY and the like
		{math.MaxUint64, 16, 1 << 30},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d-%d", tt.limit, tt.reserve), func(t *testing.T) {
			got := connectionBudget(tt.limit, tt.reserve)
			assert.Equal(t, tt.want, got)
			if tt.limit >= descriptorsKept+uint64(tt.reserve)+1 && tt.limit < 1<<30 {
				// Full to the last administrator, with a connection being
				// received and one being accepted, the daemon still has
				// its own descriptors.
				used := uint64(got+tt.reserve) + descriptorsInFlight + descriptorsOwn
				assert.LessOrEqual(t, used, tt.limit)
			}
		})
	}
}

func limitedDaemon(maxClients, reserve int) (*daemon, *lockedBuffer) {
	logs := &lockedBuffer{}
	d := &daemon{maxClients: maxClients, log: flexlog.New(logs, "demo")}
	d.opts.AdminReserve = reserve
	return d, logs
}

func TestReserveNeverCountsPastTheCap(t *testing.T) {
	d, logs := limitedDaemon(10, 3)
	var in atomic.Int64
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if reserved(d, noPeer, false) {
				in.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(10), in.Load(), "clients fill the client limit, no more")
	assert.Equal(t, int64(10), d.clients.Load())
	assert.Nil(t, d.admit(noPeer, false), "the tenth client, counted in, is admitted at its greeting")

	for range 3 {
		assert.True(t, reserved(d, noPeer, true), "an administrator uses the reserve")
	}
	assert.False(t, reserved(d, noPeer, true), "the reserve is full too")
	assert.Equal(t, int64(13), d.clients.Load())
	assert.Nil(t, d.admit(noPeer, true), "counted in, an administrator is admitted")
	assert.Equal(t, wire.CodeServerMaxedOut, d.admit(noPeer, false).Code,
		"a client counted into the administrators' cap (the direct port's, before its greeting) is refused at its greeting")

	d.clients.Add(-1)
	assert.False(t, reserved(d, noPeer, false), "a client finds no room in the administrators' reserve")
	assert.True(t, reserved(d, noPeer, true))
	assert.Equal(t, 1, strings.Count(logs.String(), "Maximum connections to the server has reached"),
		"the refusals of one burst are one warning:\n%s", logs.String())
}

// handOver hands a new loopback connection to the daemon as lmgrd does,
// with greeting, and returns the client's end.
func (h *harness) handOver(t *testing.T, ln net.Listener, greeting string) net.Conn {
	t.Helper()
	client, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { client.Close() })
	server, err := ln.Accept()
	require.NoError(t, err)
	defer server.Close() // lmgrd's copy: the daemon holds its own
	require.NoError(t, h.ctl.SendClient(greeting, server.(*net.TCPConn)))
	return client
}

// readReply reads the daemon's answer to a handed-off greeting.
func readReply(t *testing.T, c net.Conn) (wire.Message, *wire.Reader) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	r := wire.NewReader(c)
	m, err := r.ReadMessage()
	require.NoError(t, err)
	return m, r
}

func TestHandoffsPastTheLimitAreRefusedAtOnce(t *testing.T) {
	h := startDaemon(t, "FEATURE f demo 1.0 permanent 5 SIGN=0\n", func(o *Options) {
		o.MaxConnections, o.AdminReserve = 2, 1
		o.MaxConnectionsPerHost = -1 // every client is 127.0.0.1 here
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()

	for _, user := range []string{"a", "b"} {
		m, _ := readReply(t, h.handOver(t, ln, "HELLO proto=1 vendor=demo user="+user))
		require.True(t, wire.IsOK(m), "%s is let in: %v", user, m)
	}
	// A burst past the limit: each is answered -106 and closed before the
	// daemon takes the next, none waits for a session of its own.
	for i := range 20 {
		c := h.handOver(t, ln, fmt.Sprintf("HELLO proto=1 vendor=demo user=over%d", i))
		m, r := readReply(t, c)
		assert.Equal(t, wire.CodeServerMaxedOut, wire.ErrorFromMessage(m).Code, "over%d: %v", i, m)
		_, err := r.ReadMessage()
		assert.ErrorIs(t, err, io.EOF, "over%d is closed after its answer", i)
	}
	m, _ := readReply(t, h.handOver(t, ln, "HELLO proto=1 vendor=demo role=admin"))
	assert.True(t, wire.IsOK(m), "an administrator gets in through the reserve: %v", m)
	m, _ = readReply(t, h.handOver(t, ln, "HELLO proto=1 vendor=demo role=admin"))
	assert.Equal(t, wire.CodeServerMaxedOut, wire.ErrorFromMessage(m).Code, "past the reserve too: %v", m)
	assert.Equal(t, 1, strings.Count(h.log.String(), "Maximum connections to the server has reached"),
		"one warning for the burst:\n%s", h.log.String())
	assert.NotContains(t, h.log.String(), "Lost one message")
}

func TestDirectPortPastTheCapIsRefusedBeforeItsGreeting(t *testing.T) {
	h := startDaemon(t, "FEATURE f demo 1.0 permanent 5 SIGN=0\n", func(o *Options) {
		o.MaxConnections, o.AdminReserve = 1, 0
		o.MaxConnectionsPerHost = -1 // every client is 127.0.0.1 here
	})
	h.dial(t, "a")
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", h.port))
	require.NoError(t, err)
	defer c.Close()
	m, r := readReply(t, c)
	assert.Equal(t, wire.CodeServerMaxedOut, wire.ErrorFromMessage(m).Code, "%v", m)
	_, err = r.ReadMessage()
	assert.ErrorIs(t, err, io.EOF)
}

func TestServeRefusesBeforeReturning(t *testing.T) {
	// The control loop receives the next socket only when serve returns:
	// a connection over the limit must be answered and closed by then, so
	// that refused connections never hold descriptors while more come in.
	d, _ := limitedDaemon(1, 0)
	d.conns = map[net.Conn]bool{}
	d.clients.Store(1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer client.Close()
	server, err := ln.Accept()
	require.NoError(t, err)

	hello, err := wire.ParseMessage("HELLO proto=1 vendor=demo user=late")
	require.NoError(t, err)
	d.serve(t.Context(), server, &hello, hostid.AccessAnonymous)
	_, err = server.Write([]byte("x"))
	assert.ErrorIs(t, err, net.ErrClosed, "closed when serve returns")
	assert.Equal(t, int64(1), d.clients.Load(), "not counted")
	assert.Empty(t, d.conns, "not tracked")
	m, r := readReply(t, client)
	assert.Equal(t, wire.CodeServerMaxedOut, wire.ErrorFromMessage(m).Code, "%v", m)
	_, err = r.ReadMessage()
	assert.ErrorIs(t, err, io.EOF)
}
