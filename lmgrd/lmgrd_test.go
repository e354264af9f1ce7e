package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lmtriad/lmtriad/client"
	"github.com/lmtriad/lmtriad/wire"
)

const demoFeatures = "FEATURE solver demo 1.0 permanent 2 SIGN=0\nINCREMENT mesher demo 2.0 permanent 1 SIGN=0\n"

func newClient(t *testing.T, port int) *client.Client {
	t.Helper()
	opts := client.NewOptions()
	opts.LicensePath = fmt.Sprintf("%d@127.0.0.1", port)
	opts.User, opts.Host, opts.Display = "alice", "ws1", "/dev/pts/1"
	opts.HeartbeatInterval = 500 * time.Millisecond
	c, err := client.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func startDemo(t *testing.T) (port int, lic string, p *proc) {
	port = freePort(t, "127.0.0.1")
	lic = writeLicense(t, t.TempDir(), "demo.lic", port, demoFeatures)
	p = startLmgrd(t, "-c", lic)
	p.waitLog(t, "Serving features for the following vendor: demo")
	return port, lic, p
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestCheckoutThroughLmgrdAndLmstat(t *testing.T) {
	port, _, p := startDemo(t)
	c := newClient(t, port)

	lic, err := c.Checkout(ctx(t), "solver", "1.0", 1)
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprintf("%d@127.0.0.1", port), lic.Server())
	p.waitLog(t, `(demo) OUT: "solver" alice@ws1`)

	out, code := lmutil(t, nil, "lmstat", "-a", "-c", fmt.Sprintf("%d@127.0.0.1", port))
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, fmt.Sprintf("License server status: %d@127.0.0.1", port))
	assert.Contains(t, out, "127.0.0.1: license server UP (MASTER) v0.1")
	assert.Regexp(t, `(?m)^ +demo: UP v0\.1$`, out)
	assert.Contains(t, out, "Users of solver:  (Total of 2 licenses issued;  Total of 1 license in use)")
	assert.Contains(t, out, "Users of mesher:  (Total of 1 license issued;  Total of 0 licenses in use)")
	assert.Regexp(t, fmt.Sprintf(`(?m)^    alice ws1 /dev/pts/1 \(v1\.0\) \(127\.0\.0\.1/%d %d\), start \w{3} \d+/\d+ \d+:\d\d$`, port, lic.Handle()), out)

	require.NoError(t, lic.Checkin())
	p.waitLog(t, `(demo) IN: "solver" alice@ws1`)
	out, _ = lmutil(t, nil, "lmstat", "-f", "solver", "-c", fmt.Sprintf("%d@127.0.0.1", port))
	assert.Contains(t, out, "Total of 0 licenses in use")
}

func TestDenialsCarryFlexLMCodes(t *testing.T) {
	port, _, p := startDemo(t)
	c := newClient(t, port)
	_, err := c.Checkout(ctx(t), "solver", "", 2)
	require.NoError(t, err)
	_, err = c.Checkout(ctx(t), "solver", "", 1)
	assert.ErrorIs(t, err, wire.ErrMaxUsers)
	p.waitLog(t, `DENIED: "solver" alice@ws1  (Licensed number of users already reached. (-4,342))`)

	_, err = c.Checkout(ctx(t), "mesher", "3.0", 1)
	assert.ErrorIs(t, err, wire.ErrOldVer)
	_, err = newClient(t, port).Checkout(ctx(t), "nosuch", "", 1)
	assert.ErrorIs(t, err, wire.ErrNoFeature)
}

