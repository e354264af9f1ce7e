package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lmtriad/lmtriad/wire"
)

// withOptionsFile writes text as demo.opt beside the daemon's license file
// before it starts.
func withOptionsFile(t *testing.T, text string) func(*Options) {
	return func(o *Options) {
		require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(o.LicensePath), "demo.opt"), []byte(text), 0o644))
	}
}

func TestOptionsFileBesideTheLicenseIsReadAndItsBadLinesNamed(t *testing.T) {
	h := startDaemon(t, "FEATURE f demo 1.0 permanent 1 SIGN=0\n", withOptionsFile(t,
		"# site options\nNOLOG OUT\nMAX many f USER alice\nFROBNICATE on\n"))
	opt := filepath.Join(filepath.Dir(h.licensePath), "demo.opt")
	log := h.log.String()
	assert.Contains(t, log, `Using options file: "`+opt+`"`)
	assert.Contains(t, log, opt+":3:", "the bad MAX line is named with its file:line")
	assert.Contains(t, log, "(line ignored)")
	assert.Contains(t, log, opt+":4:", "the unknown keyword is warned about")

	a := h.dial(t, "alice")
	_, _, err := call(t, a, "CHECKOUT", "feature", "f")
	require.NoError(t, err)
	_, _, err = call(t, h.dial(t, "bob"), "CHECKOUT", "feature", "f")
	assert.ErrorIs(t, err, wire.ErrMaxUsers)
	require.Eventually(t, func() bool { return strings.Contains(h.log.String(), `DENIED: "f" bob@h1`) },
		5*time.Second, 5*time.Millisecond, "denials are still logged")
	assert.NotContains(t, h.log.String(), `OUT: "f" alice`, "NOLOG OUT")
}

func TestOptionsFileNamedOnTheVendorLine(t *testing.T) {
	dir := t.TempDir()
	site := filepath.Join(dir, "site-options")
	require.NoError(t, os.WriteFile(site, []byte("NOLOG DENIED\n"), 0o644))
	h := startDaemon(t, "FEATURE f demo 1.0 permanent 1 SIGN=0\n", func(o *Options) {
		body, err := os.ReadFile(o.LicensePath)
		require.NoError(t, err)
		body = []byte(strings.Replace(string(body), "VENDOR demo\n", "VENDOR demo OPTIONS="+site+"\n", 1))
		require.NoError(t, os.WriteFile(o.LicensePath, body, 0o644))
	})
	assert.Contains(t, h.log.String(), `Using options file: "`+site+`"`)
	_, _, err := call(t, h.dial(t, "alice"), "CHECKOUT", "feature", "f")
	require.NoError(t, err)
	_, _, err = call(t, h.dial(t, "bob"), "CHECKOUT", "feature", "f")
	assert.ErrorIs(t, err, wire.ErrMaxUsers)
	assert.Contains(t, h.log.String(), `OUT: "f" alice`)
	assert.NotContains(t, h.log.String(), `DENIED: "f" bob`, "NOLOG DENIED")
}
