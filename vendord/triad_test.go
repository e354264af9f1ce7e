package main

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/pool"
	"github.com/lmtriad/lmtriad/table"
	"github.com/lmtriad/lmtriad/vendorctl"
	"github.com/lmtriad/lmtriad/wire"
)

// fakeLmgrd is lmgrd's side of a triad member's vendor daemon: it hands
// tables and roles over and sees the proposals, and the test decides what
// the triad commits.
type fakeLmgrd struct {
	h         *harness
	proposals chan table.Entry
	lease     atomic.Int64 // the daemon's lease clock
}

const tfeature = "FEATURE f demo 1.0 permanent 2 SIGN=0\n"

func startTriadDaemon(t *testing.T) *fakeLmgrd {
	t.Helper()
	lm := &fakeLmgrd{proposals: make(chan table.Entry, 64)}
	lm.lease.Store(1000)
	lm.h = startDaemon(t, tfeature, func(o *Options) {
		o.Triad = true
		o.LeaseClock = lm.lease.Load
	})
	go func() {
		for {
			m, err := lm.h.ctl.Recv()
			if err != nil {
				if err == vendorctl.ErrPeerClosed || strings.Contains(err.Error(), "closed") {
					close(lm.proposals)
					return
				}
				continue
			}
			if m.Kind != vendorctl.KindPropose {
				continue
			}
			e, err := table.DecodeEntry(m.Propose.Entry)
			if assert.NoError(t, err) {
				assert.Equal(t, m.Propose.Gen, e.Gen)
				assert.Equal(t, m.Propose.Seq, e.Deltas[len(e.Deltas)-1].Seq)
				lm.proposals <- e
			}
		}
	}()
	return lm
}

func (lm *fakeLmgrd) next(t *testing.T) table.Entry {
	t.Helper()
	select {
	case e := <-lm.proposals:
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("no proposal from the vendor daemon")
	}
	return table.Entry{}
}

// handOver gives the daemon a table and makes it master of generation gen.
func (lm *fakeLmgrd) handOver(t *testing.T, gen uint64, snap pool.Snapshot) {
	t.Helper()
	b, err := table.EncodeSnapshot(snap)
	require.NoError(t, err)
	require.NoError(t, lm.h.ctl.SendTable(vendorctl.Table{Gen: gen, Snapshot: b}))
	require.NoError(t, lm.h.ctl.SendRole(vendorctl.Role{Serving: true, Lease: 1 << 62, Gen: gen}))
}

func (lm *fakeLmgrd) commit(t *testing.T, e table.Entry) {
	t.Helper()
	require.NoError(t, lm.h.ctl.SendCommitted(vendorctl.Committed{Gen: e.Gen, Seq: e.Deltas[len(e.Deltas)-1].Seq}))
}

func (lm *fakeLmgrd) master(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool { return strings.Contains(lm.h.log.String(), "Took over as master") },
		5*time.Second, 5*time.Millisecond)
}

type result struct {
	resp wire.Message
	err  error
}

func checkoutAsync(t *testing.T, c *wire.Conn, kv ...string) chan result {
	out := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, _, err := c.Call(ctx, wire.New("CHECKOUT", append([]string{"feature", "f"}, kv...)...))
		out <- result{resp, err}
	}()
	return out
}