func TestKilledClientFreesItsLicense(t *testing.T) {
	port, _, p := startDemo(t)
	server := fmt.Sprintf("%d@127.0.0.1", port)
	cmd := exec.Command(filepath.Join(binDir, "lmutil"), "checkout", "-c", server, "solver", "--", "sleep", "60")
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stderr).ReadString('\n')
	require.NoError(t, err)
	require.Contains(t, line, "checked out")
	out, _ := lmutil(t, nil, "lmstat", "-f", "solver", "-c", server)
	require.Contains(t, out, "Total of 1 license in use")

	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	p.waitLog(t, `IN: "solver"`)
	out, _ = lmutil(t, nil, "lmstat", "-f", "solver", "-c", server)
	assert.Contains(t, out, "Total of 0 licenses in use")
}

func TestSilentClientTimesOut(t *testing.T) {
	port, _, p := startDemo(t)
	// A client that checks out and then says nothing, with its connection
	// open: the server frees its license after -client-timeout (3 s here).
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	require.NoError(t, err)
	defer conn.Close()
	wc := wire.NewConn(conn)
	_, _, err = wc.Call(ctx(t), wire.New("HELLO", "proto", "1", "vendor", "demo", "user", "mute", "host", "h"))
	require.NoError(t, err)
	_, _, err = wc.Call(ctx(t), wire.New("CHECKOUT", "feature", "solver"))
	require.NoError(t, err)
	p.waitLog(t, `OUT: "solver" mute@h`)
	p.waitLog(t, `IN: "solver" mute@h`)
}

// A holder that goes silent with its connection open (a stopped process,
// a hung program) is told, over that connection, that its license was
// freed by the timeout, before the connection is cut.
func TestSilentHolderIsToldItsLicenseTimedOut(t *testing.T) {
	port, _, p := startDemo(t)
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	require.NoError(t, err)
	defer conn.Close()
	wc := wire.NewConn(conn)
	_, _, err = wc.Call(ctx(t), wire.New("HELLO", "proto", "1", "vendor", "demo", "user", "mute", "host", "h", "notify", "revoked"))
	require.NoError(t, err)
	resp, _, err := wc.Call(ctx(t), wire.New("CHECKOUT", "feature", "solver"))
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(15*time.Second)))
	m, err := wc.Receive()
	require.NoError(t, err, "no word of the timeout before the connection was cut")
	assert.Equal(t, wire.VerbRevoked, m.Verb)
	assert.Equal(t, resp.Get("handle"), m.Get("handle"))
	assert.Equal(t, "timeout", m.Get("reason"))
	assert.Equal(t, "-16", m.Get("code"))
	assert.Equal(t, "602", m.Get("minor"))
	p.waitLog(t, "Telling mute@h its solver license (handle "+resp.Get("handle")+") was revoked: timeout")
}

func TestGarbageLineGetsErrorAndHarmsNobody(t *testing.T) {
	port, _, _ := startDemo(t)
	c := newClient(t, port)
	lic, err := c.Checkout(ctx(t), "solver", "", 1)
	require.NoError(t, err)

	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.Write([]byte("\x00\xff garbage = = \"\n"))
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
	reply, err := bufio.NewReader(conn).ReadString('\n')
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(reply, "ERR code=-12"), "reply %q", reply)

	assert.True(t, lic.Held())
	_, err = c.Checkout(ctx(t), "solver", "", 1)
	assert.NoError(t, err, "another client is served as before")
}

func TestVendorDaemonRestartedAfterCrash(t *testing.T) {
	port, lic, p := startDemo(t)
	pids := vendordPids(t, lic)
	require.Len(t, pids, 1)
	require.NoError(t, syscall.Kill(pids[0], syscall.SIGKILL))
	p.waitLog(t, "demo exited with status")
	p.waitLog(t, "Restarting demo")
	require.Eventually(t, func() bool {
		_, err := newClient(t, port).Checkout(ctx(t), "solver", "", 1)
		return err == nil
	}, 10*time.Second, 50*time.Millisecond, "checkout after the vendor daemon restart")
	after := vendordPids(t, lic)
	require.Len(t, after, 1)
	assert.NotEqual(t, pids[0], after[0])
}

