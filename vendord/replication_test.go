package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/pool"
	"github.com/lmtriad/lmtriad/wire"
)

// These tests run the three vendor daemons of a triad in-process
// (triad_harness_test.go) and check replication and takeover by what
// clients and STATUS see: a change answered by the master is held by a
// peer, a new master keeps every answered holder, and a replica follows
// only the newest master.

var users = []string{"alice", "bob", "carol"}

// grantAll checks out one f for each user on member i and returns the
// sessions and handles by user.
func grantAll(t *testing.T, h *triadHarness, i int, users []string) (map[string]*wire.Conn, map[string]string) {
	t.Helper()
	conns, handles := map[string]*wire.Conn{}, map[string]string{}
	for _, u := range users {
		c := h.client(i, identOf(u))
		hd, err := checkout(t, c, "")
		require.NoError(t, err, "checkout for %s", u)
		conns[u], handles[u] = c, hd
	}
	return conns, handles
}

// reattachAll reconnects every user to member i and reattaches its handle.
func reattachAll(t *testing.T, h *triadHarness, i int, handles map[string]string) {
	t.Helper()
	for u, want := range handles {
		got, err := checkout(t, h.client(i, identOf(u)), want)
		require.NoError(t, err, "reattach of %s", u)
		assert.Equal(t, want, got, "%s's handle after reattach", u)
	}
}

func TestReplGrantsReachBothStandbys(t *testing.T) {
	h := newTriad(t)
	h.startAll()
	h.promote(0)

	conns := map[string]*wire.Conn{}
	for n, u := range users {
		c := h.client(0, identOf(u))
		_, err := checkout(t, c, "")
		require.NoError(t, err)
		conns[u] = c
		// The answer came after a peer acknowledged: one standby holds
		// the grant already, without waiting.
		master := h.mustStatus(0)
		require.Equal(t, strconv.Itoa(n+1), master.InUse)
		b, c2 := h.mustStatus(1), h.mustStatus(2)
		assert.True(t, assert.ObjectsAreEqual(master, b) || assert.ObjectsAreEqual(master, c2),
			"after checkout %d no standby holds the master's table %+v: %+v, %+v", n+1, master, b, c2)
	}
	master := h.mustStatus(0)
	h.waitTable(1, master)
	h.waitTable(2, master)

	_, _, err := call(t, conns["bob"], "CHECKIN", "handle", master.Holders[1].Handle)
	require.NoError(t, err)
	master = h.mustStatus(0)
	require.Equal(t, "2", master.InUse)
	h.waitTable(1, master)
	h.waitTable(2, master)
}

func TestTakeoverAfterAckKeepsHolders(t *testing.T) {
	h := newTriad(t)
	h.startAll()
	h.promote(0)
	old, handles := grantAll(t, h, 0, users)
	before := h.mustStatus(0)
	h.waitTable(1, before)

	h.members[0].crash()
	for _, c := range old { // the old master's sessions are gone
		_, _, err := call(t, c, "HEARTBEAT")
		require.Error(t, err)
	}
	h.promote(1)
	assert.Contains(t, h.members[1].logText(), "Took over as master: epoch 2, 3 license holder(s) kept")
	assert.Equal(t, before, h.mustStatus(1))

	reattachAll(t, h, 1, handles)
	assert.Equal(t, before, h.mustStatus(1), "reattaching consumed licenses")

	_, err := checkout(t, h.client(1, identOf("dave")), "")
	assert.ErrorIs(t, err, wire.ErrMaxUsers)
	// The new master replicates to the remaining peer under its epoch.
	h.waitTable(2, before)
}

func TestReplNoAckTakesGrantBack(t *testing.T) {
	h := newTriad(t)
	h.startAll()
	// Both peers answer the takeover's FETCH, then refuse every stream.
	h.members[1].isolate("replica")
	h.members[2].isolate("replica")
	h.promote(0)

	c := h.client(0, identOf("alice"))
	start := time.Now()
	_, err := checkout(t, c, "")
	took := time.Since(start)
	require.ErrorIs(t, err, wire.ErrBusyNewServ)
	assert.GreaterOrEqual(t, took, ackTimeout, "answered before the ack timeout")
	assert.Less(t, took, ackTimeout+2*time.Second)
	assert.Equal(t, table{InUse: "0"}, h.mustStatus(0), "the unacknowledged grant was not taken back")

	// Once a peer is back the client's retry succeeds, and the peers
	// never hold the grant that was taken back.
	h.members[1].heal()
	h.members[2].heal()
	var hd string
	require.Eventually(t, func() bool { hd, err = checkout(t, c, ""); return err == nil },
		3*ackTimeout+time.Second, 10*time.Millisecond, "checkout after heal: %v", err)
	master := h.mustStatus(0)
	require.Equal(t, "1", master.InUse)
	require.Equal(t, []string{hd}, master.handles())
	h.waitTable(1, master)
	h.waitTable(2, master)
}

