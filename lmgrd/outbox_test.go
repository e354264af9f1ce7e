package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lmtriad/lmtriad/handoff"
	"github.com/lmtriad/lmtriad/vendorctl"
)

func TestOutboxKeepsOrderAndCoalescesCommitted(t *testing.T) {
	a, f, err := handoff.Pair()
	require.NoError(t, err)
	b, err := handoff.FromFile(f)
	require.NoError(t, err)
	f.Close()
	lmgrdEnd, daemonEnd := vendorctl.New(a), vendorctl.New(b)
	defer lmgrdEnd.Close()
	defer daemonEnd.Close()

	// Queued before the sender runs, as when a daemon is slow to read.
	o := newOutbox()
	o.push(outMsg{table: &vendorctl.Table{Gen: 4, Snapshot: []byte("t")}})
	o.push(outMsg{role: &vendorctl.Role{Serving: true, Gen: 4}})
	for seq := uint64(1); seq <= 1000; seq++ {
		o.push(outMsg{committed: &vendorctl.Committed{Gen: 4, Seq: seq}})
	}
	o.push(outMsg{rejected: &vendorctl.Rejected{Gen: 4, Reason: "lost"}})
	o.push(outMsg{committed: &vendorctl.Committed{Gen: 8, Seq: 1}})
	assert.Len(t, o.queue, 5, "a thousand acknowledgements of one generation are one message")

	done := make(chan struct{})
	go func() { defer close(done); o.run(lmgrdEnd) }()
	want := []vendorctl.Kind{vendorctl.KindTable, vendorctl.KindRole, vendorctl.KindCommitted, vendorctl.KindRejected, vendorctl.KindCommitted}
	for i, k := range want {
		m, err := daemonEnd.Recv()
		require.NoError(t, err)
		require.Equal(t, k, m.Kind, "message %d", i)
		if i == 2 {
			assert.Equal(t, vendorctl.Committed{Gen: 4, Seq: 1000}, m.Committed)
		}
	}
	o.close()
	<-done
	o.push(outMsg{role: &vendorctl.Role{}})
	assert.Empty(t, o.queue, "a closed outbox takes nothing")
}