func TestLicenseDroppedIntoWatchedDirectory(t *testing.T) {
	port := freePort(t, "127.0.0.1")
	dir := t.TempDir()
	writeLicense(t, dir, "a.lic", port, "FEATURE solver demo 1.0 permanent 1 SIGN=0\n")
	p := startLmgrd(t, "-c", dir)
	p.waitLog(t, "Serving features for the following vendor: demo feature: solver")
	c := newClient(t, port)
	held, err := c.Checkout(ctx(t), "solver", "", 1)
	require.NoError(t, err)
	_, err = c.Checkout(ctx(t), "viewer", "", 1)
	require.ErrorIs(t, err, wire.ErrNoFeature)

	// A broken file changes nothing and is reported with file:line.
	require.NoError(t, writeSigned(filepath.Join(dir, "broken.lic"), []byte("FEATURE viewer demo 1.0 31-foo-2020 1 SIGN=0\n"), 0o644))
	p.waitLog(t, "broken.lic:1:")
	p.waitLog(t, "Reread refused")
	require.NoError(t, os.Remove(filepath.Join(dir, "broken.lic")))

	body := "SERVER 127.0.0.1 ANY " + strconv.Itoa(port) + "\nVENDOR demo\nFEATURE viewer demo 1.0 permanent 1 SIGN=0\n"
	require.NoError(t, writeSigned(filepath.Join(dir, "b.lic"), []byte(body), 0o644))
	p.waitLog(t, "feature: viewer")
	_, err = c.Checkout(ctx(t), "viewer", "", 1)
	require.NoError(t, err)
	assert.True(t, held.Held(), "the holder of a license that still exists keeps it")
	out, _ := lmutil(t, nil, "lmstat", "-a", "-c", fmt.Sprintf("%d@127.0.0.1", port))
	assert.Contains(t, out, "Users of solver:  (Total of 1 license issued;  Total of 1 license in use)")
}

func TestPortInUseFailsAtOnce(t *testing.T) {
	needBinaries(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	lic := writeLicense(t, t.TempDir(), "demo.lic", port, demoFeatures)
	start := time.Now()
	out, err := exec.Command(filepath.Join(binDir, "lmgrd"), "-z", "-c", lic).CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), fmt.Sprintf("is another lmgrd using port %d?", port))
	assert.Less(t, time.Since(start), 5*time.Second, "no minutes of retries")
}

func TestHostIDMismatchRefused(t *testing.T) {
	needBinaries(t)
	port := freePort(t, "127.0.0.1")
	path := filepath.Join(t.TempDir(), "other.lic")
	require.NoError(t, writeSigned(path, []byte(fmt.Sprintf("SERVER 127.0.0.1 0badc0ffee00 %d\nVENDOR demo\n%s", port, demoFeatures)), 0o644))
	out, err := exec.Command(filepath.Join(binDir, "lmgrd"), "-z", "-c", path).CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "hostid 0badc0ffee00 does not match this machine")
	assert.Contains(t, string(out), "other.lic:1")
}

func TestLmdownStopsEverything(t *testing.T) {
	port, lic, p := startDemo(t)
	require.Len(t, pidsOf(t, lic), 2, "lmgrd and one vendord")
	out, code := lmutil(t, nil, "lmdown", "-q", "-c", fmt.Sprintf("%d@127.0.0.1", port))
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "1 FlexNet-compatible License Server(s) shut down")
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatal("lmgrd still running after lmdown")
	}
	assert.NoError(t, p.err, "clean exit")
	assert.Empty(t, pidsOf(t, lic), "no orphan vendor daemon")
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	require.NoError(t, err, "port released")
	ln.Close()
}

func TestSIGTERMLeavesNoOrphans(t *testing.T) {
	_, lic, p := startDemo(t)
	p.stop(t)
	assert.NoError(t, p.err)
	assert.Empty(t, pidsOf(t, lic))
}

