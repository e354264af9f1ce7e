package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lmtriad/lmtriad/wire"
)

// revokeScript records the signal it gets in $0, and that it is ready.
const revokeScript = `trap 'echo TERM > "$0"; kill $! 2>/dev/null; exit 143' TERM; : > "$0.ready"; sleep 60 & wait`

// revocable is `lmutil checkout -c server solver -- sh revokeScript`,
// started and holding its license: handle and server as lmutil printed
// them, the marker file the script writes the signal it got into, and the
// rest of lmutil's standard error once it exits.
type revocable struct {
	cmd            *exec.Cmd
	server, handle string
	marker         string
	rest           chan string
}

func startRevocable(t *testing.T, server string) *revocable {
	t.Helper()
	rv := &revocable{marker: filepath.Join(t.TempDir(), "signal"), rest: make(chan string, 1)}
	rv.cmd = exec.Command(filepath.Join(binDir, "lmutil"), "checkout", "-c", server, "-revoke-grace", "5s",
		"solver", "--", "sh", "-c", revokeScript, rv.marker)
	stderr, err := rv.cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, rv.cmd.Start())
	t.Cleanup(func() { _ = rv.cmd.Process.Kill() })
	r := bufio.NewReader(stderr)
	line, err := r.ReadString('\n')
	require.NoError(t, err)
	m := regexp.MustCompile(`checked out from \d+@(\S+) \(handle (\d+)\)`).FindStringSubmatch(line)
	require.NotNil(t, m, line)
	rv.server, rv.handle = m[1], m[2]
	go func() {
		var b strings.Builder
		_, _ = r.WriteTo(&b)
		rv.rest <- b.String()
	}()
	require.Eventually(t, func() bool { _, err := os.Stat(rv.marker + ".ready"); return err == nil },
		10*time.Second, 5*time.Millisecond, "the command never started")
	return rv
}

// wait waits (at most 10 s) for lmutil to exit and returns its error.
func (rv *revocable) wait(t *testing.T) error {
	t.Helper()
	exited := make(chan error, 1)
	go func() { exited <- rv.cmd.Wait() }()
	select {
	case err := <-exited:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("lmutil checkout still runs 10 s after its license was taken away")
		return nil
	}
}

// signalled checks that the command got SIGTERM.
func (rv *revocable) signalled(t *testing.T) {
	t.Helper()
	got, err := os.ReadFile(rv.marker)
	require.NoError(t, err, "the command got no SIGTERM")
	assert.Equal(t, "TERM\n", string(got))
}

// An lmremove of the holder of `lmutil checkout -- cmd` reaches it at once:
// the command gets SIGTERM, lmutil exits non-zero with the FlexLM error,
// and the license is not checked out again.
func TestLmremoveRevokesCheckoutCommand(t *testing.T) {
	port, _, p := startDemo(t)
	server := fmt.Sprintf("%d@127.0.0.1", port)
	rv := startRevocable(t, server)

	start := time.Now()
	out, code := lmutil(t, nil, "lmremove", "-c", server, "-h", "solver", "127.0.0.1", strconv.Itoa(port), rv.handle)
	require.Equal(t, 0, code, out)
	removed := time.Since(start)
	waitErr := rv.wait(t)
	elapsed := time.Since(start)
	t.Logf("lmremove took %v; lmutil checkout exited %v after the lmremove started", removed, elapsed)
	assert.Less(t, elapsed, 2*time.Second, "lmutil checkout must stop within 2 s of the lmremove")

	var ee *exec.ExitError
	require.ErrorAs(t, waitErr, &ee)
	assert.Equal(t, 1, ee.ExitCode())
	msg := <-rv.rest
	assert.Contains(t, msg, fmt.Sprintf("(%d,601:", wire.CodeCantRead), msg)
	assert.Contains(t, msg, "license removed by lmremove", msg)
	assert.Contains(t, msg, "license revoked", msg)
	rv.signalled(t)

	// The freed seat was not taken again by that client: one OUT only.
	p.waitLog(t, "revoked: removed")
	out, _ = lmutil(t, nil, "lmstat", "-f", "solver", "-c", server)
	assert.Contains(t, out, "Total of 0 licenses in use")
	assert.Equal(t, 1, strings.Count(p.log.String(), `OUT: "solver"`), p.log.String())
}

