package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lmtriad/lmtriad/flexlog"
	"github.com/lmtriad/lmtriad/vendorctl"
)

// Default-deny: with no key of its vendor (none built in, no -vendor-keys)
// the daemon refuses every line, counted or uncounted, and has nothing to
// serve.
func TestNoKeyForVendorRefusesEveryLine(t *testing.T) {
	lic := filepath.Join(t.TempDir(), "v.lic")
	require.NoError(t, os.WriteFile(lic, []byte("VENDOR demo\n"+
		"FEATURE f demo 1.0 permanent 1 SIGN=0\n"+
		"FEATURE u demo 1.0 permanent uncounted HOSTID=ANY SIGN=0\n"), 0o644))
	log := &lockedBuffer{}
	opts := NewOptions()
	opts.Vendor, opts.LicensePath = "demo", lic
	opts.Logger = flexlog.New(log, "demo")
	err := Run(context.Background(), opts)
	require.Error(t, err)
	assert.Equal(t, vendorctl.ExitNoFeatures, exitCode(err))
	noKey := "not served: Invalid (inconsistent) license key. (-8): " + noKeyText("demo")
	assert.Contains(t, log.String(), lic+":2: FEATURE f: "+noKey)
	assert.Contains(t, log.String(), lic+":3: FEATURE u: "+noKey)
	assert.Contains(t, log.String(), "License signatures of vendor demo cannot be checked: "+noKeyText("demo"))
}

// -unsigned serves unsigned lines, warns at start, and STATUS says so.
func TestUnsignedServesAndStatusSaysSo(t *testing.T) {
	h := startDaemon(t, "FEATURE f demo 1.0 permanent 1 SIGN=0\n", func(o *Options) {
		o.VendorKeys, o.Unsigned = "", true
		require.NoError(t, os.WriteFile(o.LicensePath, []byte("SERVER 127.0.0.1 ANY 27000\nVENDOR demo\nFEATURE f demo 1.0 permanent 1 SIGN=0\n"), 0o644))
	})
	assert.Contains(t, h.log.String(), "License signatures of vendor demo are NOT checked (lmgrd -unsigned demo)")
	resp, _, err := call(t, h.dial(t, "alice"), "CHECKOUT", "feature", "f")
	require.NoError(t, err, "%v", resp)
	resp, _, err = call(t, h.dial(t, "admin"), "STATUS")
	require.NoError(t, err)
	assert.Equal(t, "1", resp.Get("unsigned"))
}

// Without -unsigned STATUS carries no unsigned flag.
func TestSignedStatusHasNoUnsignedFlag(t *testing.T) {
	h := startDaemon(t, "FEATURE f demo 1.0 permanent 1 SIGN=0\n", nil)
	assert.Contains(t, h.log.String(), "License signatures are checked with the keys of ")
	resp, _, err := call(t, h.dial(t, "admin"), "STATUS")
	require.NoError(t, err)
	assert.Empty(t, resp.Get("unsigned"))
}
