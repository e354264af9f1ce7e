package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runDetached runs lmgrd without -z, as a shell script would.
func runDetached(t *testing.T, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "lmgrd"), args...)
	cmd.Env = append(os.Environ(), "LMTRIAD_CLUSTER_KEY="+clusterKeyFile)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("lmgrd: %v", err)
	}
	return string(out), code
}

// A detached lmgrd returns to the shell once it serves, so the script's
// next command finds it; one that cannot start says why with exit 1.
func TestDetachedLmgrdReturnsOnceItServes(t *testing.T) {
	needBinaries(t)
	dir := t.TempDir()
	port := freePort(t, "127.0.0.1")
	lic := writeLicense(t, dir, "demo.lic", port, demoFeatures)
	out, code := runDetached(t, "-c", lic, "-vendor-keys", demoKeys, "-l", filepath.Join(dir, "lmgrd.log"))
	require.Equal(t, 0, code, out)
	m := regexp.MustCompile(`lmgrd started in the background \(pid (\d+)\)`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	pid, _ := strconv.Atoi(m[1])
	t.Cleanup(func() {
		if syscall.Kill(pid, 0) == nil {
			_ = syscall.Kill(-pid, syscall.SIGKILL) // its own session and process group
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	server := fmt.Sprintf("%d@127.0.0.1", port)
	out, code = lmutil(t, nil, "lmstat", "-a", "-c", server) // at once, no waiting
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "demo: UP")

	// The port is taken: the second one says so and exits 1.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	busy := ln.Addr().(*net.TCPAddr).Port
	lic2 := writeLicense(t, t.TempDir(), "busy.lic", busy, demoFeatures)
	out, code = runDetached(t, "-c", lic2, "-vendor-keys", demoKeys)
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, fmt.Sprintf("cannot listen on :%d", busy))

	out, code = lmutil(t, nil, "lmdown", "-q", "-c", server)
	require.Equal(t, 0, code, out)
	require.Eventually(t, func() bool { return syscall.Kill(pid, 0) != nil }, 10*time.Second, 20*time.Millisecond,
		"the detached lmgrd outlived lmdown")
}

func TestLmgrdManualPage(t *testing.T) {
	needBinaries(t)
	out, code := runDetached(t, "--man")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, ".TH lmgrd 8")
	assert.Contains(t, out, "remote-admin")
}
