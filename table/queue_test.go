package table

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lmtriad/lmtriad/pool"
)

// The queue's deltas (Enqueue, the Grant of a queued handle, Dequeue with
// and without a code) and a snapshot holding queued requests round-trip in
// both entry versions, and a replica replaying them ends with the master's
// queue.
func TestQueueRoundTrip(t *testing.T) {
	m := newMaster(t, "demo", pools(t, "/etc/lic/a.lic", licenseA), t0)
	holder := m.checkout(client(1, "alice"), "mesher", "", 3, at(time.Second))
	for i, u := range []string{"bob", "carol", "dave"} {
		_, ds, err := m.s.Checkout(pool.CheckoutRequest{Client: client(uint64(2+i), u), Feature: "mesher", Count: 1,
			Queue: true, NewSecret: "s-" + u}, at(2*time.Second))
		require.Error(t, err)
		require.Equal(t, pool.CodeFeatQueue, err.(*pool.Denial).Code)
		m.add(ds)
	}
	snap := m.s.Snapshot()
	require.Len(t, snap.Queued, 3)
	b, err := EncodeSnapshot(snap)
	require.NoError(t, err)
	got, err := DecodeSnapshot(b)
	require.NoError(t, err)
	requireSame(t, snap, got)
	r, err := pool.Restore(got, demoOpts)
	require.NoError(t, err)
	requireSame(t, snap, r.Snapshot())

	m.add(m.s.CloseSession(3, at(3*time.Second))) // carol leaves: Dequeue
	ds, err := m.s.Checkin(1, holder.Handle, at(4*time.Second))
	require.NoError(t, err)
	m.add(ds) // Release, then bob's and dave's Grants
	m.checkout(client(9, "erin"), "mesher", "", 1, at(5*time.Second))
	_, ds, err = m.s.Checkout(pool.CheckoutRequest{Client: client(10, "fay"), Feature: "mesher", Count: 1, Queue: true}, at(6*time.Second))
	require.Error(t, err)
	m.add(ds)
	m.add(m.s.Reload(pools(t, "/etc/lic/b.lic", licenseB), at(7*time.Second))) // may drop fay with a code

	kinds := map[pool.DeltaKind]int{}
	for _, d := range m.deltas {
		kinds[d.Kind]++
	}
	require.Positive(t, kinds[pool.Enqueue])
	require.Positive(t, kinds[pool.Dequeue])
	for _, e := range m.entries(3) {
		roundTrip(t, e)
	}
	rep := pool.New(nil, demoOpts)
	for _, e := range m.entries(4) {
		b, err := EncodeEntry(e)
		require.NoError(t, err)
		got, err := DecodeEntry(b)
		require.NoError(t, err)
		for _, d := range got.Deltas {
			require.NoError(t, rep.Apply(d))
		}
	}
	requireSame(t, m.s.Snapshot().Queued, rep.Snapshot().Queued)
}
