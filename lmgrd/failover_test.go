package main

import (
	"fmt"
	"os"
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

// holdersForFailover is how many holders TestTriadFailoverKeepsEveryHolder
// uses; LMTRIAD_FAILOVER_HOLDERS=1000 reproduces the figure.
func holdersForFailover() int {
	if n, err := strconv.Atoi(os.Getenv("LMTRIAD_FAILOVER_HOLDERS")); err == nil && n > 0 {
		return n
	}
	return 100
}

func TestTriadFailoverKeepsEveryHolder(t *testing.T) {
	needBinaries(t)
	n := holdersForFailover()
	port := freePort(t, triadHosts[:]...)
	body := fmt.Sprintf("SERVER 127.0.0.1 ANY %d\nSERVER 127.0.0.2 ANY %d\nSERVER 127.0.0.3 ANY %d\nVENDOR demo\n"+
		"FEATURE solver demo 1.0 permanent %d SIGN=0\n", port, port, port, n)
	lic := filepath.Join(t.TempDir(), "triad.lic")
	require.NoError(t, writeSigned(lic, []byte(body), 0o644))
	tc := &triadCluster{port: port, lic: lic}
	for i := range triadHosts {
		tc.start(t, i)
	}
	tc.waitMaster(t, "127.0.0.1")

	holders := holdAll(t, tc, n)
	_, err := triadClient(t, tc, "late").Checkout(ctx(t), "solver", "", 1)
	require.ErrorIs(t, err, wire.ErrMaxUsers)

	killed := time.Now()
	tc.kill(t, 0)
	tc.procs[1].waitLog(t, fmt.Sprintf("%d license holder(s) kept", n))
	t.Logf("new master took over %v after the SIGKILL", time.Since(killed))

	// Every license is still counted: a further checkout is denied, even
	// before the holders have reattached.
	late := triadClient(t, tc, "late2")
	require.Eventually(t, func() bool {
		_, err := late.Checkout(ctx(t), "solver", "", 1)
		return err != nil && (wireCode(err) == wire.CodeMaxUsers)
	}, 10*time.Second, 50*time.Millisecond, "checkout beyond the count must be denied on the new master")

	for i, h := range holders {
		waitEvent(t, h.lic, client.Regained)
		assert.Equal(t, h.handle, h.lic.Handle(), "holder %d reattached to its own handle", i)
		assert.Equal(t, fmt.Sprintf("%d@127.0.0.2", tc.port), h.lic.Server())
	}
	t.Logf("all %d holders reattached %v after the SIGKILL", n, time.Since(killed))
	out := tc.lmstat(t)
	assert.Contains(t, out, fmt.Sprintf("Users of solver:  (Total of %d licenses issued;  Total of %d licenses in use)", n, n))
	_, err = late.Checkout(ctx(t), "solver", "", 1)
	assert.ErrorIs(t, err, wire.ErrMaxUsers, "nobody got a license twice")
}

func wireCode(err error) int {
	if we := wire.ToError(err); we != nil {
		return we.Code
	}
	return 0
}

func TestTriadMasterVendorDaemonCrashKeepsHolders(t *testing.T) {
	// The master's lmgrd lives on, its vendor daemon is SIGKILLed: lmgrd
	// restarts it, it takes the license table back from the peers, and
	// the holders reattach to it.
	tc := startTriad(t, false)
	tc.waitMaster(t, "127.0.0.1")
	c := triadClient(t, tc, "alice")
	lic := checkoutReady(t, c, "solver", 2)
	handle := lic.Handle()

	var masterVendord []int
	for _, pid := range vendordPids(t, tc.lic) {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if strings.Contains(string(cmdline), "-server-host\x00127.0.0.1\x00") {
			masterVendord = append(masterVendord, pid)
		}
	}
	require.Len(t, masterVendord, 1)
	require.NoError(t, syscall.Kill(masterVendord[0], syscall.SIGKILL))
	tc.procs[0].waitLog(t, "Restarting demo")
	tc.procs[0].waitLog(t, "license holder(s) kept")
	waitEvent(t, lic, client.Regained)
	assert.Equal(t, handle, lic.Handle())
	assert.Equal(t, fmt.Sprintf("%d@127.0.0.1", tc.port), lic.Server(), "the master stayed the master")
	out := tc.lmstat(t)
	assert.Contains(t, out, "Users of solver:  (Total of 3 licenses issued;  Total of 2 licenses in use)")
	_, err := triadClient(t, tc, "bob").Checkout(ctx(t), "solver", "", 2)
	assert.ErrorIs(t, err, wire.ErrMaxUsers, "alice's two licenses still count")
}