// -revoke-signal and -revoke-grace: a command that ignores the signal is
// killed when the grace runs out.
func TestRevokeGraceEndsWithSIGKILL(t *testing.T) {
	port, _, _ := startDemo(t)
	server := fmt.Sprintf("%d@127.0.0.1", port)
	ready := filepath.Join(t.TempDir(), "ready")
	cmd := exec.Command(filepath.Join(binDir, "lmutil"), "checkout", "-c", server,
		"-revoke-signal", "INT", "-revoke-grace", "300ms", "solver", "--",
		"sh", "-c", `trap '' INT TERM; : > "$0"; exec sleep 60`, ready)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	r := bufio.NewReader(stderr)
	line, err := r.ReadString('\n')
	require.NoError(t, err)
	m := regexp.MustCompile(`\(handle (\d+)\)`).FindStringSubmatch(line)
	require.NotNil(t, m, line)
	require.Eventually(t, func() bool { _, err := os.Stat(ready); return err == nil },
		10*time.Second, 5*time.Millisecond, "the command never started")
	go func() { _, _ = bufio.NewReader(r).WriteTo(new(strings.Builder)) }()
	start := time.Now()
	out, code := lmutil(t, nil, "lmremove", "-c", server, "-h", "solver", "127.0.0.1", strconv.Itoa(port), m[1])
	require.Equal(t, 0, code, out)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err = <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the command outlived -revoke-grace")
	}
	elapsed := time.Since(start)
	t.Logf("stopped %v after the lmremove started (grace 300ms)", elapsed)
	assert.GreaterOrEqual(t, elapsed, 300*time.Millisecond, "killed before the grace ran out")
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, 1, ee.ExitCode())
}

// A reread that removes the feature a `lmutil checkout -- cmd` holds
// revokes it too: the command is stopped and lmutil exits with -92.
func TestRereadRemovingAFeatureRevokesCheckoutCommand(t *testing.T) {
	port, lic, p := startDemo(t)
	rv := startRevocable(t, fmt.Sprintf("%d@127.0.0.1", port))

	// The license again without its FEATURE solver line (demoFeatures' first).
	_, rest, _ := strings.Cut(demoFeatures, "\n")
	writeLicense(t, filepath.Dir(lic), filepath.Base(lic), port, rest)
	var ee *exec.ExitError
	require.ErrorAs(t, rv.wait(t), &ee)
	assert.Equal(t, 1, ee.ExitCode())
	msg := <-rv.rest
	assert.Contains(t, msg, fmt.Sprintf("(%d,603:", wire.CodeServerRemoved), msg)
	rv.signalled(t)
	p.waitLog(t, "revoked: reread")
}

// On a triad the master's vendor daemon revokes: an lmremove (lmutil finds the master)
// stops the holder's command.
func TestTriadLmremoveRevokesCheckoutCommand(t *testing.T) {
	tc := startTriad(t, false)
	tc.waitMaster(t, "127.0.0.1")
	checkoutReady(t, triadClient(t, tc, "warmup"), "solver", 1).Checkin()
	rv := startRevocable(t, tc.path())

	start := time.Now()
	out, code := lmutil(t, nil, "lmremove", "-c", tc.path(), "-h", "solver", rv.server, strconv.Itoa(tc.port), rv.handle)
	require.Equal(t, 0, code, out)
	_ = rv.wait(t)
	t.Logf("lmutil checkout exited %v after the lmremove started", time.Since(start))
	rv.signalled(t)
	tc.procs[0].waitLog(t, "revoked: removed")
}