func TestTakeoverPicksNewestPeer(t *testing.T) {
	h := newTriad(t)
	h.startAll()
	h.promote(0)
	_, handles := grantAll(t, h, 0, users[:1])
	first := h.mustStatus(0)
	h.waitTable(1, first)
	h.waitTable(2, first)

	// C falls behind: only B acknowledges the next grants.
	h.members[2].isolate()
	_, more := grantAll(t, h, 0, users[1:])
	for u, hd := range more {
		handles[u] = hd
	}
	all := h.mustStatus(0)
	require.Equal(t, "3", all.InUse)
	h.waitTable(1, all)
	assert.Equal(t, first, h.mustStatus(2), "C got grants while isolated")

	h.members[0].crash()
	h.promote(2) // C must adopt B's newer table (same epoch, higher seq)
	assert.Contains(t, h.members[2].logText(), "Took over as master: epoch 2, 3 license holder(s) kept")
	assert.Equal(t, all, h.mustStatus(2))

	reattachAll(t, h, 2, handles)
	assert.Equal(t, all, h.mustStatus(2))
	_, err := checkout(t, h.client(2, identOf("dave")), "")
	assert.ErrorIs(t, err, wire.ErrMaxUsers)
	h.waitTable(1, all)
}

func TestTakeoverAdoptsNewerEpoch(t *testing.T) {
	// A peer whose table is from an older epoch loses to a newer epoch even
	// with a higher sequence number: epoch 1 went on at C after B had left
	// it, but epoch 2 (B, then A) is what clients were last told.
	h := newTriad(t)
	h.startAll()
	h.promote(0)
	grantAll(t, h, 0, users[:1]) // epoch 1, seq 1 everywhere
	h.waitTable(1, h.mustStatus(0))
	h.waitTable(2, h.mustStatus(0))

	h.members[1].isolate()
	grantAll(t, h, 0, users[1:]) // epoch 1, seq 3 at A and C only
	atC := h.mustStatus(0)
	h.waitTable(2, atC)

	// B takes over with A, restarted empty, while C is away. (The grants
	// only C holds are lost here: an empty restarted daemon counts as
	// the peer a takeover waits for.)
	h.members[2].isolate()
	h.members[0].crash()
	h.members[0].start()
	h.members[1].heal()
	h.promote(1)
	assert.Contains(t, h.members[1].logText(), "Took over as master: epoch 2, 1 license holder(s) kept")
	_, handles := grantAll(t, h, 1, []string{"dave"}) // epoch 2, seq 2, acked by A
	want := h.mustStatus(1)
	require.Equal(t, "2", want.InUse)
	h.waitTable(0, want)

	h.members[1].crash()
	h.members[2].heal()
	h.promote(0) // C answers epoch 1 seq 3, A holds epoch 2 seq 2
	assert.Contains(t, h.members[0].logText(), "Took over as master: epoch 3, 2 license holder(s) kept")
	assert.Equal(t, want, h.mustStatus(0))
	reattachAll(t, h, 0, handles)
	h.waitTable(2, want) // C follows the newest master
	assert.NotEqual(t, atC, h.mustStatus(2))
}

func TestRejoinCatchUp(t *testing.T) {
	h := newTriad(t)
	h.startAll()
	h.promote(0)
	conns, _ := grantAll(t, h, 0, users[:2])
	h.waitTable(2, h.mustStatus(0))

	h.members[2].crash()
	grantAll(t, h, 0, users[2:])
	h.members[2].start() // empty, epoch 0
	h.members[2].send(fmt.Sprintf("ROLE serving=0 code=-20 master=%d@%s", h.port, h.members[0].ip))
	master := h.mustStatus(0)
	require.Equal(t, "3", master.InUse)
	h.waitTable(2, master) // the master's snapshot

	// And the stream goes on after the snapshot.
	_, _, err := call(t, conns["alice"], "CHECKIN", "handle", master.Holders[0].Handle)
	require.NoError(t, err)
	master = h.mustStatus(0)
	h.waitTable(2, master)
	h.waitTable(1, master)
}

