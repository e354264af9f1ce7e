package main

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lmtriad/lmtriad/wire"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	server, err = ln.Accept()
	require.NoError(t, err)
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

func TestReadGreetingLeavesTheRestForTheVendorDaemon(t *testing.T) {
	tests := []struct {
		name   string
		chunks []string
		want   string
		rest   string
	}{
		{"one write", []string{"HELLO proto=1 vendor=demo\nCHECKOUT feature=f\n"}, "HELLO proto=1 vendor=demo", "CHECKOUT feature=f\n"},
		{"crlf", []string{"HELLO proto=1\r\nX\n"}, "HELLO proto=1", "X\n"},
		{"split greeting", []string{"HEL", "LO proto=1 ", "vendor=demo\nREST"}, "HELLO proto=1 vendor=demo", "REST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, server := tcpPair(t)
			go func() {
				for _, c := range tt.chunks {
					client.Write([]byte(c))
					time.Sleep(5 * time.Millisecond) // separate segments, to exercise partial peeks
				}
				client.(*net.TCPConn).CloseWrite()
			}()
			require.NoError(t, server.SetDeadline(time.Now().Add(5*time.Second)))
			got, err := readGreeting(server)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			rest, err := io.ReadAll(server)
			require.NoError(t, err)
			assert.Equal(t, tt.rest, string(rest))
		})
	}
}

func TestReadGreetingTooLongAndEOF(t *testing.T) {
	client, server := tcpPair(t)
	go func() {
		client.Write([]byte(strings.Repeat("x", wire.MaxLine+10)))
		client.Close()
	}()
	require.NoError(t, server.SetDeadline(time.Now().Add(5*time.Second)))
	_, err := readGreeting(server)
	assert.ErrorIs(t, err, wire.ErrLineTooLong)

	client2, server2 := tcpPair(t)
	client2.Close()
	_, err = readGreeting(server2)
	assert.ErrorIs(t, err, io.EOF)
}
