package main

// End-to-end test of the administration levels on real processes, with a
// truly remote administrator: lmgrd runs in one network namespace, the
// remote lmutil in another, joined by a veth pair. Nothing is added to the
// host's own interfaces. Needs root and iproute2; skipped otherwise.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// adminNet is two namespaces: the server's (address Server) and a remote
// host's (address Remote).
type adminNet struct {
	serverNS, remoteNS string
	Server, Remote     string
}

func ip(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// newAdminNet makes the namespaces, or skips the test saying why it cannot.
func newAdminNet(t *testing.T) *adminNet {
	t.Helper()
	needBinaries(t)
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("network namespaces need the ip command (iproute2)")
	}
	pid := os.Getpid()
	n := &adminNet{
		serverNS: fmt.Sprintf("lma-%d-s", pid), remoteNS: fmt.Sprintf("lma-%d-r", pid),
		Server: fmt.Sprintf("10.215.%d.1", pid%250), Remote: fmt.Sprintf("10.215.%d.2", pid%250),
	}
	if _, err := ip("netns", "add", n.serverNS); err != nil {
		t.Skipf("network namespaces unavailable: %v", err)
	}
	t.Cleanup(func() { deleteNS(n.serverNS) })
	if _, err := ip("netns", "add", n.remoteNS); err != nil {
		t.Skipf("network namespaces unavailable: %v", err)
	}
	t.Cleanup(func() { deleteNS(n.remoteNS) })
	if _, err := ip("-n", n.serverNS, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", n.remoteNS); err != nil {
		t.Skipf("veth pairs unavailable: %v", err)
	}
	for _, c := range [][]string{
		{"-n", n.serverNS, "link", "set", "lo", "up"},
		{"-n", n.remoteNS, "link", "set", "lo", "up"},
		{"-n", n.serverNS, "addr", "add", n.Server + "/24", "dev", "eth0"},
		{"-n", n.remoteNS, "addr", "add", n.Remote + "/24", "dev", "eth0"},
		{"-n", n.serverNS, "link", "set", "eth0", "up"},
		{"-n", n.remoteNS, "link", "set", "eth0", "up"},
	} {
		_, err := ip(c...)
		require.NoError(t, err)
	}
	return n
}