func TestTakeoverAfterGracefulShutdownKeepsHolders(t *testing.T) {
	for _, tc := range []struct {
		name string
		stop func(m *member)
		log  string
	}{
		{"SIGTERM", func(m *member) { m.stop() }, "Shutting down demo"},
		{"lmgrd gone", func(m *member) { m.lmgrdGone() }, "lmgrd has gone away, shutting down"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newTriad(t)
			h.startAll()
			h.promote(0)
			_, handles := grantAll(t, h, 0, users)
			before := h.mustStatus(0)
			h.waitTable(1, before)
			h.waitTable(2, before)

			// The peers' streams stay up while the master shuts down: it
			// must send them no release.
			tc.stop(h.members[0])
			log := h.members[0].logText()
			require.Contains(t, log, tc.log)
			require.Contains(t, log, "EXITING DUE TO SIGNAL 15")
			assert.NotContains(t, log, "IN: ", "shutting down freed licenses")

			h.promote(1)
			assert.Contains(t, h.members[1].logText(), "3 license holder(s) kept")
			assert.Equal(t, before, h.mustStatus(1))
			assert.Equal(t, before, h.mustStatus(2))
			reattachAll(t, h, 1, handles)
			assert.Equal(t, before, h.mustStatus(1))
		})
	}
}

func TestEpochFencing(t *testing.T) {
	h := newTriad(t)
	h.startAll()
	h.promote(0)
	grantAll(t, h, 0, users[:1])
	want := h.mustStatus(0)
	h.waitTable(1, want) // B holds epoch 1 now

	other := append([]string(nil), h.servers...)
	other[2] = "127.0.0.4:" + strconv.Itoa(h.port)
	for _, tc := range []struct {
		name       string
		from       int // the host dialed from
		hello      wire.Message
		code, minr int
	}{
		{"older epoch", 0, h.peerHello("replica", 0, "epoch", "0"), wire.CodeBusyNewServ, 44},
		{"no epoch", 0, h.peerHello("replica", 0), wire.CodeBusyNewServ, 44},
		{"wrong source address", 2, h.peerHello("replica", 0, "epoch", "9"), wire.CodeNotLicAdmin, 43},
		{"fetch from wrong address", 2, h.peerHello("fetch", 0), wire.CodeNotLicAdmin, 43},
		{"own rank", 1, h.peerHello("replica", 1, "epoch", "9"), wire.CodeNotLicAdmin, 42},
		{"other SERVER lines", 0, wire.New("HELLO", "proto", "1", "role", "replica", "vendor", "demo",
			"rank", "0", "servers", fmt.Sprint(other[0], ",", other[1], ",", other[2]), "epoch", "9"), wire.CodeNotLicAdmin, 41},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, reply, err := h.dialPeerAs(tc.from, 1, tc.hello)
			require.NoError(t, err)
			werr := wire.ErrorFromMessage(reply)
			require.NotNil(t, werr, "greeting accepted: %v", reply)
			assert.Equal(t, tc.code, werr.Code)
			assert.Equal(t, tc.minr, werr.Minor)
		})
	}
	// None of that disturbed B's table or its stream from the master.
	assert.Equal(t, want, h.mustStatus(1))
	grantAll(t, h, 0, users[1:2])
	h.waitTable(1, h.mustStatus(0))
}

// licensePools are the pools the daemons serve, for building a master's
// stream by hand.
func licensePools(t *testing.T, h *triadHarness) []licfile.Pool {
	t.Helper()
	files, err := licfile.Load(h.lic)
	require.NoError(t, err)
	pools, _ := licfile.Pools(files, h.clock.Now())
	return pools
}

// rawMaster plays a master's side of one replication stream by hand.
type rawMaster struct {
	t     *testing.T
	epoch uint64
	c     net.Conn
	r     *wire.Reader
	w     *bufio.Writer
}

