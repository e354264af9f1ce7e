// Package quorum is the FlexLM three-server (triad) election as a pure state
// machine, in the style of etcd-io/raft: Tick and Step go in, Ready comes out.
// There are no goroutines, sockets or clocks inside; lmgrd's glue owns those.
//
// # Model
//
// The three SERVER lines give the ranks: 0 primary, 1 secondary, 2 tertiary.
// A server has quorum while it hears at least one peer (a message within
// PeerTimeoutTicks whose SERVER lines and license digest match its own). The
// master is the lowest-ranked live server among primary and secondary; the
// tertiary is never master. With PRIMARY_IS_MASTER a returning primary takes
// the role back, otherwise the current master keeps it ("Selected (EXISTING)
// master node").
//
// Never two masters serving at once: a master serves only while it holds a
// lease, renewed by peers' grants and measured from when it SENT the heartbeat
// that was granted. A server that grants promises to support nobody else (and
// not to claim the role itself) for ElectionTicks of its own clock, and
// ElectionTicks >= ceil(LeaseTicks*(1+MaxDrift))+1, so every lease ends before
// the promise it rests on. Any two 2-of-3 quorums share a server, and that
// server cannot have promised both masters. A restarted server keeps a startup
// promise to nobody for ElectionTicks, since promises are not persisted.
// docs/triad.md has the argument, a timeline, and every partition shape.
//
// # API
//
//	n, err := quorum.New(quorum.Config{Self: 1, Hosts: hosts, PrimaryIsMaster: pim,
//		Timing: quorum.FlexLMTiming(heartbeatInterval), ServerDigest: sd, LicenseDigest: ld,
//		Incarnation: uint64(startTime.UnixNano())})
//	n.Tick()             // once per Timing.Tick of monotonic time
//	err = n.Step(msg)    // for every message from a peer; msg.From set by the transport
//	rd := n.Ready()      // messages to send, log events, SoftState when role/serving/master changed
//	n.Serving()          // may this server grant a license right now?
//	st := n.Status()     // role, master, serving, 3x3 link matrix, DSLS cluster state
//
// Node is not safe for concurrent use: one goroutine owns it, or a mutex guards it.
//
// # Glue (lmgrd)
//
// A sketch of the loop that drives a Node from a real clock and transport:
//
//	start := time.Now() // monotonic
//	catchUp := func() { // run the ticks owed; a stalled process catches up before acting
//		for want := int64(time.Since(start) / timing.Tick); n.Now() < want; {
//			n.Tick()
//		}
//	}
//	ticker := time.NewTicker(timing.Tick)
//	for {
//		select {
//		case <-ticker.C:
//			catchUp()
//		case m := <-tr.Recv():
//			catchUp()
//			if err := n.Step(m); err != nil { log.WithError(err).Warn("bad peer message") }
//		case <-ctx.Done():
//			return
//		}
//		rd := n.Ready()
//		if rd.SoftState != nil { apply(rd.SoftState) } // 1. stop serving first when Serving is false
//		for _, e := range rd.Events { log.WithField("peer", e.Host).Info(e.Text) } // 2.
//		for _, m := range rd.Messages { _ = tr.Send(m) } // 3. best effort
//	}
//
// The vendor daemon asks, under the same lock, catchUp() then n.Serving()
// before every checkout. A server whose Status says Master but not Serving
// answers clients -23 (new server connecting); a Standby redirects them to
// Status.Master; NoQuorum answers -20 (no majority).
//
// # Transport
//
// Transport is what the network layer implements; InmemNetwork is its
// in-memory twin for tests (Cut, CutOneWay, Heal, Isolate, Partition,
// HealAll, Drop). Ranks are positions in the local file: the transport knows
// each peer by host and port, so it sets Message.From to the peer's rank in
// the local SERVER lines, and sends a message with To = r to the host of
// local SERVER line r. A peer whose file orders the servers differently is
// then caught by the digest check, not misrouted silently. Messages may be
// lost, duplicated, delayed or reordered; safety does not depend on delivery.
//
// A message is one line of simple tokens: strings.Join(m.Fields(), " ")
// gives e.g. "PING from=0 to=1 at=42 inc=7 master=0 serving=1 links=111
// hosts=pat,lee,terry sd=… ld=…", and MessageFromFields(strings.Fields(line))
// reverses it (unknown keys are ignored, for newer peers).
package quorum
