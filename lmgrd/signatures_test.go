package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lmtriad/lmtriad/wire"
)

// signedDemo writes a license with two features of vendor demo, signs it
// with a new demo key (lmutil lmkeygen, lmutil lmcrypt) and returns the
// license, the directory of the public key, and the port.
func signedDemo(t *testing.T) (lic, keyDir string, port int) {
	t.Helper()
	dir := t.TempDir()
	keyDir = t.TempDir()
	out, code := lmutil(t, nil, "lmkeygen", "demo", keyDir)
	require.Equal(t, 0, code, out)
	port = freePort(t, "127.0.0.1")
	lic = writeLicense(t, dir, "demo.lic", port,
		"FEATURE solver demo 1.0 permanent 5 SIGN=0\nFEATURE mesher demo 1.0 permanent 5 SIGN=0\n")
	out, code = lmutil(t, nil, "lmcrypt", "-key", filepath.Join(keyDir, "demo.key"), lic)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "signed 2 line(s) of vendor demo")
	// Only the public key goes to the server.
	require.NoError(t, os.Remove(filepath.Join(keyDir, "demo.key")))
	return lic, keyDir, port
}

func TestVendorKeysRefuseATamperedFeatureAfterReread(t *testing.T) {
	lic, keyDir, port := signedDemo(t)
	p := startLmgrd(t, "-c", lic, "-vendor-keys", keyDir)
	p.waitLog(t, "License signatures are checked with the keys of "+keyDir)
	p.waitLog(t, "Serving features for the following vendor: demo feature: mesher")
	for _, f := range []string{"solver", "mesher"} {
		l, err := newClient(t, port).Checkout(ctx(t), f, "1.0", 1)
		require.NoError(t, err, f)
		require.NoError(t, l.Checkin())
	}
	assert.NotContains(t, p.log.String(), "(-8)")

	// Tamper: raise solver's count from 5 to 500 and keep its signature.
	data, err := os.ReadFile(lic)
	require.NoError(t, err)
	tampered := strings.Replace(string(data), "FEATURE solver demo 1.0 permanent 5 ", "FEATURE solver demo 1.0 permanent 500 ", 1)
	require.NotEqual(t, string(data), tampered)
	require.NoError(t, os.WriteFile(lic, []byte(tampered), 0o644))
	out, code := lmutil(t, nil, "lmreread", "-c", fmt.Sprintf("%d@127.0.0.1", port))
	require.Equal(t, 0, code, out)

	// The solver line is line 3 (SERVER, VENDOR, FEATURE solver).
	p.waitLog(t, fmt.Sprintf("%s:3: FEATURE solver: not served: Invalid (inconsistent) license key. (-8)", lic))
	require.Eventually(t, func() bool {
		_, err := newClient(t, port).Checkout(ctx(t), "solver", "1.0", 1)
		return err != nil
	}, 10*time.Second, 50*time.Millisecond, "the tampered feature is refused")
	_, err = newClient(t, port).Checkout(ctx(t), "solver", "1.0", 1)
	var we *wire.Error
	require.ErrorAs(t, err, &we)
	assert.Contains(t, []int{wire.CodeNoFeature, wire.CodeBadCode}, we.Code, err)
	l, err := newClient(t, port).Checkout(ctx(t), "mesher", "1.0", 1)
	require.NoError(t, err, "the untouched feature still serves")
	require.NoError(t, l.Checkin())
	assert.Regexp(t, regexp.MustCompile(`signature does not match the line`), p.log.String())
}

func TestVendorKeysRefuseUnsignedLinesAtStart(t *testing.T) {
	_, keyDir, _ := signedDemo(t)
	port := freePort(t, "127.0.0.1")
	// Neither SIGN=0 nor a malformed ed1: signature is served; with
	// nothing left to serve the vendor daemon stops.
	lic := writeLicense(t, t.TempDir(), "unsigned.lic", port,
		"FEATURE solver demo 1.0 permanent 5 SIGN=0\nFEATURE mesher demo 1.0 permanent 5 SIGN=\"ed1:xyz\"\n")
	p := startLmgrd(t, "-c", lic, "-vendor-keys", filepath.Join(keyDir, "demo.pub"))
	p.waitLog(t, lic+":3: FEATURE solver: not served: Invalid (inconsistent) license key. (-8)")
	p.waitLog(t, lic+":4: FEATURE mesher: not served: Invalid (inconsistent) license key. (-8)")
}

func TestWithoutVendorKeysSignaturesAreNotChecked(t *testing.T) {
	_, _, p := startDemo(t) // SIGN=0 lines
	p.waitLog(t, "License signatures are not checked (no -vendor-keys)")
}

func TestVendorKeysThatCannotBeReadStopLmgrd(t *testing.T) {
	needBinaries(t)
	port := freePort(t, "127.0.0.1")
	lic := writeLicense(t, t.TempDir(), "demo.lic", port, demoFeatures)
	p := startLmgrd(t, "-c", lic, "-vendor-keys", filepath.Join(t.TempDir(), "nosuch"))
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatal("lmgrd runs with -vendor-keys it cannot read")
	}
	assert.Contains(t, p.log.String(), "-vendor-keys")
}