// openStream greets member i as rank's daemon at epoch and returns the
// replica's epoch and seq.
func openStream(t *testing.T, h *triadHarness, rank, i int, epoch uint64) (*rawMaster, wire.Message) {
	t.Helper()
	c, r, reply, err := h.dialPeerAs(rank, i, h.peerHello("replica", rank, "epoch", strconv.FormatUint(epoch, 10)))
	require.NoError(t, err)
	return &rawMaster{t: t, epoch: epoch, c: c, r: r, w: bufio.NewWriter(c)}, reply
}

func (m *rawMaster) snapshot(st *pool.State) {
	require.NoError(m.t, writeSnapshot(m.w, m.epoch, st.Snapshot()))
}

func (m *rawMaster) delta(d pool.Delta) {
	line, err := deltaLine(m.epoch, &d)
	require.NoError(m.t, err)
	_, _ = m.w.WriteString(line + "\n")
	require.NoError(m.t, m.w.Flush())
}

// waitAck reads ACKs until one for seq; it fails on any other message.
func (m *rawMaster) waitAck(seq uint64) {
	m.t.Helper()
	_ = m.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		ack, err := m.r.ReadMessage()
		require.NoError(m.t, err, "waiting for ACK seq=%d", seq)
		require.Equal(m.t, "ACK", ack.Verb)
		got, err := ack.Uint64("seq")
		require.NoError(m.t, err)
		require.LessOrEqual(m.t, got, seq, "acknowledged beyond what was sent")
		if got == seq {
			return
		}
	}
}

// grant checks out f on a master's state built by hand.
func grant(t *testing.T, st *pool.State, session uint64, user string, now time.Time) pool.Delta {
	t.Helper()
	id := identOf(user)
	_, deltas, err := st.Checkout(pool.CheckoutRequest{Feature: "f", Count: 1, Client: pool.Client{
		Session: session, User: id.user, Host: id.host, Display: id.display, PID: id.pid}}, now)
	require.NoError(t, err)
	require.Len(t, deltas, 1)
	return deltas[0]
}

func TestReplDuplicateAndReorderedDeltas(t *testing.T) {
	h := newTriad(t)
	h.members[2].start() // C alone, a standby at epoch 0
	now := h.clock.Now()
	st := pool.New(licensePools(t, h), pool.Options{HeartbeatTimeout: time.Minute, Location: time.Local})

	m, reply := openStream(t, h, 1, 2, 7)
	require.True(t, wire.IsOK(reply), "%v", reply)
	assert.Equal(t, "0", reply.Get("epoch"))
	m.snapshot(st)
	m.waitAck(0)

	d1 := grant(t, st, 11, "alice", now)
	m.delta(d1)
	m.waitAck(1)
	m.delta(d1) // a duplicate is ignored and acknowledged again
	m.waitAck(1)
	tb := h.mustStatus(2)
	assert.Equal(t, "1", tb.InUse)
	assert.Equal(t, []string{strconv.FormatUint(d1.Holder.Handle, 10)}, tb.handles())

	d2, d3 := grant(t, st, 12, "bob", now), grant(t, st, 13, "carol", now)
	m.delta(d3) // ahead of d2: a gap; the replica drops the stream
	_ = m.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := m.r.ReadMessage()
	require.Error(t, err, "the replica kept a stream with a gap")
	assert.Equal(t, "1", h.mustStatus(2).InUse, "a delta after a gap was applied")
	h.waitLog(2, "Replica out of step with the master")

	// It asks the next stream for a snapshot, and catches up from it.
	m, reply = openStream(t, h, 1, 2, 7)
	require.True(t, wire.IsOK(reply), "%v", reply)
	assert.Equal(t, "0", reply.Get("epoch"), "the replica does not ask for a snapshot")
	m.snapshot(st)
	m.waitAck(3)
	m.delta(d2) // older than the snapshot: a duplicate
	m.waitAck(3)
	assert.Equal(t, "3", h.mustStatus(2).InUse)
}