func TestTriadDaemonServesOnlyAsMasterOfItsTable(t *testing.T) {
	lm := startTriadDaemon(t)
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", lm.h.port))
	require.NoError(t, err)
	wc := wire.NewConn(c)
	defer wc.Close()
	_, _, err = call(t, wc, "HELLO", "proto", "1", "user", "u")
	assert.ErrorIs(t, err, wire.ErrServBusy, "a standby does not serve")

	require.NoError(t, lm.h.ctl.SendRole(vendorctl.Role{Code: wire.CodeServBusy, Master: "27000@127.0.0.9"}))
	require.Eventually(t, func() bool {
		c2, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", lm.h.port))
		if err != nil {
			return false
		}
		wc2 := wire.NewConn(c2)
		defer wc2.Close()
		resp, _, _ := call(t, wc2, "HELLO", "proto", "1", "user", "u")
		return resp.Get("master") == "27000@127.0.0.9"
	}, 5*time.Second, 10*time.Millisecond, "clients are sent to the master")

	// Told to serve generation 3 without its table: still not serving.
	require.NoError(t, lm.h.ctl.SendRole(vendorctl.Role{Serving: true, Lease: 1 << 62, Gen: 3}))
	// The triad's first table is empty: the daemon proposes its pools and
	// serves once they are committed.
	lm.handOver(t, 3, pool.Snapshot{})
	first := lm.next(t)
	require.Len(t, first.Deltas, 1)
	assert.Equal(t, pool.Reload, first.Deltas[0].Kind)
	assert.NotContains(t, lm.h.log.String(), "Took over as master")
	lm.commit(t, first)
	lm.master(t)

	alice := lm.h.dial(t, "alice")
	res := checkoutAsync(t, alice)
	grant := lm.next(t)
	assert.Equal(t, pool.Grant, grant.Deltas[0].Kind)
	assert.Equal(t, "alice", grant.Deltas[0].Holder.User)
	lm.commit(t, grant)
	r := <-res
	require.NoError(t, r.err)
	assert.NotEmpty(t, r.resp.Get("handle"))
}

func TestTriadDaemonAnswersNoClientWhoseChangeIsRejected(t *testing.T) {
	lm := startTriadDaemon(t)
	lm.handOver(t, 5, pool.Snapshot{})
	lm.commit(t, lm.next(t))
	lm.master(t)

	res := checkoutAsync(t, lm.h.dial(t, "alice"))
	grant := lm.next(t)
	require.Equal(t, pool.Grant, grant.Deltas[0].Kind)
	require.NoError(t, lm.h.ctl.SendRejected(vendorctl.Rejected{Gen: 5, Reason: "test"}))
	r := <-res
	require.Error(t, r.err, "a grant the triad did not commit is never answered OK")
	assert.ErrorIs(t, r.err, wire.ErrBusyNewServ)
	require.Eventually(t, func() bool { return strings.Contains(lm.h.log.String(), "taking its table again") },
		5*time.Second, 5*time.Millisecond)

	// lmgrd hands the committed table (without the grant) over again.
	st := pool.New(nil, pool.Options{})
	lm.handOver(t, 6, st.Snapshot())
	lm.commit(t, lm.next(t)) // the pools again: the table handed over had none
	require.Eventually(t, func() bool { return strings.Count(lm.h.log.String(), "Took over as master") == 2 },
		5*time.Second, 5*time.Millisecond)
	assert.Equal(t, "0", lm.h.inUse(t, "f"), "alice's rejected grant is held by nobody")
	res = checkoutAsync(t, lm.h.dial(t, "bob"))
	g := lm.next(t)
	assert.Equal(t, uint64(6), g.Gen)
	lm.commit(t, g)
	require.NoError(t, (<-res).err)
}

func TestTriadDaemonKeepsHandedOverHolders(t *testing.T) {
	lm := startTriadDaemon(t)
	files, err := licfile.Load(lm.h.licensePath)
	require.NoError(t, err)
	pools, _ := licfile.Pools(files, lm.h.clock.Now())
	st := pool.New(pools, pool.Options{HeartbeatTimeout: time.Minute})
	h, _, err := st.Checkout(pool.CheckoutRequest{Feature: "f",
		Client: pool.Client{Session: 99, User: "carol", Host: "h1", Display: "d", PID: 0}}, lm.h.clock.Now())
	require.NoError(t, err)
	lm.handOver(t, 9, st.Snapshot())
	lm.master(t)
	assert.Equal(t, "1", lm.h.inUse(t, "f"), "the holder of the committed table is kept")

	// carol's client reattaches to its handle: a Rebind, not a second license.
	res := checkoutAsync(t, lm.h.dial(t, "carol"), "handle", strconv.FormatUint(h.Handle, 10))
	rebind := lm.next(t)
	assert.Equal(t, pool.Rebind, rebind.Deltas[0].Kind)
	lm.commit(t, rebind)
	r := <-res
	require.NoError(t, r.err)
	assert.Equal(t, strconv.FormatUint(h.Handle, 10), r.resp.Get("handle"))
	assert.Equal(t, "1", lm.h.inUse(t, "f"))
}

