package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lmtriad/lmtriad/adminauth"
)

// testIterations keeps the password hash fast under -race; the default
// (adminauth.DefaultIterations) is for real passwords.
var testIterations = fmt.Sprint(adminauth.MinIterations)

func TestRemoteAdministratorPasswords(t *testing.T) {
	n := newAdminNet(t)
	who, host := adminIdentity()
	dir := t.TempDir()
	const port = 27111
	server := fmt.Sprintf("%d@%s", port, n.Server)
	lic := filepath.Join(dir, "demo.lic")
	body := fmt.Sprintf("SERVER %s ANY %d\nVENDOR demo\n%s", n.Server, port, demoFeatures)
	require.NoError(t, writeSigned(lic, []byte(body), 0o644))
	state := filepath.Join(dir, "state")
	start := func() *proc {
		p := startLmgrdVia(t, []string{"ip", "netns", "exec", n.serverNS}, "3s", "-c", lic, "-state", state, "-remote-admin", "none")
		p.waitLog(t, "Serving features for the following vendor: demo")
		return p
	}
	p := start()
	holdSolver(t, n.serverNS, server)
	remote := fmt.Sprintf("%s at %s (%s)", who, host, n.Remote)

	fullFile := filepath.Join(dir, "full.pw")
	require.NoError(t, os.WriteFile(fullFile, []byte("Full-s3cret-4711\n"), 0o600))
	fullEnv := []string{"LM_ADMIN_PASSWORD=Full-s3cret-4711"}
	restrictedEnv := []string{"LM_ADMIN_PASSWORD=Restricted-s3cret-0815"}

	// No password set yet: a remote lmdown is refused, and so is a remote
	// lmpasswd (only a full session may set passwords).
	out, code := lmutilIn(t, n.remoteNS, "lmdown", "-q", "-c", server)
	assert.NotEqual(t, 0, code, out)
	assert.Contains(t, out, "(-63,2:")
	assert.Contains(t, out, "needs the full admin password")
	p.waitLog(t, "lmdown refused for "+remote)
	out, code = lmutilWith(t, n.remoteNS, nil, "Full-s3cret-4711\n", "lmpasswd", "-c", server, "-full", "-iterations", testIterations)
	assert.NotEqual(t, 0, code, out)
	p.waitLog(t, "lmpasswd refused for "+remote)

	// The administrator on the server's host sets both passwords.
	out, code = lmutilWith(t, n.serverNS, nil, "Full-s3cret-4711\n", "lmpasswd", "-c", server, "-full", "-iterations", testIterations)
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "the full password is set")
	out, code = lmutilWith(t, n.serverNS, nil, "Restricted-s3cret-0815\n", "lmpasswd", "-c", server, "-restricted", "-iterations", testIterations)
	require.Equal(t, 0, code, out)
	p.waitLog(t, "Administrator password (full) set by "+who)
	p.waitLog(t, "Administrator password (restricted) set by "+who)

	// -remote-admin none: without a password a remote lmstat sees totals
	// only; the restricted password shows the user lines, and acts on
	// nothing.
	out, code = lmutilIn(t, n.remoteNS, "lmstat", "-a", "-c", server)
	require.Equal(t, 0, code, out)
	assert.NotContains(t, out, "), start ")
	out, code = lmutilWith(t, n.remoteNS, restrictedEnv, "", "lmstat", "-a", "-c", server)
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "), start ", "the restricted password shows the user lines")
	out, code = lmutilWith(t, n.remoteNS, restrictedEnv, "", "lmreread", "-c", server)
	assert.NotEqual(t, 0, code, out)
	p.waitLog(t, "lmreread refused for "+remote+" with the restricted password")

	// The full password, from a file or the environment, allows actions.
	out, code = lmutilWith(t, n.remoteNS, nil, "", "lmreread", "-c", server, "-password-file", fullFile)
	require.Equal(t, 0, code, out)
	p.waitLog(t, "REREAD request from "+remote+" with the full password")

	// A wrong password is refused and logged; after three failures the
	// address is held off, even with the right password, while the
	// server's own host is not.
	out, code = lmutilWith(t, n.remoteNS, []string{"LM_ADMIN_PASSWORD=guess"}, "", "lmreread", "-c", server)
	assert.NotEqual(t, 0, code, out)
	assert.Contains(t, out, "(-63,6:")
	p.waitLog(t, "Admin password (full) refused for "+remote+": it does not match")
	heldOff := false
	for range 10 { // each failure past the third doubles the wait: bounded
		out, _ = lmutilWith(t, n.remoteNS, []string{"LM_ADMIN_PASSWORD=guess"}, "", "lmreread", "-c", server)
		if strings.Contains(out, "too many failed password attempts from "+n.Remote) {
			heldOff = true
			break
		}
	}
	require.True(t, heldOff, "guesses were never slowed down: %s", out)
	assert.Contains(t, out, "(-63,7:")
	out, code = lmutilWith(t, n.remoteNS, fullEnv, "", "lmreread", "-c", server)
	assert.NotEqual(t, 0, code, "a held-off address is refused even with the right password: %s", out)
	out, code = lmutilWith(t, n.serverNS, []string{"LM_ADMIN_PASSWORD=guess"}, "", "lmstat", "-c", server)
	assert.NotContains(t, out, "too many failed password attempts", "another address is not held off")
	_ = code

	// The passwords survive a restart (lone server: its state directory),
	// and a remote lmdown with the full password stops lmgrd.
	require.Eventually(t, func() bool {
		out, code = lmutilWith(t, n.remoteNS, fullEnv, "", "lmdown", "-q", "-c", server)
		return code == 0
	}, 90*time.Second, time.Second, "the held-off address never got in again: %s", out)
	p.waitLog(t, "SHUTDOWN request from "+remote+" with the full password")
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatal("lmgrd still running after lmdown with the full password")
	}
	p = start()
	out, code = lmutilWith(t, n.remoteNS, fullEnv, "", "lmreread", "-c", server)
	require.Equal(t, 0, code, out)
	p.waitLog(t, "REREAD request from "+remote+" with the full password")

	// The password is never written anywhere in clear.
	for _, l := range []string{p.log.String()} {
		assert.NotContains(t, l, "s3cret")
	}
	stored, err := os.ReadFile(filepath.Join(state, "passwords.json"))
	require.NoError(t, err)
	assert.NotContains(t, string(stored), "s3cret")
	st, err := os.Stat(filepath.Join(state, "passwords.json"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
}

func TestTriadPasswordReachesEveryMember(t *testing.T) {
	tc := startTriad(t, false)
	tc.waitSomeMaster(t)
	// Set through the secondary, which forwards it to the master.
	out, code := lmutilWith(t, "", nil, "Triad-pw-2718\n", "lmpasswd", "-c", fmt.Sprintf("%d@%s", tc.port, triadHosts[1]), "-full", "-iterations", testIterations)
	require.Equal(t, 0, code, out)
	for i := range triadHosts {
		tc.procs[i].waitLog(t, "Triad: administrator password (full) set by")
	}
	// Every member checks the same password: lmstat through the triad
	// proves it to each member (its INFO), and a proof is verified even
	// from the server's own host, so a wrong one is refused by each.
	require.Eventually(t, func() bool { // lmstat exits 1 while the triad has no master (an election under load)
		out, code = lmutilWith(t, "", []string{"LM_ADMIN_PASSWORD=Triad-pw-2718"}, "", "lmstat", "-c", tc.path())
		return code == 0
	}, 20*time.Second, 200*time.Millisecond, "lmstat with the password: %s", out)
	assert.NotContains(t, out, "(-63,")
	out, _ = lmutilWith(t, "", []string{"LM_ADMIN_PASSWORD=wrong"}, "", "lmstat", "-c", tc.path())
	assert.Contains(t, out, "(-63,6:", "a wrong password was accepted: %s", out)
	for i := range triadHosts {
		tc.procs[i].waitLog(t, "Admin password (full) refused for")
	}
	for i := range triadHosts {
		assert.NotContains(t, tc.procs[i].log.String(), "Triad-pw-2718")
	}

	// The password is part of the replicated state: it survives a restart
	// of every member.
	tc.killMembers(t, 0, 1, 2)
	for i := range triadHosts {
		tc.start(t, i)
	}
	tc.waitSomeMaster(t)
	require.Eventually(t, func() bool {
		out, code = lmutilWith(t, "", []string{"LM_ADMIN_PASSWORD=Triad-pw-2718"}, "", "lmstat", "-c", tc.path())
		return code == 0
	}, 20*time.Second, 200*time.Millisecond, "the password was lost in the restart: %s", out)
	out, _ = lmutilWith(t, "", []string{"LM_ADMIN_PASSWORD=wrong"}, "", "lmstat", "-c", tc.path())
	assert.Contains(t, out, "(-63,6:")
}
