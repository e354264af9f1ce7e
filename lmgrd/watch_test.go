package main

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestWatchSplitsTheSearchPathAsTheLoaderDoes: the watcher takes the parts
// of -c from licfile.ParseSearchPath, as the loader does, so a file the
// loader reads is watched even where -c has blanks around a ':' (which the
// loader trims).
func TestWatchSplitsTheSearchPathAsTheLoaderDoes(t *testing.T) {
	port := freePort(t, "127.0.0.1")
	a := writeLicense(t, t.TempDir(), "a.lic", port, "FEATURE solver demo 1.0 permanent 1 SIGN=0\n")
	b := writeLicense(t, t.TempDir(), "b.lic", port, "FEATURE mesher demo 1.0 permanent 1 SIGN=0\n")
	p := startLmgrd(t, "-c", a+" : "+b)
	p.waitLog(t, "Serving features for the following vendor: demo feature: mesher")

	body := "SERVER 127.0.0.1 ANY " + strconv.Itoa(port) + "\nVENDOR demo\nFEATURE mesher demo 1.0 permanent 1 SIGN=0\nFEATURE viewer demo 1.0 permanent 1 SIGN=0\n"
	require.NoError(t, writeSigned(b, []byte(body), 0o644))
	p.waitLog(t, "feature: viewer")
	_, err := newClient(t, port).Checkout(ctx(t), "viewer", "", 1)
	require.NoError(t, err)
}