// A replica that has followed a newer master must never go back to an
// older one. Here a delta of the old epoch arrives on the old master's
// stream after the new master's snapshot (a deposed master that has not
// yet heard that it lost its lease: a client's session closes, its expiry
// loop runs); the replica must drop that stream and still refuse the old
// epoch afterwards.
func TestEpochStaleDeltaKeepsFence(t *testing.T) {
	h := newTriad(t)
	h.members[2].start()
	now := h.clock.Now()
	pools := licensePools(t, h)
	opts := pool.Options{HeartbeatTimeout: time.Minute, Location: time.Local}

	stA := pool.New(pools, opts) // the old master, epoch 1
	a, reply := openStream(t, h, 0, 2, 1)
	require.True(t, wire.IsOK(reply), "%v", reply)
	a.snapshot(stA)
	a.waitAck(0)

	stB := pool.New(pools, opts) // the new master, epoch 2
	grant(t, stB, 21, "bob", now)
	b, reply := openStream(t, h, 1, 2, 2)
	require.True(t, wire.IsOK(reply), "%v", reply)
	b.snapshot(stB)
	b.waitAck(1)
	want := h.mustStatus(2)

	a.delta(grant(t, stA, 22, "alice", now)) // the deposed master's late change
	_ = a.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := a.r.ReadMessage()
	require.Error(t, err, "the replica acknowledged a delta of an older epoch")
	assert.Equal(t, want, h.mustStatus(2))

	_, reply = openStream(t, h, 0, 2, 1)
	require.False(t, wire.IsOK(reply),
		"a delta of an older epoch must not lower the replica's fence: the deposed master's next stream is refused")
	werr := wire.ErrorFromMessage(reply)
	require.NotNil(t, werr)
	assert.True(t, errors.Is(werr, wire.ErrBusyNewServ), "%v", werr)
	// The new master's stream is unaffected.
	b.delta(grant(t, stB, 23, "carol", now))
	b.waitAck(2)
	assert.Equal(t, "2", h.mustStatus(2).InUse)
}

func TestEpochNeverGoesBackAfterResync(t *testing.T) {
	// Both standbys fall out of step with a master of epoch 7 (a gap in its
	// stream). The next takeover must still start above epoch 7: a table of
	// a lower epoch would later lose to the deposed master's stale one.
	h := newTriad(t)
	h.members[1].start()
	h.members[2].start()
	now := h.clock.Now()
	st := pool.New(licensePools(t, h), pool.Options{HeartbeatTimeout: time.Minute, Location: time.Local})
	d1 := grant(t, st, 11, "alice", now)
	d2, d3 := grant(t, st, 12, "bob", now), grant(t, st, 13, "carol", now)
	for _, i := range []int{1, 2} {
		m, reply := openStream(t, h, 0, i, 7)
		require.True(t, wire.IsOK(reply), "%v", reply)
		m.snapshot(pool.New(licensePools(t, h), pool.Options{HeartbeatTimeout: time.Minute, Location: time.Local}))
		m.waitAck(0)
		m.delta(d1)
		m.waitAck(1)
		m.delta(d3) // skips d2: out of step
		h.waitLog(i, "Replica out of step with the master")
	}
	_ = d2

	h.promote(1) // A (rank 0) never started: B takes over with C
	assert.Contains(t, h.members[1].logText(), "Took over as master: epoch 8, 1 license holder(s) kept")
}

func TestTakeoverFreesHoldersThatDoNotComeBack(t *testing.T) {
	// After a takeover every adopted holder has a full heartbeat timeout
	// to reattach; those whose clients stay away are then freed and logged.
	h := newTriad(t)
	h.startAll()
	h.promote(0)
	_, handles := grantAll(t, h, 0, users)
	h.waitTable(1, h.mustStatus(0))
	h.members[0].crash()
	h.clock.Advance(50 * time.Second) // the old master's clients last spoke long ago
	h.promote(1)
	assert.Contains(t, h.members[1].logText(), "3 license holder(s) kept")

	alice := h.client(1, identOf("alice"))
	got, err := checkout(t, alice, handles["alice"])
	require.NoError(t, err)
	assert.Equal(t, handles["alice"], got)

	h.clock.Advance(59 * time.Second)
	_, _, err = call(t, alice, "HEARTBEAT")
	require.NoError(t, err)
	assert.Equal(t, "3", h.mustStatus(1).InUse, "within the timeout nobody is freed")

	h.clock.Advance(2 * time.Second)
	require.Eventually(t, func() bool { return h.mustStatus(1).InUse == "1" }, 5*time.Second, 10*time.Millisecond,
		"bob and carol never came back: freed after the heartbeat timeout; alice reattached and stays")
	log := h.members[1].logText()
	assert.Contains(t, log, `IN: "f" bob@`)
	assert.Contains(t, log, `IN: "f" carol@`)
	assert.Contains(t, log, "(INACTIVE)")
	h.waitTable(2, h.mustStatus(1)) // the frees are replicated too
}
