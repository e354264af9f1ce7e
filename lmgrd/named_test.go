package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lmtriad/lmtriad/wire"
)

// TestPackagesAndNamedUsers runs a PACKAGE and a USER_BASED feature on the
// real programs: a component checks out, the package name gets -125; two
// INCLUDEd users take the two named seats and a third is refused; lmstat
// -named lists them; lmrecycle of a user used today is refused, naming the
// date. (Recycling after 30 days is a unit test on an injected clock.)
func TestPackagesAndNamedUsers(t *testing.T) {
	port := freePort(t, "127.0.0.1")
	dir := t.TempDir()
	lic := writeLicense(t, dir, "demo.lic", port,
		"FEATURE suite demo 1.0 permanent 2 SIGN=0\n"+
			`PACKAGE suite demo 1.0 COMPONENTS="solver viewer:2.0" SIGN=0`+"\n"+
			"FEATURE cad demo 1.0 permanent 2 USER_BASED SIGN=0\n")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "demo.opt"),
		[]byte("INCLUDE cad USER ann\nINCLUDE cad USER bob\nINCLUDE cad USER cid\n"), 0o644))
	p := startLmgrd(t, "-c", lic)
	server := fmt.Sprintf("%d@127.0.0.1", port)
	p.waitLog(t, "Serving features for the following vendor: demo")

	ann := clientAs(t, server, "ann")
	_, err := ann.Checkout(ctx(t), "viewer", "2.0", 1)
	require.NoError(t, err, "a PACKAGE component checks out as a feature")
	_, err = ann.Checkout(ctx(t), "suite", "", 1)
	var we *wire.Error
	require.True(t, errors.As(err, &we), "got %v", err)
	assert.Equal(t, wire.CodeCantCheckoutJustPackage, we.Code, "%v", err)

	_, err = ann.Checkout(ctx(t), "cad", "", 1)
	require.NoError(t, err)
	bob, err := clientAs(t, server, "bob").Checkout(ctx(t), "cad", "", 1)
	require.NoError(t, err)
	_, err = clientAs(t, server, "cid").Checkout(ctx(t), "cad", "", 1)
	assert.ErrorIs(t, err, wire.ErrMaxUsers, "a third named user")
	_, err = clientAs(t, server, "eve").Checkout(ctx(t), "cad", "", 1)
	assert.ErrorIs(t, err, wire.ErrFeatNotInclude)

	plain, code := lmutil(t, nil, "lmstat", "-a", "-c", server)
	require.Equal(t, 0, code, plain)
	assert.NotContains(t, plain, "named user")
	out, code := lmutil(t, nil, "lmstat", "-a", "-named", "-c", server)
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "Users of cad:  (Total of 2 licenses issued;  Total of 2 licenses in use)\n\n"+
		"    named user ann, last used ")
	assert.Contains(t, out, "    named user bob, last used ")

	require.NoError(t, bob.Checkin())
	out, code = lmutil(t, nil, "lmrecycle", "-c", server, "cad", "bob")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, out, "lmrecycle: ")
	assert.Contains(t, out, "(-64,")
	assert.Contains(t, out, "last used "+time.Now().Format("Mon 1/2/2006"))
	p.waitLog(t, "RECYCLE request from")
}
