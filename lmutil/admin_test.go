package main

import (
	"net"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func closedPort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

func TestLmstatVersion(t *testing.T) {
	code, out, _ := runLmutil(t, "lmutil", "lmstat", "-v")
	assert.Equal(t, 0, code)
	assert.Regexp(t, `^lmstat v0\.1\.0 build \d+ x64_lsb\n$`, out)
}

func TestLmstatUnreachableServer(t *testing.T) {
	server := strconv.Itoa(closedPort(t)) + "@127.0.0.1"
	code, out, _ := runLmutil(t, "lmutil", "lmstat", "-a", "-c", server)
	assert.NotEqual(t, 0, code, "lmstat exits non-zero when no server answers")
	assert.Regexp(t, `(?m)^Error getting status: Cannot connect to license server system\. \(-15,570:111 "Connection refused"\)$`, out)
}

func TestLmdownUnreachableServerFails(t *testing.T) {
	server := strconv.Itoa(closedPort(t)) + "@127.0.0.1"
	code, _, errOut := runLmutil(t, "lmutil", "lmdown", "-q", "-c", server)
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "Cannot connect to license server system.")
}

func TestLmhostid(t *testing.T) {
	code, out, _ := runLmutil(t, "lmutil", "lmhostid")
	assert.Equal(t, 0, code)
	assert.Regexp(t, `^The FlexNet host ID of this machine is "[^"]+"\n$`, out)
	code, out, _ = runLmutil(t, "lmutil", "lmhostid", "-n", "-internet")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "INTERNET=127.0.0.1")
}

func TestLmstatIncrementsReadsTheFile(t *testing.T) {
	code, out, _ := runLmutil(t, "lmutil", "lmstat", "-i", "-c", "../testdata/demo.lic")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "NOTE: lmstat -i does not give information from the server,")
	assert.Regexp(t, `(?m)^solver +1\.0 +5 +`, out)
}