func TestSIGKILLedLmgrdTakesItsVendorDaemonAlong(t *testing.T) {
	_, lic, p := startDemo(t)
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	<-p.done
	require.Eventually(t, func() bool { return len(pidsOf(t, lic)) == 0 }, 10*time.Second, 20*time.Millisecond,
		"vendor daemon outlived a SIGKILLed lmgrd")
}

func TestAdminRestrictions(t *testing.T) {
	port := freePort(t, "127.0.0.1")
	lic := writeLicense(t, t.TempDir(), "demo.lic", port, demoFeatures)
	p := startLmgrd(t, "-c", lic, "-x", "lmdown", "-x", "lmremove")
	p.waitLog(t, "Serving features")
	server := fmt.Sprintf("%d@127.0.0.1", port)
	out, code := lmutil(t, nil, "lmdown", "-q", "-c", server)
	assert.NotEqual(t, 0, code)
	assert.Contains(t, out, "You are not a license administrator. (-63")
	out, code = lmutil(t, nil, "lmremove", "-c", server, "solver", "alice", "ws1", "/dev/tty")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, out, "(-63")
	assert.False(t, p.exited())
}

func TestLmremoveFreesALicense(t *testing.T) {
	port, _, p := startDemo(t)
	c := newClient(t, port)
	lic, err := c.Checkout(ctx(t), "solver", "", 1)
	require.NoError(t, err)
	server := fmt.Sprintf("%d@127.0.0.1", port)
	out, code := lmutil(t, nil, "lmremove", "-c", server, "solver", "alice", "ws1", "/dev/pts/1")
	require.Equal(t, 0, code, out)
	p.waitLog(t, "REMOVING alice@ws1:/dev/pts/1 from solver")
	out, _ = lmutil(t, nil, "lmstat", "-f", "solver", "-c", server)
	assert.Contains(t, out, "Total of 0 licenses in use")

	lic2, err := c.Checkout(ctx(t), "solver", "", 1)
	require.NoError(t, err)
	out, code = lmutil(t, nil, "lmremove", "-c", server, "-h", "solver", "127.0.0.1", strconv.Itoa(port), strconv.FormatUint(lic2.Handle(), 10))
	require.Equal(t, 0, code, out)
	_ = lic
}

func TestCheckoutCommandGatesAndReportsDenial(t *testing.T) {
	port, _, _ := startDemo(t)
	server := fmt.Sprintf("%d@127.0.0.1", port)
	out, code := lmutil(t, nil, "checkout", "-c", server, "solver", "--", "sh", "-c", "exit 7")
	assert.Equal(t, 7, code, "exits with the command's status: %s", out)
	out, code = lmutil(t, nil, "checkout", "-c", server, "-n", "3", "solver", "--", "true")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, out, "(-26,")
	out, code = lmutil(t, []string{"LM_LICENSE_FILE=" + server}, "checkout", "mesher", "--", "true")
	assert.Equal(t, 0, code, out)
}

func TestWithoutZLmgrdDetaches(t *testing.T) {
	needBinaries(t)
	port := freePort(t, "127.0.0.1")
	dir := t.TempDir()
	lic := writeLicense(t, dir, "demo.lic", port, demoFeatures)
	logPath := filepath.Join(dir, "lmgrd.log")
	out, err := exec.Command(filepath.Join(binDir, "lmgrd"), "-c", lic, "-l", logPath, "-vendor-keys", demoKeys).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "lmgrd started in the background")
	server := fmt.Sprintf("%d@127.0.0.1", port)
	t.Cleanup(func() {
		lmutil(t, nil, "lmdown", "-q", "-c", server)
		require.Eventually(t, func() bool { return len(pidsOf(t, lic)) == 0 }, 10*time.Second, 20*time.Millisecond)
	})
	require.Eventually(t, func() bool {
		out, code := lmutil(t, nil, "lmstat", "-c", server)
		return code == 0 && strings.Contains(out, "license server UP (MASTER)")
	}, 10*time.Second, 50*time.Millisecond, "the detached lmgrd serves")
	logged, err := os.ReadFile(logPath)
	require.NoError(t, err)
	assert.Contains(t, string(logged), "(lmgrd) lmgrd tcp-port")
}

