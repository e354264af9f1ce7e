package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lmtriad/lmtriad/licsign"
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
	lic := writeUnsignedLicense(t, t.TempDir(), "unsigned.lic", port,
		"FEATURE solver demo 1.0 permanent 5 SIGN=0\nFEATURE mesher demo 1.0 permanent 5 SIGN=\"ed1:xyz\"\n")
	p := startLmgrd(t, "-c", lic, "-vendor-keys", filepath.Join(keyDir, "demo.pub"))
	p.waitLog(t, lic+":3: FEATURE solver: not served: Invalid (inconsistent) license key. (-8)")
	p.waitLog(t, lic+":4: FEATURE mesher: not served: Invalid (inconsistent) license key. (-8)")
}

// unsignedDemo writes a license of vendor demo that is not signed: a
// counted line and an uncounted node-locked one.
func unsignedDemo(t *testing.T) (lic string, port int) {
	t.Helper()
	port = freePort(t, "127.0.0.1")
	lic = writeUnsignedLicense(t, t.TempDir(), "demo.lic", port,
		"FEATURE solver demo 1.0 permanent 5 SIGN=0\nFEATURE viewer demo 1.0 permanent uncounted HOSTID=ANY SIGN=0\n")
	return lic, port
}

// Default-deny: a vendor with no key, and no -unsigned, serves nothing,
// counted or uncounted.
func TestNoKeyForVendorServesNothing(t *testing.T) {
	lic, port := unsignedDemo(t)
	p := startLmgrdArgs(t, nil, "3s", "-c", lic) // no -vendor-keys, no -unsigned
	noKey := "no public key for vendor demo: sign the licenses (lmutil lmcrypt) and give lmgrd -vendor-keys, or allow unsigned licenses with lmgrd -unsigned demo"
	p.waitLog(t, lic+":3: FEATURE solver: not served: Invalid (inconsistent) license key. (-8): "+noKey)
	p.waitLog(t, lic+":4: FEATURE viewer: not served: Invalid (inconsistent) license key. (-8): "+noKey)
	p.waitLog(t, "demo daemon found no features")
	for _, f := range []string{"solver", "viewer"} {
		_, err := newClient(t, port).Checkout(ctx(t), f, "1.0", 1)
		var we *wire.Error
		require.ErrorAs(t, err, &we, f)
		// The daemon found no features and exited: FlexLM's -97.
		assert.Equal(t, wire.CodeVendorDown, we.Code, "%s: %v", f, err)
	}
	assert.NotContains(t, p.log.String(), "Serving features for the following vendor: demo")
}

// -unsigned VENDOR (repeated, or a comma list) serves that vendor's
// unsigned lines, says so at start (lmgrd and the vendor daemon) and in
// lmstat.
func TestUnsignedVendorIsServedAndShown(t *testing.T) {
	lic, port := unsignedDemo(t)
	p := startLmgrd(t, "-c", lic, "-unsigned", "other", "-unsigned", "third,demo")
	warn := "License signatures of vendor demo are NOT checked (lmgrd -unsigned demo)"
	p.waitLog(t, "(lmgrd) "+warn)
	p.waitLog(t, "(demo) "+warn)
	p.waitLog(t, "Serving features for the following vendor: demo feature: viewer")
	for _, f := range []string{"solver", "viewer"} {
		l, err := newClient(t, port).Checkout(ctx(t), f, "1.0", 1)
		require.NoError(t, err, f)
		require.NoError(t, l.Checkin())
	}
	assert.NotContains(t, p.log.String(), "(-8)")
	out, code := lmutil(t, nil, "lmstat", "-a", "-c", fmt.Sprintf("%d@127.0.0.1", port))
	require.Equal(t, 0, code, out)
	assert.Regexp(t, regexp.MustCompile(`(?m)^\s+demo: UP v\S+\n    demo: unsigned licenses accepted \(lmgrd -unsigned demo\)\n`), out)
}

// A vendor daemon built with its vendor's key (-ldflags -X
// licsign.BuiltinKeys=...) verifies that vendor's licenses without
// -vendor-keys, and refuses a line signed with another key.
func TestBuiltinVendorKeyFromLdflags(t *testing.T) {
	needBinaries(t)
	k, err := licsign.GenerateKey("demo")
	require.NoError(t, err)
	pub, err := k.Public().MarshalText()
	require.NoError(t, err)
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin,
		"-ldflags", "-X 'github.com/lmtriad/lmtriad/licsign.BuiltinKeys="+strings.TrimSpace(string(pub))+"'", "./vendord")
	build.Dir = ".."
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	// solver signed with the built-in key; mesher with another demo key,
	// not built in, so not served.
	solver, n, err := licsign.SignText("solver", []byte("FEATURE solver demo 1.0 permanent 5 SIGN=0\n"), k)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	mesher, n, err := licsign.SignText("mesher", []byte("FEATURE mesher demo 1.0 permanent 5 SIGN=0\n"), demoKey)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	port := freePort(t, "127.0.0.1")
	lic := writeUnsignedLicense(t, t.TempDir(), "demo.lic", port, string(solver)+"# mesher\n"+string(mesher))
	mesherLine := 3 + strings.Count(string(solver), "\n") + 1

	p := startLmgrdArgs(t, nil, "3s", "-c", lic, "-vendord", filepath.Join(bin, "vendord"))
	p.waitLog(t, "License signatures are checked with the keys built into this daemon")
	p.waitLog(t, fmt.Sprintf("%s:%d: FEATURE mesher: not served: Invalid (inconsistent) license key. (-8): signature does not match the line", lic, mesherLine))
	p.waitLog(t, "Serving features for the following vendor: demo feature: solver")
	l, err := newClient(t, port).Checkout(ctx(t), "solver", "1.0", 1)
	require.NoError(t, err)
	require.NoError(t, l.Checkin())
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

// A signed INCREMENT line copied into a second license file does not add
// its count again.
func TestCopiedSignedLineCountsOnce(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t, "127.0.0.1")
	lic := writeLicense(t, dir, "a.lic", port, "INCREMENT solver demo 1.0 permanent 1 SIGN=0\n")
	data, err := os.ReadFile(lic)
	require.NoError(t, err)
	require.Contains(t, string(data), "SIGN=ed1:", "the harness signs the line")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "b.lic"), data, 0o644)) // a copy of the whole file
	p := startLmgrd(t, "-c", dir)
	p.waitLog(t, "ignored: a copy of the signed line at "+lic+":3")
	p.waitLog(t, "Serving features for the following vendor: demo feature: solver")
	_, err = newClient(t, port).Checkout(ctx(t), "solver", "1.0", 1)
	require.NoError(t, err)
	_, err = newClient(t, port).Checkout(ctx(t), "solver", "1.0", 1)
	assert.ErrorIs(t, err, wire.ErrMaxUsers, "the copy gave a second license")
}
