package quorum

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// forwardable marks the entries a standby may forward: here, those starting
// with "cfg:".
func forwardable(data []byte) bool { return bytes.HasPrefix(data, []byte("cfg:")) }

// pumpedTriad is three nodes stepped by hand: every Ready's envelopes are
// delivered at once, committed entries recorded per member.
type pumpedTriad struct {
	nodes   [Size]*Node
	applied [Size][]string
}

func newPumpedTriad(t *testing.T) *pumpedTriad {
	t.Helper()
	p := &pumpedTriad{}
	for r := range Size {
		n, err := New(Config{Self: r, Hosts: [Size]string{"h0", "h1", "h2"}, Forwardable: forwardable}, nil)
		require.NoError(t, err)
		p.nodes[r] = n
	}
	return p
}

func (p *pumpedTriad) cycle(t *testing.T, tick bool) {
	t.Helper()
	for r, n := range p.nodes {
		if tick {
			n.Tick()
		}
		rd, err := n.Ready()
		require.NoError(t, err)
		for _, e := range rd.CommittedEntries {
			p.applied[r] = append(p.applied[r], string(e.Data))
		}
		n.Advance()
		for _, e := range rd.Messages {
			_ = p.nodes[e.To].Step(e)
		}
	}
}

// runUntil cycles (ticking) at most max times until cond holds.
func (p *pumpedTriad) runUntil(t *testing.T, max int, cond func() bool) bool {
	t.Helper()
	for range max {
		if cond() {
			return true
		}
		p.cycle(t, true)
	}
	return cond()
}

func TestProposeForwardedReachesEveryMemberThroughTheLeader(t *testing.T) {
	p := newPumpedTriad(t)
	require.True(t, p.runUntil(t, 200, func() bool { return p.nodes[Primary].Serving() }), "the primary serves")

	for _, r := range []int{Secondary, Tertiary, Primary} {
		require.NoError(t, p.nodes[r].ProposeForwarded([]byte("cfg:from-"+p.nodes[r].cfg.Hosts[r])))
	}
	want := []string{"cfg:from-h1", "cfg:from-h2", "cfg:from-h0"}
	ok := p.runUntil(t, 50, func() bool {
		for r := range Size {
			if len(p.applied[r]) < len(want) {
				return false
			}
		}
		return true
	})
	require.True(t, ok, "applied: %v", p.applied)
	for r := range Size {
		assert.ElementsMatch(t, want, p.applied[r], "member %d", r)
		assert.Equal(t, p.applied[Primary], p.applied[r], "the same order on every member")
	}
}

func TestProposeForwardedRefusesWhatMayNotBeForwarded(t *testing.T) {
	p := newPumpedTriad(t)
	require.True(t, p.runUntil(t, 200, func() bool { return p.nodes[Primary].Serving() }))
	err := p.nodes[Secondary].ProposeForwarded([]byte("grant"))
	require.Error(t, err, "a table entry is never forwarded")

	// A standby that forwards a table entry anyway (a lying peer) is ignored
	// by the leader.
	require.NoError(t, p.nodes[Secondary].rn.Propose([]byte("grant")))
	p.runUntil(t, 20, func() bool { return false })
	for r := range Size {
		assert.NotContains(t, p.applied[r], "grant", "member %d applied a forwarded table entry", r)
	}
}

func TestProposeForwardedWithoutLeader(t *testing.T) {
	p := newPumpedTriad(t)
	err := p.nodes[Secondary].ProposeForwarded([]byte("cfg:x"))
	assert.True(t, errors.Is(err, ErrNoLeader), "got %v", err)
}
