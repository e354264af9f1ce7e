package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lmtriad/lmtriad/pool"
	"github.com/lmtriad/lmtriad/wire"
)

func TestReportEventIsOneJSONLine(t *testing.T) {
	at := time.Date(2026, 11, 28, 9, 5, 3, 123456789, time.FixedZone("CET", 3600))
	e := reportEvent{Time: at, Event: "denied", Feature: "solver", User: "J\"o\\e \u00e9\x01", Host: "ws1",
		Display: "/dev/pts/1", Count: 2, Code: -4}
	line := appendReportEvent(nil, e)
	require.True(t, strings.HasSuffix(string(line), "}\n"))
	assert.Equal(t, 1, strings.Count(string(line), "\n"))
	var got map[string]any
	require.NoError(t, json.Unmarshal(line, &got), "%s", line)
	assert.Equal(t, "2026-11-28T08:05:03.123Z", got["time"])
	assert.Equal(t, "J\"o\\e \u00e9\x01", got["user"])
	assert.Equal(t, float64(-4), got["code"])
	assert.NotContains(t, got, "handle", "zero fields are left out")

	events := reportEventsOf([]pool.Delta{
		{Kind: pool.Grant, Holder: pool.Holder{Feature: "f", Handle: 7, Count: 1}},
		{Kind: pool.Release, Reason: pool.SessionClosed, Holder: pool.Holder{Feature: "f", Handle: 7}},
		{Kind: pool.Release, Reason: pool.Timeout, Holder: pool.Holder{Feature: "f", Handle: 8}},
		{Kind: pool.Release, Reason: pool.Removed, Holder: pool.Holder{Feature: "f", Handle: 9}},
		{Kind: pool.Rebind, Holder: pool.Holder{Feature: "f", Handle: 9}},
	})
	var kinds []string
	for _, e := range events {
		kinds = append(kinds, e.Event+"/"+e.Reason)
	}
	assert.Equal(t, []string{"checkout/", "checkin/exited", "timeout/", "remove/"}, kinds)
}

// readReport reads the JSON lines of path.
func readReport(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), sc.Text())
		out = append(out, m)
	}
	return out
}

func eventsIn(t *testing.T, path string) []string {
	var out []string
	for _, m := range readReport(t, path) {
		out = append(out, m["event"].(string)+":"+m["user"].(string))
	}
	return out
}

func TestReportLogRecordsEventsAndSwitchesAndRotates(t *testing.T) {
	h := startDaemon(t, "FEATURE f demo 1.0 permanent 1 SIGN=0\n", withOptionsFile(t, "REPORTLOG +usage.jsonl\n"))
	dir := filepath.Dir(h.licensePath)
	path := filepath.Join(dir, "usage.jsonl")
	assert.Contains(t, h.log.String(), "Report log: "+path)

	a := h.dial(t, "alice")
	resp, _, err := call(t, a, "CHECKOUT", "feature", "f")
	require.NoError(t, err)
	_, _, err = call(t, h.dial(t, "bob"), "CHECKOUT", "feature", "f")
	require.ErrorIs(t, err, wire.ErrMaxUsers)
	_, _, err = call(t, a, "CHECKIN", "handle", resp.Get("handle"))
	require.NoError(t, err)
	want := []string{"checkout:alice", "denied:bob", "checkin:alice"}
	require.Eventually(t, func() bool { return len(eventsIn(t, path)) == len(want) }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, want, eventsIn(t, path))
	denied := readReport(t, path)[1]
	assert.Equal(t, float64(wire.CodeMaxUsers), denied["code"])

	// lmswitchr: later events go to another file.
	other := filepath.Join(dir, "other.jsonl")
	admin := h.dial(t, "admin")
	_, _, err = call(t, admin, "SWITCHR", "path", other)
	require.NoError(t, err)
	_, _, err = call(t, h.dial(t, "carol"), "CHECKOUT", "feature", "f")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(eventsIn(t, other)) == 1 }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, []string{"checkout:carol"}, eventsIn(t, other))
	assert.Len(t, eventsIn(t, path), 3, "the first file is left as it was")

	_, _, err = call(t, admin, "SWITCHR", "path", path)
	assert.ErrorContains(t, err, "exists already", "never into an existing file")

	// lmnewlog: the current file is renamed and a new one begun.
	resp, _, err = call(t, admin, "NEWLOG", "renamed", "other.jsonl.1")
	require.NoError(t, err)
	assert.Equal(t, other+".1", resp.Get("renamed"))
	assert.Equal(t, []string{"checkout:carol"}, eventsIn(t, other+".1"))
	_, _, err = call(t, h.dial(t, "dave"), "CHECKOUT", "feature", "f")
	require.ErrorIs(t, err, wire.ErrMaxUsers)
	require.Eventually(t, func() bool { return len(eventsIn(t, other)) == 1 }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, []string{"denied:dave"}, eventsIn(t, other))

	_, _, err = call(t, admin, "NEWLOG", "renamed", other+".1")
	assert.ErrorContains(t, err, "exists already")

	// A reread brings REPORTLOG back.
	require.NoError(t, h.ctl.SendReread())
	require.Eventually(t, func() bool { return strings.Count(h.log.String(), "Report log: "+path) == 2 },
		5*time.Second, 10*time.Millisecond)
}
