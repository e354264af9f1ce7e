package handoff

import (
	"bufio"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSendConnectionWithMessage(t *testing.T) {
	parent, childFile, err := Pair()
	require.NoError(t, err)
	defer parent.Close()
	child, err := FromFile(childFile)
	require.NoError(t, err)
	childFile.Close()
	defer child.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer client.Close()
	accepted, err := ln.Accept()
	require.NoError(t, err)

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
