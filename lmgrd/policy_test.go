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
	"github.com/lmtriad/lmtriad/wire"
)

// clientAs is a client of the server at path checking out as user.
func clientAs(t *testing.T, path, user string) *client.Client {
	t.Helper()
	opts := client.NewOptions()
	opts.LicensePath = path
	opts.User, opts.Host = user, "ws"
	opts.HeartbeatInterval = 200 * time.Millisecond
	c, err := client.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// On a lone server: the options file beside the license applies, and
// lmstat shows the reservation, the lingering license and the expired
// feature as FlexLM prints them.
func TestOptionsFileShowsInLmstat(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t, "127.0.0.1")
	writeLicense(t, dir, "demo.lic", port,
		"FEATURE solver demo 1.0 permanent 3 SIGN=0\nFEATURE oldtool demo 1.0 1-jan-2020 2 SIGN=0\n")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "demo.opt"),
		[]byte("EXCLUDE solver USER mallory\nRESERVE 1 solver USER bob\nLINGER solver 600\n"), 0o644))
	p := startLmgrd(t, "-c", dir)
	p.waitLog(t, "Using options file: ")
	server := fmt.Sprintf("%d@127.0.0.1", port)

	_, err := clientAs(t, server, "mallory").Checkout(ctx(t), "solver", "", 1)
	assert.ErrorIs(t, err, &wire.Error{Code: wire.CodeFeatExclude})
	_, err = clientAs(t, server, "alice").Checkout(ctx(t), "oldtool", "", 1)
	assert.ErrorIs(t, err, &wire.Error{Code: wire.CodeLongGone})
	lic, err := clientAs(t, server, "alice").Checkout(ctx(t), "solver", "", 1)
	require.NoError(t, err)
	require.NoError(t, lic.Checkin())

	out, code := lmutil(t, nil, "lmstat", "-a", "-c", server)
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "Users of solver:  (Total of 3 licenses issued;  Total of 1 license in use)")
	assert.Contains(t, out, fmt.Sprintf("        1 RESERVATION for USER bob (127.0.0.1/%d)", port))
	assert.Regexp(t, `    alice ws .*\(linger: \d+ / 600\)`, out)
	assert.Contains(t, out, "Users of oldtool:  (Error: 2 licenses, expired on 1-jan-2020 (-10))")
}

// An options file dropped on one member is enrolled and applies on all
// three, and still after a failover.
func TestTriadOptionsFileEnrolledOnOneMemberAppliesOnAll(t *testing.T) {
	tc, dirs := enrolTriad(t)
	opt := "EXCLUDE solver USER mallory\nRESERVE 1 solver USER bob\n"
	require.NoError(t, os.WriteFile(filepath.Join(dirs[2], "demo.opt"), []byte(opt), 0o644))
	for i := range dirs {
		require.Eventually(t, func() bool {
			b, err := os.ReadFile(filepath.Join(dirs[i], "demo.opt"))
			return err == nil && string(b) == opt
		}, 10*time.Second, 20*time.Millisecond, "member %d never got the options file", i)
	}
	mallory := triadClient(t, tc, "mallory")
	require.Eventually(t, func() bool {
		_, err := mallory.Checkout(ctx(t), "solver", "", 1)
		return wire.ToError(err) != nil && wire.ToError(err).Code == wire.CodeFeatExclude
	}, 10*time.Second, 50*time.Millisecond, "the master never applied the enrolled options file")
	out := tc.waitMaster(t, "127.0.0.1")
	assert.Contains(t, out, "1 RESERVATION for USER bob")

	tc.kill(t, 0)
	tc.waitMaster(t, "127.0.0.2")
	var err error
	require.Eventually(t, func() bool {
		_, err = mallory.Checkout(ctx(t), "solver", "", 1)
		return err != nil && !strings.Contains(err.Error(), "(-20") && !strings.Contains(err.Error(), "(-23") &&
			!strings.Contains(err.Error(), "(-15") && !strings.Contains(err.Error(), "(-96")
	}, 15*time.Second, 100*time.Millisecond)
	assert.ErrorIs(t, err, &wire.Error{Code: wire.CodeFeatExclude}, "the new master applies the same options")
}

// The enrolled options file is part of the triad's durable state: after a
// kill -9 of all three members it applies again, and holders are kept.
func TestTriadOptionsFileHoldsAcrossAFullRestart(t *testing.T) {
	tc, dirs := enrolTriad(t)
	opt := "EXCLUDE solver USER mallory\nMAX 1 solver USER alice\n"
	require.NoError(t, os.WriteFile(filepath.Join(dirs[1], "demo.opt"), []byte(opt), 0o644))
	alice := triadClient(t, tc, "alice")
	_ = checkoutReady(t, alice, "solver", 1)
	require.Eventually(t, func() bool {
		_, err := alice.Checkout(ctx(t), "solver", "", 1)
		return wire.ToError(err) != nil && wire.ToError(err).Code == wire.CodeMaxLimit
	}, 10*time.Second, 50*time.Millisecond, "MAX never applied")

	tc.killMembers(t, 0, 1, 2)
	for i := range triadHosts {
		tc.start(t, i)
	}
	tc.waitSomeMaster(t)
	mallory := triadClient(t, tc, "mallory")
	var err error
	require.Eventually(t, func() bool {
		_, err = mallory.Checkout(ctx(t), "solver", "", 1)
		we := wire.ToError(err)
		return we != nil && we.Code != wire.CodeServBusy && we.Code != wire.CodeBusyNewServ && we.Code != wire.CodeCantConnect
	}, 20*time.Second, 100*time.Millisecond)
	assert.ErrorIs(t, err, &wire.Error{Code: wire.CodeFeatExclude}, "EXCLUDE after the restart")
	_, err = alice.Checkout(ctx(t), "solver", "", 1)
	assert.ErrorIs(t, err, &wire.Error{Code: wire.CodeMaxLimit}, "MAX counts alice's kept license after the restart")
}