// deleteNS kills what is left in ns (only the test's own processes run
// there), then deletes it.
func deleteNS(ns string) {
	for range 3 {
		out, err := ip("netns", "pids", ns)
		if err != nil || strings.TrimSpace(out) == "" {
			break
		}
		for _, f := range strings.Fields(out) {
			var pid int
			if _, err := fmt.Sscanf(f, "%d", &pid); err == nil && pid > 1 && pid != os.Getpid() {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, _ = ip("netns", "del", ns)
}

// lmutilIn runs lmutil inside namespace ns.
func lmutilIn(t *testing.T, ns string, args ...string) (string, int) {
	t.Helper()
	return lmutilWith(t, ns, nil, "", args...)
}

// adminIdentity is the user and host lmutil greets with, as the servers
// log them.
func adminIdentity() (who, host string) {
	who = "unknown"
	if u, err := user.Current(); err == nil {
		who = u.Username
	}
	host, _ = os.Hostname()
	return who, host
}

// holdSolver checks out solver from inside ns for the rest of the test.
func holdSolver(t *testing.T, ns, server string) {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, filepath.Join(binDir, "lmutil"), "checkout", "-c", server, "solver", "--", "sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	})
	require.Eventually(t, func() bool {
		out, _ := lmutilIn(t, ns, "lmstat", "-f", "solver", "-c", server)
		return strings.Contains(out, "Total of 1 license in use")
	}, 15*time.Second, 100*time.Millisecond, "the checkout never showed")
}

func TestRemoteAdministrationLevels(t *testing.T) {
	n := newAdminNet(t)
	who, host := adminIdentity()
	dir := t.TempDir()
	wrapper := []string{"ip", "netns", "exec", n.serverNS}

	start := func(port int, args ...string) (*proc, string) {
		lic := filepath.Join(dir, fmt.Sprintf("demo%d.lic", port))
		body := fmt.Sprintf("SERVER %s ANY %d\nVENDOR demo\n%s", n.Server, port, demoFeatures)
		require.NoError(t, writeSigned(lic, []byte(body), 0o644))
		p := startLmgrdVia(t, wrapper, "3s", append([]string{"-c", lic}, args...)...)
		p.waitLog(t, "Serving features for the following vendor: demo")
		return p, fmt.Sprintf("%d@%s", port, n.Server)
	}

	t.Run("default restricted", func(t *testing.T) {
		p, server := start(27101)
		holdSolver(t, n.serverNS, server)

		out, code := lmutilIn(t, n.remoteNS, "lmstat", "-a", "-c", server)
		require.Equal(t, 0, code, out)
		assert.Contains(t, out, "Total of 1 license in use")
		assert.Contains(t, out, "), start ", "a restricted administrator sees the user lines")

		out, code = lmutilIn(t, n.remoteNS, "lmdown", "-q", "-c", server)
		assert.NotEqual(t, 0, code, out)
		assert.Contains(t, out, "(-63,")
		p.waitLog(t, fmt.Sprintf("lmdown refused for %s at %s (%s)", who, host, n.Remote))
		assert.False(t, p.exited(), "a remote lmdown stopped lmgrd")

		out, code = lmutilIn(t, n.remoteNS, "lmremove", "-c", server, "solver", who, host, "/dev/tty")
		assert.NotEqual(t, 0, code, out)
		assert.Contains(t, out, "(-63,")
		p.waitLog(t, fmt.Sprintf("lmremove refused for %s at %s (%s)", who, host, n.Remote))

		out, code = lmutilIn(t, n.remoteNS, "lmreread", "-c", server)
		assert.NotEqual(t, 0, code, out)
		p.waitLog(t, fmt.Sprintf("lmreread refused for %s at %s (%s)", who, host, n.Remote))

		out, code = lmutilIn(t, n.remoteNS, "lmnotify", "-test", "-c", server)
		assert.NotEqual(t, 0, code, out)
		assert.Contains(t, out, "(-63,")
		p.waitLog(t, fmt.Sprintf("lmnotify refused for %s at %s (%s)", who, host, n.Remote))

		// From the server's own host through its LAN address, not loopback.
		out, code = lmutilIn(t, n.serverNS, "lmreread", "-c", server)
		require.Equal(t, 0, code, out)
		p.waitLog(t, fmt.Sprintf("REREAD request from %s at %s (%s)", who, host, n.Server))

		out, code = lmutilIn(t, n.serverNS, "lmdown", "-q", "-c", server)
		require.Equal(t, 0, code, out)
		p.waitLog(t, fmt.Sprintf("SHUTDOWN request from %s at %s (%s)", who, host, n.Server))
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			t.Fatal("lmgrd still running after a local lmdown")
		}
		assert.Contains(t, p.log.String(), fmt.Sprintf("(lmgrd) EXITING: shut down by lmdown from %s at %s (%s)", who, host, n.Server))
		assert.Contains(t, p.log.String(), "(demo) EXITING: shut down by lmgrd")
		assert.NotContains(t, p.log.String(), "SIGNAL 15", "an lmdown is not a signal")
	})

	t.Run("-remote-admin none", func(t *testing.T) {
		_, server := start(27102, "-remote-admin", "none")
		holdSolver(t, n.serverNS, server)

		out, code := lmutilIn(t, n.remoteNS, "lmstat", "-a", "-c", server)
		require.Equal(t, 0, code, out)
		assert.Contains(t, out, "Users of solver:  (Total of 2 licenses issued;  Total of 1 license in use)")
		assert.NotContains(t, out, "), start ", "an anonymous lmstat shows no user lines")
		assert.NotContains(t, out, who+" "+host)

		out, _ = lmutilIn(t, n.serverNS, "lmstat", "-a", "-c", server)
		assert.Contains(t, out, "), start ", "this host still sees the user lines")
	})

	t.Run("-local", func(t *testing.T) {
		p, server := start(27103, "-local", "-remote-admin", "full")
		out, code := lmutilIn(t, n.remoteNS, "lmdown", "-q", "-c", server)
		assert.NotEqual(t, 0, code, out)
		assert.Contains(t, out, "(-119,")
		p.waitLog(t, fmt.Sprintf("lmdown refused for %s at %s (%s)", who, host, n.Remote))
		out, code = lmutilIn(t, n.serverNS, "lmreread", "-c", server)
		require.Equal(t, 0, code, out)
	})
}
