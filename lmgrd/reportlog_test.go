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

// The report log of the options file, rotated with lmnewlog and switched
// with lmswitchr, on real processes.
func TestReportLogWithLmnewlogAndLmswitchr(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t, "127.0.0.1")
	writeLicense(t, dir, "demo.lic", port, "FEATURE solver demo 1.0 permanent 1 SIGN=0\n")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "demo.opt"), []byte("REPORTLOG +usage.jsonl\n"), 0o644))
	p := startLmgrd(t, "-c", dir)
	report := filepath.Join(dir, "usage.jsonl")
	p.waitLog(t, "Report log: "+report)
	server := fmt.Sprintf("%d@127.0.0.1", port)
	lines := func(path string) string {
		b, _ := os.ReadFile(path)
		return string(b)
	}

	lic, err := clientAs(t, server, "alice").Checkout(ctx(t), "solver", "", 1)
	require.NoError(t, err)
	require.NoError(t, lic.Checkin())
	require.Eventually(t, func() bool { return strings.Count(lines(report), "\n") == 2 }, 10*time.Second, 20*time.Millisecond)
	assert.Contains(t, lines(report), `"event":"checkout","feature":"solver","user":"alice","host":"ws"`)
	assert.Contains(t, lines(report), `"event":"checkin"`)

	out, code := lmutil(t, nil, "lmnewlog", "-c", server, "demo", "usage-1.jsonl")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "report log renamed to "+filepath.Join(dir, "usage-1.jsonl"))
	assert.Equal(t, 2, strings.Count(lines(filepath.Join(dir, "usage-1.jsonl")), "\n"))

	switched := filepath.Join(dir, "switched.jsonl")
	out, code = lmutil(t, nil, "lmswitchr", "-c", server, "solver", switched) // by a feature of the vendor
	require.Equal(t, 0, code, out)
	_, err = clientAs(t, server, "bob").Checkout(ctx(t), "solver", "", 1)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return strings.Contains(lines(switched), `"user":"bob"`) }, 10*time.Second, 20*time.Millisecond)
	assert.NotContains(t, lines(report), "bob")
	p.waitLog(t, "lmswitchr request from ")
}

// lmswitch sends a vendor daemon's log lines to a new file; never an
// existing one.
func TestLmswitchMovesTheDebugLog(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t, "127.0.0.1")
	lic := writeLicense(t, dir, "demo.lic", port, "FEATURE solver demo 1.0 permanent 1 SIGN=0\n")
	p := startLmgrd(t, "-c", lic)
	p.waitLog(t, "Serving features for the following vendor: demo")
	server := fmt.Sprintf("%d@127.0.0.1", port)
	debug := filepath.Join(dir, "demo-debug.log")
	out, code := lmutil(t, nil, "lmswitch", "-c", server, "demo", debug)
	require.Equal(t, 0, code, out)
	p.waitLog(t, "Debug log of demo continues in "+debug+" (lmswitch)")
	_, err := clientAs(t, server, "alice").Checkout(ctx(t), "solver", "", 1)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(debug)
		return strings.Contains(string(b), `OUT: "solver" alice@ws`)
	}, 10*time.Second, 20*time.Millisecond)
	assert.NotContains(t, p.log.String(), `OUT: "solver" alice@ws`)
	out, code = lmutil(t, nil, "lmswitch", "-c", server, "demo", debug)
	assert.NotEqual(t, 0, code)
	assert.Contains(t, out, "exists already")
}
