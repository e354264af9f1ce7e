package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lmtriad/lmtriad/hostid"
	"github.com/lmtriad/lmtriad/pool"
	"github.com/lmtriad/lmtriad/wire"
)

// checkPeer accepts a replication or fetch greeting only from a member of
// this triad: the same SERVER lines, from the address of the SERVER line
// it claims to be.
func (d *daemon) checkPeer(c net.Conn, hello wire.Message) (int, *wire.Error) {
	if len(d.opts.Servers) != 3 {
		return 0, wire.NewError(wire.CodeNotLicAdmin, 40).WithDetail("not a triad member")
	}
	if hello.Get("servers") != strings.Join(d.opts.Servers, ",") {
		return 0, wire.NewError(wire.CodeNotLicAdmin, 41).WithDetail("SERVER lines differ")
	}
	rank, err := hello.Int("rank")
	if err != nil || rank < 0 || rank > 2 || rank == d.opts.Rank {
		return 0, wire.NewError(wire.CodeNotLicAdmin, 42).WithDetail("bad rank")
	}
	host, _, _ := net.SplitHostPort(d.opts.Servers[rank])
	if ra, ok := c.RemoteAddr().(*net.TCPAddr); ok && !hostid.IsHost(ra.IP, host) {
		return 0, wire.NewError(wire.CodeNotLicAdmin, 43).WithDetail("not connecting from " + host)
	}
	return rank, nil
}

// state is the replicated state's position: its epoch and sequence.
func (d *daemon) state() (uint64, uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.epoch, d.pool.Seq()
}

// serveReplica applies a master's stream to this standby's pool.
func (d *daemon) serveReplica(c net.Conn, hello wire.Message) {
	defer c.Close()
	w := wire.NewWriter(c)
	if _, werr := d.checkPeer(c, hello); werr != nil {
		_ = w.WriteMessage(werr.Message())
		return
	}
	their, err := hello.Uint64("epoch")
	d.mu.Lock()
	epoch, seq, resync := d.epoch, d.pool.Seq(), d.resync
	if err == nil && their >= epoch {
		d.maxEpoch = max(d.maxEpoch, their)
	}
	d.mu.Unlock()
	if err != nil || d.master.Load() || their < epoch {
		_ = w.WriteMessage(wire.NewError(wire.CodeBusyNewServ, 44).WithDetail("not a replica of this master").Message())
		return
	}
	if resync {
		epoch = 0 // no master resumes epoch 0: it sends a snapshot
	}
	if err := w.WriteMessage(wire.OK("epoch", strconv.FormatUint(epoch, 10), "seq", strconv.FormatUint(seq, 10))); err != nil {
		return
	}
	r := wire.NewReaderSize(c, replMaxLine)
	acks := bufio.NewWriter(c)
	for {
		m, err := r.ReadMessage()
		if err != nil {
			return
		}
		switch m.Verb {
		case "SNAP":
			e, snap, err := readSnapshot(r, m)
			if err != nil {
				d.log.WithError(err).Warn("Bad snapshot from the master")
				return
			}
			if err := d.restore(e, snap); err != nil {
				d.log.WithError(err).Warn("Cannot apply the master's snapshot")
				return
			}
		case "DELTA":
			if err := d.applyDelta(their, m); err != nil {
				d.log.WithError(err).Warn("Replica out of step with the master; asking for a snapshot")
				d.mu.Lock()
				d.resync = true // the epoch stays: it is the fence against older masters
				d.mu.Unlock()
				return
			}
		default:
			return
		}
		if r.Buffered() == 0 { // a burst is applied: acknowledge it
			_, s := d.state()
			acks.WriteString(wire.New("ACK", "seq", strconv.FormatUint(s, 10)).String())
			acks.WriteByte('\n')
			_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if acks.Flush() != nil {
				return
			}
		}
	}
}

func (d *daemon) applyDelta(epoch uint64, m wire.Message) error {
	var delta pool.Delta
	if err := unmarshalDelta(m.Get("json"), &delta); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.master.Load() {
		return errors.New("this server is the master")
	}
	if d.epoch != epoch {
		return errors.New("delta of another epoch")
	}
	return d.pool.Apply(delta)
}

func (d *daemon) restore(epoch uint64, snap pool.Snapshot) error {
	st, err := pool.Restore(snap, d.poolOptions())
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.master.Load() {
		return errors.New("this server is the master")
	}
	d.pool, d.epoch, d.resync = st, epoch, false
	d.maxEpoch = max(d.maxEpoch, epoch)
	return nil
}