func TestTriadDaemonStopsGrantingWhenItsLeaseRunsOut(t *testing.T) {
	lm := startTriadDaemon(t)
	b, err := table.EncodeSnapshot(pool.Snapshot{})
	require.NoError(t, err)
	require.NoError(t, lm.h.ctl.SendTable(vendorctl.Table{Gen: 2, Snapshot: b}))
	require.NoError(t, lm.h.ctl.SendRole(vendorctl.Role{Serving: true, Lease: 2000, Gen: 2}))
	lm.commit(t, lm.next(t))
	lm.master(t)
	alice := lm.h.dial(t, "alice")
	// lmgrd falls silent and the lease clock passes the deadline: no grant,
	// although nothing told the daemon to stop.
	lm.lease.Store(2000)
	_, _, err = call(t, alice, "CHECKOUT", "feature", "f")
	assert.ErrorIs(t, err, wire.ErrServBusy)
}

func TestBadMessageFromLmgrdIsNotItsDeath(t *testing.T) {
	lm := startTriadDaemon(t)
	// A packet that cannot be read (as when a socket arrives at the
	// descriptor limit) loses that message only.
	require.NoError(t, lm.h.rawParent.Send([]byte{99, 'x'}, nil))
	require.Eventually(t, func() bool { return strings.Contains(lm.h.log.String(), "Lost one message from lmgrd") },
		5*time.Second, 5*time.Millisecond)
	lm.handOver(t, 4, pool.Snapshot{})
	lm.commit(t, lm.next(t))
	lm.master(t)
	assert.NotContains(t, lm.h.log.String(), "lmgrd has gone away")
}

func TestTriadDaemonTimesOutHandedOverHoldersOnItsOwnClock(t *testing.T) {
	lm := startTriadDaemon(t)
	files, err := licfile.Load(lm.h.licensePath)
	require.NoError(t, err)
	pools, _ := licfile.Pools(files, lm.h.clock.Now())
	// The old master's wall clock said carol was heard a day ago; its
	// monotonic readings never leave it.
	st := pool.New(pools, pool.Options{HeartbeatTimeout: time.Minute})
	_, _, err = st.Checkout(pool.CheckoutRequest{Feature: "f",
		Client: pool.Client{Session: 99, User: "carol", Host: "h1", Display: "d"}}, lm.h.clock.Now().Add(-24*time.Hour))
	require.NoError(t, err)
	lm.handOver(t, 9, st.Snapshot())
	lm.master(t)

	// Silence is measured from the takeover on this daemon's monotonic
	// clock: a wall step either way frees nobody.
	for _, step := range []time.Duration{time.Hour, -2 * time.Hour} {
		lm.h.clock.Step(step)
		time.Sleep(20 * lm.h.expireEvery)
		assert.Equal(t, "1", lm.h.inUse(t, "f"), "a wall-clock step of %v frees nobody", step)
	}
	lm.h.clock.Advance(time.Minute)
	time.Sleep(20 * lm.h.expireEvery)
	assert.Equal(t, "1", lm.h.inUse(t, "f"), "kept at exactly the timeout")

	// carol never reattaches: a timeout past the takeover frees her license.
	lm.h.clock.Advance(time.Second)
	release := lm.next(t)
	require.Len(t, release.Deltas, 1)
	assert.Equal(t, pool.Release, release.Deltas[0].Kind)
	assert.Equal(t, pool.Timeout, release.Deltas[0].Reason)
	assert.Equal(t, "carol", release.Deltas[0].Holder.User)
	lm.commit(t, release)
}
