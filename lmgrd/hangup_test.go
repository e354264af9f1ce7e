package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// logrotate's "create" on real processes: rename the debug log, SIGHUP
// lmgrd; it goes on in a new file of the same name, vendor daemon lines
// included, and nobody stops. A SIGHUP to a vendor daemon stops nothing
// either.
func TestSighupReopensTheDebugLog(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t, "127.0.0.1")
	lic := writeLicense(t, dir, "demo.lic", port, "FEATURE solver demo 1.0 permanent 2 SIGN=0\n")
	logPath := filepath.Join(dir, "lmgrd.log")
	p := startLmgrd(t, "-c", lic, "-l", logPath)
	read := func(path string) string { b, _ := os.ReadFile(path); return string(b) }
	require.Eventually(t, func() bool { return strings.Contains(read(logPath), "Serving features for the following vendor: demo") },
		10*time.Second, 20*time.Millisecond)
	server := fmt.Sprintf("%d@127.0.0.1", port)
	_, err := clientAs(t, server, "alice").Checkout(ctx(t), "solver", "", 1)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return strings.Contains(read(logPath), `OUT: "solver" alice@ws`) }, 10*time.Second, 20*time.Millisecond)

	require.NoError(t, os.Rename(logPath, logPath+".1"))
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return strings.Contains(read(logPath), "SIGHUP received: debug log "+logPath+" reopened") },
		10*time.Second, 20*time.Millisecond)
	_, err = clientAs(t, server, "bob").Checkout(ctx(t), "solver", "", 1)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return strings.Contains(read(logPath), `OUT: "solver" bob@ws`) }, 10*time.Second, 20*time.Millisecond,
		"the vendor daemon's lines follow the reopened log")
	assert.NotContains(t, read(logPath+".1"), "bob")
	assert.False(t, p.exited(), "SIGHUP stopped lmgrd")

	pids := vendordPids(t, lic)
	require.Len(t, pids, 1)
	require.NoError(t, syscall.Kill(pids[0], syscall.SIGHUP))
	out, code := lmutil(t, nil, "lmstat", "-a", "-c", server)
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "Total of 2 licenses in use")
	assert.Equal(t, pids, vendordPids(t, lic), "SIGHUP stopped the vendor daemon")
	assert.NotContains(t, read(logPath), "EXITING")
}
