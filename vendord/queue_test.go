package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lmtriad/lmtriad/wire"
)

// dialQueuing connects as user with notify=granted: its CHECKOUT queue=1
// may wait in the queue.
func (h *harness) dialQueuing(t *testing.T, user string) *wire.Conn {
	t.Helper()
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", h.port))
	require.NoError(t, err)
	wc := wire.NewConn(c)
	t.Cleanup(func() { wc.Close() })
	_, _, err = wc.Call(context.Background(), wire.New("HELLO", "proto", "1", "user", user, "host", "h1", "display", "d",
		"notify", "revoked,granted"))
	require.NoError(t, err)
	return wc
}

// receive reads the next unsolicited line of c.
func receive(t *testing.T, c *wire.Conn) wire.Message {
	t.Helper()
	require.NoError(t, c.Raw().SetReadDeadline(time.Now().Add(5*time.Second)))
	m, err := c.Receive()
	require.NoError(t, err)
	require.NoError(t, c.Raw().SetReadDeadline(time.Time{}))
	return m
}

func queued(t *testing.T, c *wire.Conn, feature string) wire.Message {
	t.Helper()
	resp, _, err := call(t, c, "CHECKOUT", "feature", feature, "queue", "1")
	require.ErrorIs(t, err, &wire.Error{Code: wire.CodeFeatQueue})
	require.NotEmpty(t, resp.Get("handle"))
	require.NotEmpty(t, resp.Get("secret"))
	return resp
}

func queuedUsers(t *testing.T, h *harness, feature string) []string {
	t.Helper()
	_, recs, err := call(t, h.dial(t, "admin"), "STATUS", "feature", feature)
	require.NoError(t, err)
	var users []string
	for _, r := range recs {
		if r.Verb == wire.RecQueued {
			users = append(users, r.Get("user")+"#"+r.Get("handle"))
		}
	}
	return users
}

func TestQueuedCheckoutsAreGrantedInOrder(t *testing.T) {
	h := startDaemon(t, "FEATURE f demo 1.0 permanent 1 SIGN=0\n", nil)
	a := h.dial(t, "alice")
	resp, _, err := call(t, a, "CHECKOUT", "feature", "f")
	require.NoError(t, err)
	b, c, d := h.dialQueuing(t, "bob"), h.dialQueuing(t, "carol"), h.dialQueuing(t, "dan")
	qb, qc, qd := queued(t, b, "f"), queued(t, c, "f"), queued(t, d, "f")

	// A client that did not ask for GRANTED lines is not queued.
	_, _, err = call(t, h.dial(t, "eve"), "CHECKOUT", "feature", "f", "queue", "1")
	require.ErrorIs(t, err, wire.ErrMaxUsers)
	// Nor is a request no release can cure.
	_, _, err = call(t, b, "CHECKOUT", "feature", "f", "count", "2", "queue", "1")
	require.ErrorIs(t, err, &wire.Error{Code: wire.CodeTooMany})

	assert.Equal(t, []string{"bob#" + qb.Get("handle"), "carol#" + qc.Get("handle"), "dan#" + qd.Get("handle")}, queuedUsers(t, h, "f"))

	// carol leaves the queue; alice checks in: bob is granted.
	c.Close()
	require.Eventually(t, func() bool { return len(queuedUsers(t, h, "f")) == 2 }, 5*time.Second, 5*time.Millisecond)
	_, _, err = call(t, a, "CHECKIN", "handle", resp.Get("handle"))
	require.NoError(t, err)
	g := receive(t, b)
	assert.Equal(t, wire.VerbGranted, g.Verb)
	assert.Equal(t, qb.Get("handle"), g.Get("handle"))
	assert.Equal(t, qb.Get("secret"), g.Get("secret"))
	assert.Equal(t, "1.0", g.Get("version"))
	assert.Equal(t, "1", h.inUse(t, "f"))

	// dan cancels with a CHECKIN of its queued handle; bob's checkin frees f.
	_, _, err = call(t, d, "CHECKIN", "handle", qd.Get("handle"))
	require.NoError(t, err)
	assert.Empty(t, queuedUsers(t, h, "f"))
	_, _, err = call(t, b, "CHECKIN", "handle", g.Get("handle"))
	require.NoError(t, err)
	assert.Equal(t, "0", h.inUse(t, "f"))

	log := h.log.String()
	assert.Contains(t, log, `(demo) QUEUED: "f" bob@h1`)
	assert.Contains(t, log, `(demo) DEQUEUED: "f" carol@h1  (client exited)`)
	assert.Contains(t, log, `(demo) DEQUEUED: "f" dan@h1`)
	assert.Contains(t, log, `(demo) OUT: "f" bob@h1`)
}

// A reread that removes the feature drops its queue: the client is told
// with REVOKED reason=dequeued and FlexLM's code.
func TestRereadDropsTheQueueOfARemovedFeature(t *testing.T) {
	h := startDaemon(t, "FEATURE f demo 1.0 permanent 1 SIGN=0\nFEATURE g demo 1.0 permanent 1 SIGN=0\n", nil)
	_, _, err := call(t, h.dial(t, "alice"), "CHECKOUT", "feature", "g")
	require.NoError(t, err)
	b := h.dialQueuing(t, "bob")
	q := queued(t, b, "g")
	lic, _ := signedLicense(t, t.TempDir(), "SERVER 127.0.0.1 ANY 27000\nVENDOR demo\nFEATURE f demo 1.0 permanent 1 SIGN=0\n")
	text, err := os.ReadFile(lic)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(h.licensePath, text, 0o644))
	require.NoError(t, h.ctl.SendReread())
	m := receive(t, b)
	assert.Equal(t, wire.VerbRevoked, m.Verb)
	assert.Equal(t, "dequeued", m.Get("reason"))
	assert.Equal(t, q.Get("handle"), m.Get("handle"))
	assert.Equal(t, "-5", m.Get("code"))
}

func TestNologQueued(t *testing.T) {
	h := startDaemon(t, "FEATURE f demo 1.0 permanent 1 SIGN=0\n", withOptionsFile(t, "NOLOG QUEUED\n"))
	_, _, err := call(t, h.dial(t, "alice"), "CHECKOUT", "feature", "f")
	require.NoError(t, err)
	b := h.dialQueuing(t, "bob")
	queued(t, b, "f")
	b.Close()
	require.Eventually(t, func() bool { return len(queuedUsers(t, h, "f")) == 0 }, 5*time.Second, 5*time.Millisecond)
	assert.NotContains(t, h.log.String(), "QUEUED")
}