// serveFetch answers a new master that asks for this server's state.
func (d *daemon) serveFetch(c net.Conn, hello wire.Message) {
	defer c.Close()
	w := wire.NewWriter(c)
	if _, werr := d.checkPeer(c, hello); werr != nil {
		_ = w.WriteMessage(werr.Message())
		return
	}
	d.mu.Lock()
	epoch, seq, maxEpoch := d.epoch, d.pool.Seq(), d.maxEpoch
	d.mu.Unlock()
	if err := w.WriteMessage(wire.OK("epoch", strconv.FormatUint(epoch, 10), "seq", strconv.FormatUint(seq, 10),
		"max_epoch", strconv.FormatUint(maxEpoch, 10))); err != nil {
		return
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	m, err := wire.NewReader(c).ReadMessage()
	if err != nil || m.Verb != "FETCH" {
		return
	}
	d.mu.Lock()
	snap, e := d.pool.Snapshot(), d.epoch
	d.mu.Unlock()
	_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_ = writeSnapshot(bufio.NewWriter(c), e, snap)
}

// takeover makes this daemon the master: it adopts the newest state held
// by any peer that answers, then serves under a new epoch. Until then
// clients get -23 (new server connecting).
func (d *daemon) takeover(ctx context.Context) {
	defer d.takingOver.Store(false)
	// Some peer is in this server's quorum, and its daemon may hold grants
	// this one missed: wait for at least one answer before serving.
	var answers []answer
	for attempt := 0; len(answers) == 0; attempt++ {
		if ctx.Err() != nil || !d.role.Load().serving {
			return
		}
		if attempt > 0 {
			if attempt == 5 {
				d.log.Warn("Waiting for a peer vendor daemon before taking over")
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
		answers = d.askPeers(ctx)
	}
	defer func() {
		for _, a := range answers {
			a.conn.Close()
		}
	}()
	epoch, seq := d.state()
	best := -1
	for i, a := range answers {
		if a.epoch > epoch || (a.epoch == epoch && a.seq > seq) {
			best, epoch, seq = i, a.epoch, a.seq
		}
	}
	d.mu.Lock()
	maxEpoch := max(epoch, d.maxEpoch)
	d.mu.Unlock()
	for _, a := range answers {
		maxEpoch = max(maxEpoch, a.epoch, a.maxEpoch)
	}
	if best >= 0 {
		a := answers[best]
		c := a.conn
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		err := wire.NewWriter(c).WriteMessage(wire.New("FETCH"))
		var head wire.Message
		r := wire.NewReaderSize(c, replMaxLine)
		if err == nil {
			head, err = r.ReadMessage()
		}
		if err == nil && head.Verb != "SNAP" {
			err = fmt.Errorf("peer answered FETCH with %s", head.Verb)
		}
		if err == nil {
			var e uint64
			var snap pool.Snapshot
			if e, snap, err = readSnapshot(r, head); err == nil {
				err = d.restore(e, snap)
			}
		}
		if err != nil {
			// lmgrd renews serving=1 every tick; a later ROLE retries.
			d.log.WithError(err).Warn("Cannot adopt the newer license table of a peer; not serving yet")
			return
		}
	}
	if ctx.Err() != nil || !d.role.Load().serving {
		return
	}
	d.mu.Lock()
	d.epoch = maxEpoch + 1
	d.maxEpoch = d.epoch
	d.pool.TouchAll(d.now()) // holders get a full heartbeat timeout to reattach
	holders := d.pool.Holders()
	repl := newReplication(d, d.epoch, d.pool.Seq())
	d.repl = repl
	mctx, cancel := context.WithCancel(d.ctx)
	d.stopMaster = cancel
	d.master.Store(true)
	d.mu.Unlock()
	d.log.Infof("Took over as master: epoch %d, %d license holder(s) kept", d.epoch, holders)
	d.wg.Add(1)
	go func() { defer d.wg.Done(); repl.run(mctx) }()
}

type answer struct {
	conn                 net.Conn
	epoch, seq, maxEpoch uint64
}

// askPeers asks the peers' daemons for the position of their state. It
// waits for every peer lmgrd counts in the quorum (ROLE live=), since one
// of them may hold grants this daemon missed; a peer outside it (the old
// master, isolated or dead) is asked too, but not waited for once the live
// ones have answered: a dial into a partition would cost its whole timeout.
func (d *daemon) askPeers(ctx context.Context) []answer {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		rank int
		a    answer
		err  error
	}
	results := make(chan result, len(d.opts.Servers))
	asked := 0
	for rank, addr := range d.opts.Servers {
		if rank == d.opts.Rank {
			continue
		}
		asked++
		go func() {
			conn, reply, err := d.dialPeer(ctx, addr, "fetch")
			if err != nil {
				results <- result{rank: rank, err: err}
				return
			}
			e, _ := reply.Uint64("epoch")
			s, _ := reply.Uint64("seq")
			me, _ := reply.Uint64("max_epoch")
			results <- result{rank: rank, a: answer{conn, e, s, me}}
		}()
	}
	waitFor := map[int]bool{}
	live := d.role.Load().live
	for r := range d.opts.Servers {
		if r != d.opts.Rank && (live == nil || slices.Contains(live, r)) {
			waitFor[r] = true // without live= from lmgrd: every peer
		}
	}
	var answers []answer
	for got := 0; got < asked; got++ {
		res := <-results
		delete(waitFor, res.rank)
		if res.err == nil {
			answers = append(answers, res.a)
		}
		if len(waitFor) == 0 && len(answers) > 0 {
			cancel() // the rest are outside the quorum
			for got++; got < asked; got++ {
				if late := <-results; late.err == nil {
					late.a.conn.Close()
				}
			}
			break
		}
	}
	return answers
}

// stepDown stops serving: replication ends and the clients served here are
// disconnected, so they reattach on the new master.
func (d *daemon) stepDown() {
	d.mu.Lock()
	if !d.master.Load() || d.repl == nil {
		d.mu.Unlock()
		return
	}
	d.master.Store(false)
	stop := d.stopMaster
	d.repl, d.stopMaster = nil, nil
	d.mu.Unlock()
	stop()
	d.log.Info("No longer the master: disconnecting clients")
	d.closeClients()
}

func unmarshalDelta(js string, d *pool.Delta) error {
	return json.Unmarshal([]byte(js), d)
}