func TestCheckoutWaitQueuesForALicense(t *testing.T) {
	port, _, p := startDemo(t)
	server := fmt.Sprintf("%d@127.0.0.1", port)
	c := newClient(t, port)
	held, err := c.Checkout(ctx(t), "mesher", "", 1) // the only mesher license
	require.NoError(t, err)

	out, code := lmutil(t, nil, "checkout", "-c", server, "mesher", "--", "true")
	require.NotEqual(t, 0, code, "without -wait a denial fails at once: %s", out)

	cmd := exec.Command(filepath.Join(binDir, "lmutil"), "checkout", "-c", server, "-wait", "20s", "-queue", "mesher", "--", "true")
	done := make(chan error, 1)
	require.NoError(t, cmd.Start())
	go func() { done <- cmd.Wait() }()
	// The checkout waits in the server's queue.
	require.Eventually(t, func() bool {
		return strings.Contains(p.log.String(), `QUEUED: "mesher"`)
	}, 10*time.Second, 20*time.Millisecond, "the queued checkout never asked")
	select {
	case err := <-done:
		t.Fatalf("the queued checkout gave up while the license was held: %v", err)
	default:
	}
	require.NoError(t, held.Checkin())
	select {
	case err := <-done:
		assert.NoError(t, err, "the queued checkout gets the license once it is free")
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("queued checkout never got the freed license")
	}
}

func TestLmdownVendorStopsOnlyThatDaemonUntilLmreread(t *testing.T) {
	port, lic, p := startDemo(t)
	server := fmt.Sprintf("%d@127.0.0.1", port)
	out, code := lmutil(t, nil, "lmdown", "-q", "-vendor", "demo", "-c", server)
	require.Equal(t, 0, code, out)
	p.waitLog(t, "demo stays down (lmdown -vendor)")
	assert.Empty(t, vendordPids(t, lic), "the vendor daemon is not restarted")
	assert.False(t, p.exited(), "lmgrd keeps running")
	out, _ = lmutil(t, nil, "lmstat", "-c", server)
	assert.Contains(t, out, "127.0.0.1: license server UP (MASTER)")
	assert.Contains(t, out, "The desired vendor daemon is down.")

	out, code = lmutil(t, nil, "lmreread", "-c", server)
	require.Equal(t, 0, code, out)
	require.Eventually(t, func() bool {
		_, err := newClient(t, port).Checkout(ctx(t), "solver", "", 1)
		return err == nil
	}, 10*time.Second, 50*time.Millisecond, "lmreread starts the daemon again")
}

func TestFloodOfSilentConnectionsHarmsNobody(t *testing.T) {
	port, _, p := startDemo(t)
	c := newClient(t, port)
	held, err := c.Checkout(ctx(t), "solver", "", 1)
	require.NoError(t, err)

	// 500 connections that never say HELLO, and 100 that send garbage.
	var flood []net.Conn
	t.Cleanup(func() {
		for _, f := range flood {
			f.Close()
		}
	})
	for i := 0; i < 600; i++ {
		f, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		require.NoError(t, err)
		if i >= 500 {
			_, _ = f.Write([]byte("\xff\xfe not a greeting\n"))
		}
		flood = append(flood, f)
	}
	start := time.Now()
	other := newClient(t, port)
	_, err = other.Checkout(ctx(t), "solver", "", 1)
	require.NoError(t, err, "a client gets through the flood")
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.True(t, held.Held(), "an existing holder keeps its license")
	out, code := lmutil(t, nil, "lmstat", "-f", "solver", "-c", fmt.Sprintf("%d@127.0.0.1", port))
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "Total of 2 licenses in use")
	assert.False(t, p.exited())
}
