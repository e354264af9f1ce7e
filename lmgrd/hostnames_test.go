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
)

// A triad whose SERVER lines name hosts, not addresses, on one machine:
// lic1-3 resolve to 127.0.0.1-3 through the /etc/hosts of a network
// namespace the test makes (ip netns exec mounts /etc/netns/NS/hosts over
// /etc/hosts for the processes it starts). Each member binds its own
// host's address and dials its peers from it, so they accept one another.
func TestHostNameTriadOnOneMachine(t *testing.T) {
	needBinaries(t)
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	ns := fmt.Sprintf("lmh-%d", os.Getpid())
	if _, err := ip("netns", "add", ns); err != nil {
		t.Skipf("network namespaces unavailable: %v", err)
	}
	etc := filepath.Join("/etc/netns", ns)
	t.Cleanup(func() { deleteNS(ns); _ = os.RemoveAll(etc) })
	_, err := ip("-n", ns, "link", "set", "lo", "up")
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(etc, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(etc, "hosts"),
		[]byte("127.0.0.1 localhost lic1\n127.0.0.2 lic2\n127.0.0.3 lic3\n"), 0o644))

	const port = 27131
	lic := filepath.Join(t.TempDir(), "triad.lic")
	require.NoError(t, writeSigned(lic, []byte(fmt.Sprintf("SERVER lic1 ANY %d\nSERVER lic2 ANY %d\nSERVER lic3 ANY %d\nVENDOR demo\n"+
		"FEATURE solver demo 1.0 permanent 3 SIGN=0\n", port, port, port)), 0o644))
	wrapper := []string{"ip", "netns", "exec", ns}
	var procs []*proc
	for _, h := range []string{"lic1", "lic2", "lic3"} {
		procs = append(procs, startLmgrdVia(t, wrapper, "3s", "-c", lic, "-self", h, "-state", filepath.Join(filepath.Dir(lic), "state-"+h)))
	}
	for _, p := range procs {
		p.waitLog(t, "CONNECTED, master is lic1")
	}
	var out string
	require.Eventually(t, func() bool {
		out, _ = lmutilIn(t, ns, "lmstat", "-a", "-c", fmt.Sprintf("%d@lic2", port))
		return strings.Contains(out, "lic1: license server UP (MASTER)") && strings.Contains(out, "demo: UP")
	}, 20*time.Second, 200*time.Millisecond, "no master through host names: %s", out)
	for _, p := range procs {
		assert.NotContains(t, p.log.String(), "Refused peer")
	}
}
