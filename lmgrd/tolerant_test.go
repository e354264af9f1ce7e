package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lmtriad/lmtriad/wire"
)

// writeWithBadLine writes good (signed) and then bad, a line that does not
// parse, as an admin's typo would leave it.
func writeWithBadLine(t *testing.T, path, good, bad string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(signedText(good)+bad), 0o644))
}

// A broken line, or a broken file of a license directory, no longer stops
// lmgrd: the rest is served, the lines left out are logged and shown in
// lmstat (FlexLM serves the good lines of a license file).
func TestBrokenLineDoesNotStopLmgrd(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t, "127.0.0.1")
	writeLicense(t, dir, "a.lic", port, "FEATURE solver demo 1.0 permanent 1 SIGN=0\n")
	broken := filepath.Join(dir, "b.lic")
	writeWithBadLine(t, broken, "VENDOR demo\nFEATURE viewer demo 1.0 permanent 1 SIGN=0\n",
		"FEATURE broken demo 1.0 notadate 2 SIGN=0\n")
	p := startLmgrd(t, "-c", dir)
	p.waitLog(t, `FEATURE broken: expiry "notadate": want d-mmm-yyyy, "permanent" or year 0 (line ignored)`)
	p.waitLog(t, "Serving features for the following vendor: demo")
	server := fmt.Sprintf("%d@127.0.0.1", port)
	for _, f := range []string{"solver", "viewer"} {
		_, err := clientAs(t, server, "alice").Checkout(ctx(t), f, "", 1)
		require.NoError(t, err, f)
	}
	out, code := lmutil(t, nil, "lmstat", "-a", "-c", server)
	require.Equal(t, 0, code, out)
	assert.Regexp(t, `License file lines not served \(fix them, then lmreread\):\n    `+regexp.QuoteMeta(broken)+`:\d+: FEATURE broken: `, out)
}

// The automatic reread waits for a file that reads cleanly (a half-written
// edit takes nobody's license); lmreread serves the good lines, as
// FlexLM's does.
func TestLmrereadServesGoodLinesTheWatchWaits(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t, "127.0.0.1")
	lic := writeLicense(t, dir, "demo.lic", port, "FEATURE solver demo 1.0 permanent 1 SIGN=0\nFEATURE mesher demo 1.0 permanent 1 SIGN=0\n")
	p := startLmgrd(t, "-c", dir)
	p.waitLog(t, "Serving features for the following vendor: demo")
	server := fmt.Sprintf("%d@127.0.0.1", port)
	holder := clientAs(t, server, "alice")
	_, err := holder.Checkout(ctx(t), "solver", "", 1)
	require.NoError(t, err)

	// mesher raised to 2, with a typo on a new line.
	writeWithBadLine(t, lic, fmt.Sprintf("SERVER 127.0.0.1 ANY %d\nVENDOR demo\nFEATURE solver demo 1.0 permanent 1 SIGN=0\n"+
		"FEATURE mesher demo 1.0 permanent 2 SIGN=0\n", port), "FEATURE broken demo 1.0 notadate 2 SIGN=0\n")
	p.waitLog(t, "Reread refused: the license files above have errors")
	_, err = clientAs(t, server, "bob").Checkout(ctx(t), "mesher", "", 1)
	require.NoError(t, err)
	_, err = clientAs(t, server, "carol").Checkout(ctx(t), "mesher", "", 1)
	assert.ErrorIs(t, err, wire.ErrMaxUsers, "the automatic reread applied a file with errors")

	out, code := lmutil(t, nil, "lmreread", "-c", server)
	require.Equal(t, 0, code, out)
	p.waitLog(t, `FEATURE broken: expiry "notadate"`)
	require.Eventually(t, func() bool {
		_, err := clientAs(t, server, "carol").Checkout(ctx(t), "mesher", "", 1)
		return err == nil
	}, 10*time.Second, 50*time.Millisecond, "lmreread did not serve the good lines")
	out, _ = lmutil(t, nil, "lmstat", "-f", "solver", "-c", server)
	assert.Contains(t, out, "Total of 1 license in use", "the holder from before is kept")
}
