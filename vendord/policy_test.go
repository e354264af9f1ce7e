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

// The options file decides who gets what: EXCLUDE before INCLUDE (-38,
// -39), MAX (-87), RESERVE (-101), each logged as a denial.
func TestOptionsFilePolicyAnswersWithFlexLMCodes(t *testing.T) {
	h := startDaemon(t, "FEATURE f demo 1.0 permanent 3 SIGN=0\n", withOptionsFile(t,
		"GROUP eng alice carol\nEXCLUDE f USER mallory\nINCLUDE f GROUP eng\nINCLUDE f USER bob\n"+
			"INCLUDE f USER mallory\nMAX 1 f USER alice\nRESERVE 1 f USER bob\n"))
	alice, carol := h.dial(t, "alice"), h.dial(t, "carol")
	steps := []struct {
		conn *wire.Conn
		who  string
		code int // 0: granted
	}{
		{h.dial(t, "mallory"), "mallory", wire.CodeFeatExclude},
		{h.dial(t, "dave"), "dave", wire.CodeFeatNotInclude},
		{alice, "alice", 0},
		{alice, "alice", wire.CodeMaxLimit},
		{carol, "carol", 0},
		{carol, "carol", wire.CodeResvForOthers}, // the third license is bob's
		{h.dial(t, "bob"), "bob", 0},
	}
	for i, st := range steps {
		_, _, err := call(t, st.conn, "CHECKOUT", "feature", "f")
		if st.code == 0 {
			require.NoError(t, err, "step %d (%s)", i, st.who)
			continue
		}
		var we *wire.Error
		require.ErrorAs(t, err, &we, "step %d (%s)", i, st.who)
		assert.Equal(t, st.code, we.Code, "step %d (%s): %v", i, st.who, err)
	}
	assert.Equal(t, "3", h.inUse(t, "f"))
	assert.Contains(t, h.log.String(), `DENIED: "f" mallory@h1`)
	assert.Contains(t, h.log.String(), "(-38,")
}

// LINGER keeps a checked-in license for its time; the same user takes it
// back meanwhile without consuming another.
func TestLingerKeepsACheckedInLicense(t *testing.T) {
	h := startDaemon(t, "FEATURE f demo 1.0 permanent 1 SIGN=0\n", withOptionsFile(t, "LINGER f 60\n"))
	a := h.dial(t, "alice")
	resp, _, err := call(t, a, "CHECKOUT", "feature", "f")
	require.NoError(t, err)
	_, _, err = call(t, a, "CHECKIN", "handle", resp.Get("handle"))
	require.NoError(t, err)
	assert.Equal(t, "1", h.inUse(t, "f"), "the license lingers")
	_, _, err = call(t, h.dial(t, "bob"), "CHECKOUT", "feature", "f")
	assert.ErrorIs(t, err, wire.ErrMaxUsers)
	h.clock.Advance(61 * time.Second)
	require.Eventually(t, func() bool { return h.inUse(t, "f") == "0" }, 5*time.Second, 5*time.Millisecond,
		"the linger never ended")
}

// TIMEOUT frees the licenses of a client that says it is idle, after the
// options file's time (at least 900 s), while it keeps heartbeating.
func TestTimeoutFreesAnIdleClient(t *testing.T) {
	h := startDaemon(t, "FEATURE f demo 1.0 permanent 1 SIGN=0\n", withOptionsFile(t, "TIMEOUT f 900\n"))
	a := h.dial(t, "alice")
	_, _, err := call(t, a, "CHECKOUT", "feature", "f")
	require.NoError(t, err)
	_, _, err = call(t, a, "HEARTBEAT", "idle", "1")
	require.NoError(t, err)
	for range 29 { // 870 s of heartbeats: idle but not yet timed out
		h.clock.Advance(30 * time.Second)
		_, _, err = call(t, a, "HEARTBEAT")
		require.NoError(t, err)
	}
	assert.Equal(t, "1", h.inUse(t, "f"))
	h.clock.Advance(31 * time.Second)
	_, _, err = call(t, a, "HEARTBEAT")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return h.inUse(t, "f") == "0" }, 5*time.Second, 5*time.Millisecond,
		"an idle client past TIMEOUT kept its license")
	assert.Contains(t, h.log.String(), `IN: "f" alice@h1  (INACTIVE)`)
}

// A reread takes a changed options file: later checkouts follow it, the
// current holders are kept.
func TestOptionsRereadKeepsHolders(t *testing.T) {
	h := startDaemon(t, "FEATURE f demo 1.0 permanent 2 SIGN=0\n", withOptionsFile(t, "# nothing yet\n"))
	_, _, err := call(t, h.dial(t, "alice"), "CHECKOUT", "feature", "f")
	require.NoError(t, err)
	opt := filepath.Join(filepath.Dir(h.licensePath), "demo.opt")
	require.NoError(t, os.WriteFile(opt, []byte("EXCLUDE f USER alice\n"), 0o644))
	require.NoError(t, h.ctl.SendReread())
	require.Eventually(t, func() bool { return strings.Contains(h.log.String(), "Rereading license file: done") },
		5*time.Second, 5*time.Millisecond)
	_, _, err = call(t, h.dial(t, "alice"), "CHECKOUT", "feature", "f")
	assert.ErrorIs(t, err, &wire.Error{Code: wire.CodeFeatExclude})
	assert.Equal(t, "1", h.inUse(t, "f"), "the holder from before the reread is kept")
}

// DEBUGLOG sends this daemon's log lines to a file of its own.
func TestDebugLogOfTheOptionsFile(t *testing.T) {
	h := startDaemon(t, "FEATURE f demo 1.0 permanent 1 SIGN=0\n", withOptionsFile(t, "# none yet\n"))
	dir := filepath.Dir(h.licensePath)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "demo.opt"), []byte("DEBUGLOG +demo-debug.log\n"), 0o644))
	require.NoError(t, h.ctl.SendReread())
	path := filepath.Join(dir, "demo-debug.log")
	require.Eventually(t, func() bool { return strings.Contains(h.log.String(), "Debug log of demo continues in "+path) },
		5*time.Second, 5*time.Millisecond)
	_, _, err := call(t, h.dial(t, "alice"), "CHECKOUT", "feature", "f")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(path)
		return strings.Contains(string(b), `OUT: "f" alice@h1`)
	}, 5*time.Second, 5*time.Millisecond)
	assert.NotContains(t, h.log.String(), `OUT: "f" alice@h1`, "the lines go to the debug log instead")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "demo.opt"), []byte("# no DEBUGLOG\n"), 0o644))
	require.NoError(t, h.ctl.SendReread())
	require.Eventually(t, func() bool { return strings.Contains(h.log.String(), "Debug log back in lmgrd's log") },
		5*time.Second, 5*time.Millisecond)
}
