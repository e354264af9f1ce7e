package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lmtriad/lmtriad/wire"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Usage statistics on real processes: the minute's peak and denials are
// kept in the state directory, exported by lmreport as CSV and JSON, and
// still there after a restart.
func TestUsageStatisticsAndLmreport(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t, "127.0.0.1")
	lic := writeLicense(t, dir, "demo.lic", port, "FEATURE solver demo 1.0 permanent 2 SIGN=0\n")
	httpPort := freePort(t, "127.0.0.1")
	api := fmt.Sprintf("http://127.0.0.1:%d/api/v1/stats", httpPort)
	args := []string{"-c", lic, "-stats-every", "100ms", "-http", fmt.Sprintf("127.0.0.1:%d", httpPort)}
	p := startLmgrd(t, args...)
	p.waitLog(t, "Serving features for the following vendor: demo")
	server := fmt.Sprintf("%d@127.0.0.1", port)
	lic1, err := clientAs(t, server, "alice").Checkout(ctx(t), "solver", "", 2)
	require.NoError(t, err)
	_, err = clientAs(t, server, "bob").Checkout(ctx(t), "solver", "", 1)
	require.Error(t, err)
	var out string
	require.Eventually(t, func() bool {
		out, _ = lmutil(t, nil, "lmreport", "-c", server, "-resolution", "minute")
		return strings.Contains(out, ",demo,solver,2,2,1\n")
	}, 10*time.Second, 100*time.Millisecond, "no minute with peak 2 and 1 denial: %s", out)
	assert.True(t, strings.HasPrefix(out, "time,vendor,feature,peak,issued,denials\n"), out)
	require.NoError(t, lic1.Checkin())

	out, code := lmutil(t, nil, "lmreport", "-c", server, "-json")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, `"feature":"solver"`)
	assert.Contains(t, out, `"peak":"2"`)

	// The same over HTTP: CSV as lmreport writes it, JSON rows, and a
	// bound it cannot read refused.
	csv := string(httpGet(t, api+"?res=minute&format=csv&from=2000-01-01"))
	assert.True(t, strings.HasPrefix(csv, "time,vendor,feature,peak,issued,denials\n"), csv)
	assert.Contains(t, csv, ",demo,solver,2,2,1\n")
	var rows []map[string]any
	require.NoError(t, json.Unmarshal(httpGet(t, api+"?res=minute"), &rows))
	require.NotEmpty(t, rows)
	assert.Equal(t, "solver", rows[0]["feature"])
	for _, bad := range []string{"?from=yesterday", "?res=week", "?format=xml"} {
		resp, err := http.Get(api + bad)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, bad)
	}

	// A restart keeps them (the state directory).
	p.stop(t)
	p = startLmgrd(t, args...)
	p.waitLog(t, "Serving features for the following vendor: demo")
	out, code = lmutil(t, nil, "lmreport", "-c", server, "-resolution", "minute")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, ",demo,solver,2,2,1\n", "the statistics survive a restart")

	// A bound that is not a number is refused, not read as "no bound".
	var d net.Dialer
	c, _, err := wire.Dial(ctx(t), &d, fmt.Sprintf("127.0.0.1:%d", port), wire.Hello("role", "admin", "user", "alice", "host", "h"), 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	_, records, err := c.Call(ctx(t), wire.New("STATS", "from", "yesterday"))
	require.ErrorIs(t, err, wire.ErrBadComm, "records: %v", records)
	assert.ErrorContains(t, err, "from")
	_, records, err = c.Call(ctx(t), wire.New("STATS", "res", "minute", "from", "0"))
	require.NoError(t, err)
	assert.NotEmpty(t, records)
}
