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

	"github.com/lmtriad/lmtriad/client"
)

// borrowDate is lmborrow's date two days from now: its 23:59 is less than
// 72 hours away.
func borrowDate() string {
	return strings.ToLower(time.Now().AddDate(0, 0, 2).Format("02-Jan-2006"))
}

// End to end on a lone server: lmborrow records the intent, lmutil
// checkout borrows, the license stays in use after the process exited,
// lmdown refuses (-120) until -force, lmborrow -return frees it, and
// MAX_BORROW_HOURS refuses a borrow too long (-104).
func TestLmborrowEndToEnd(t *testing.T) {
	needBinaries(t)
	port := freePort(t, "127.0.0.1")
	dir := t.TempDir()
	lic := writeLicense(t, dir, "demo.lic", port,
		"FEATURE solver demo 1.0 permanent 2 BORROW=72 SIGN=0\nFEATURE mesher demo 1.0 permanent 1 BORROW SIGN=0\n"+
			"FEATURE viewer demo 1.0 permanent 1 SIGN=0\n")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "demo.opt"), []byte("MAX_BORROW_HOURS mesher 24\n"), 0o644))
	p := startLmgrd(t, "-c", lic)
	p.waitLog(t, "Serving features for the following vendor: demo")
	server := fmt.Sprintf("%d@127.0.0.1", port)
	env := []string{"LM_BORROW_FILE=" + filepath.Join(dir, "home", ".lmtriad", "borrow.json")}

	out, code := lmutil(t, env, "lmborrow", "demo", borrowDate())
	require.Equal(t, 0, code, out)
	out, code = lmutil(t, env, "checkout", "-c", server, "solver", "--", "true")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "solver borrowed from "+server)

	// The process is gone; the license is not.
	out, _ = lmutil(t, nil, "lmstat", "-a", "-c", server)
	assert.Contains(t, out, "Users of solver:  (Total of 2 licenses issued;  Total of 1 license in use)", out)
	assert.Contains(t, out, "(linger: ", "a borrowed license shows as FlexLM shows it")
	out, code = lmutil(t, env, "lmborrow", "-status")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "solver")
	assert.Contains(t, out, "Borrowing demo licenses until")
	// A second run uses the borrowed license, without a second one.
	out, code = lmutil(t, env, "checkout", "-c", server, "solver", "--", "true")
	require.Equal(t, 0, code, out)
	out, _ = lmutil(t, nil, "lmstat", "-a", "-c", server)
	assert.Contains(t, out, "Total of 1 license in use")

	// MAX_BORROW_HOURS 24 is below the two days asked for.
	out, code = lmutil(t, env, "checkout", "-c", server, "mesher", "--", "true")
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "-104")
	// A feature without BORROW is checked out as usual.
	out, code = lmutil(t, env, "checkout", "-c", server, "viewer", "--", "true")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "viewer checked out from")

	out, code = lmutil(t, nil, "lmdown", "-q", "-c", server)
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "-120")
	assert.Contains(t, out, "1 licenses borrowed")
	assert.False(t, p.exited(), "lmdown without -force stopped lmgrd")

	out, code = lmutil(t, env, "lmborrow", "-return", "solver")
	require.Equal(t, 0, code, out)
	out, _ = lmutil(t, nil, "lmstat", "-a", "-c", server)
	assert.Contains(t, out, "Users of solver:  (Total of 2 licenses issued;  Total of 0 licenses in use)")
	out, _ = lmutil(t, env, "lmborrow", "-status")
	assert.Contains(t, out, "No licenses borrowed")

	// Borrowed again, -force stops the server anyway.
	out, code = lmutil(t, env, "checkout", "-c", server, "solver", "--", "true")
	require.Equal(t, 0, code, out)
	out, code = lmutil(t, nil, "lmdown", "-q", "-force", "-c", server)
	require.Equal(t, 0, code, out)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatal("lmgrd still running after lmdown -force")
	}
}

// A borrowed license lives in the triad's table: it survives its client's
// exit and the master's death, and is returned to the new master.
func TestTriadBorrowSurvivesFailover(t *testing.T) {
	needBinaries(t)
	port := freePort(t, triadHosts[:]...)
	body := fmt.Sprintf("SERVER 127.0.0.1 ANY %d\nSERVER 127.0.0.2 ANY %d\nSERVER 127.0.0.3 ANY %d\nVENDOR demo\n"+
		"FEATURE solver demo 1.0 permanent 2 BORROW=24 SIGN=0\n", port, port, port)
	lic := filepath.Join(t.TempDir(), "triad.lic")
	require.NoError(t, writeSigned(lic, []byte(body), 0o644))
	tc := &triadCluster{port: port, lic: lic}
	for i := range triadHosts {
		tc.start(t, i)
	}
	tc.waitMaster(t, "127.0.0.1")

	file := filepath.Join(t.TempDir(), "borrow.json")
	require.NoError(t, client.WriteBorrowFile(file, client.BorrowFile{
		Intents: []client.BorrowIntent{{Vendor: "all", Until: time.Now().Add(12 * time.Hour)}}}))
	borrower := func(user string) *client.Client {
		opts := client.NewOptions()
		opts.LicensePath = tc.path()
		opts.User, opts.Host = user, "laptop"
		opts.BorrowFile = file
		c, err := client.New(opts)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		return c
	}
	c := borrower("alice")
	l := checkoutReady(t, c, "solver", 1)
	require.True(t, l.Borrowed())
	require.NoError(t, c.Close()) // the program exits

	out := tc.lmstat(t)
	assert.Contains(t, out, "Total of 1 license in use")
	// Any member refuses lmdown: the borrow is in every member's table.
	require.Eventually(t, func() bool {
		out, code := lmutil(t, nil, "lmdown", "-q", "-c", fmt.Sprintf("%d@127.0.0.3", port))
		return code == 1 && strings.Contains(out, "-120")
	}, 10*time.Second, 100*time.Millisecond, "a replica's lmdown was not refused")
	for i := range tc.procs {
		require.False(t, tc.procs[i].exited(), "member %d stopped", i)
	}

	tc.kill(t, 0)
	out = tc.waitMaster(t, "127.0.0.2")
	assert.Contains(t, out, "Users of solver:  (Total of 2 licenses issued;  Total of 1 license in use)",
		"the new master holds the borrowed license")
	assert.Contains(t, out, "(linger: ")

	// The borrow is the new master's to give back.
	require.NoError(t, borrower("alice").Return(ctx(t), "solver"))
	require.Eventually(t, func() bool {
		return strings.Contains(tc.lmstat(t), "Total of 0 licenses in use")
	}, 10*time.Second, 100*time.Millisecond)
}
