package handoff

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// channels is lmgrd's and the child's end of a new channel, closed at the end.
func channels(t *testing.T) (*Channel, *Channel) {
	t.Helper()
	parent, childFile, err := Pair()
	require.NoError(t, err)
	child, err := FromFile(childFile)
	childFile.Close()
	require.NoError(t, err)
	t.Cleanup(func() { parent.Close(); child.Close() })
	return parent, child
}

// tcpPair is a loopback connection: the client's end and the accepted one.
func tcpPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { client.Close() })
	accepted, err := ln.Accept()
	require.NoError(t, err)
	t.Cleanup(func() { accepted.Close() })
	return client, accepted
}

func TestSendConnectionWithMessage(t *testing.T) {
	parent, child := channels(t)
	client, accepted := tcpPair(t)

	require.NoError(t, parent.Send([]byte("HELLO proto=1 vendor=demo"), accepted.(*net.TCPConn)))
	accepted.Close() // lmgrd drops its copy; the child's copy keeps the connection open

	msg, conn, err := child.Recv()
	require.NoError(t, err)
	require.NotNil(t, conn)
	defer conn.Close()
	assert.Equal(t, "HELLO proto=1 vendor=demo", string(msg))

	_, err = conn.Write([]byte("OK proto=1\n"))
	require.NoError(t, err)
	require.NoError(t, client.SetReadDeadline(time.Now().Add(5*time.Second)))
	line, err := bufio.NewReader(client).ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "OK proto=1\n", line)
}

func TestMessageWithoutConnection(t *testing.T) {
	parent, childFile, err := Pair()
	require.NoError(t, err)
	child, err := FromFile(childFile)
	require.NoError(t, err)
	childFile.Close()
	defer child.Close()

	require.NoError(t, parent.Send([]byte("ROLE serving=1"), nil))
	msg, conn, err := child.Recv()
	require.NoError(t, err)
	assert.Nil(t, conn)
	assert.Equal(t, "ROLE serving=1", string(msg))

	require.NoError(t, parent.Close())
	_, _, err = child.Recv()
	assert.True(t, errors.Is(err, ErrPeerClosed), "after the parent closes, Recv says so; got %v", err)
}

func TestOversizedMessageRefused(t *testing.T) {
	parent, childFile, err := Pair()
	require.NoError(t, err)
	defer parent.Close()
	defer childFile.Close()
	assert.Error(t, parent.Send(make([]byte, MaxMessage+1), nil))
}

func TestBootTimeNowAdvances(t *testing.T) {
	a := BootTimeNow()
	require.NotZero(t, a)
	deadline := time.Now().Add(time.Second)
	for BootTimeNow() == a && time.Now().Before(deadline) {
	}
	assert.Greater(t, BootTimeNow(), a)
}

// TestRecvAtTheDescriptorLimit: a socket that cannot be received because
// the receiver is out of descriptors is lost, and nothing else: Recv says so
// without taking it for the peer's end, no descriptor is left behind, the
// client sees its connection closed, and the channel carries on.
func TestRecvAtTheDescriptorLimit(t *testing.T) {
	for _, tt := range []struct {
		name string
		free int // descriptors left below the limit
	}{
		{"none for the socket", 0},               // recvmsg: MSG_CTRUNC, the kernel drops the socket
		{"none for net.FileConn's duplicate", 1}, // received, then not wrapped
	} {
		t.Run(tt.name, func(t *testing.T) {
			parent, child := channels(t)
			client, accepted := tcpPair(t)
			require.NoError(t, parent.Send([]byte("HELLO proto=1 vendor=demo"), accepted.(*net.TCPConn)))
			accepted.Close() // lmgrd's copy: the one in flight is the last

			before := openDescriptors(t)
			err := withDescriptorsLeft(t, tt.free, func() error {
				_, conn, err := child.Recv()
				if conn != nil {
					conn.Close()
				}
				return err
			})
			require.Error(t, err)
			t.Logf("Recv: %v", err)
			assert.False(t, errors.Is(err, ErrPeerClosed), "not the peer's end: %v", err)
			assert.Equal(t, before, openDescriptors(t), "no descriptor left behind")

			require.NoError(t, client.SetReadDeadline(time.Now().Add(5*time.Second)))
			_, err = client.Read(make([]byte, 1))
			assert.ErrorIs(t, err, io.EOF, "the lost connection is closed")

			require.NoError(t, parent.Send([]byte("ROLE serving=1"), nil))
			msg, conn, err := child.Recv()
			require.NoError(t, err, "the channel carries on")
			assert.Nil(t, conn)
			assert.Equal(t, "ROLE serving=1", string(msg))
		})
	}
}

// withDescriptorsLeft runs f with the soft open-files limit set so that only
// free descriptors can be opened, then restores the limit.
func withDescriptorsLeft(t *testing.T, free int, f func() error) error {
	t.Helper()
	var rl syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl))
	// The lowest free descriptor: every one below it is open.
	lowest, err := syscall.Dup(0)
	require.NoError(t, err)
	syscall.Close(lowest)
	low := syscall.Rlimit{Cur: uint64(lowest + free), Max: rl.Max}
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low))
	defer func() { require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)) }()
	return f()
}

func openDescriptors(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(ents) - 1 // the directory's own
}
