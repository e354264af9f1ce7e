// Package quorum is the FlexLM three-server (triad) on etcd's raft
// (go.etcd.io/raft/v3): one raft group of the three SERVER-line members
// whose log carries every change to the license tables, with FlexLM's roles
// on top. Node is a pure state machine in the style of raft's RawNode: Tick,
// Step and Propose go in, Ready comes out; there are no goroutines, sockets
// or clocks inside; lmgrd's glue owns those.
//
// # FlexLM's rules on raft
//
//   - Ranks are the SERVER lines' order (0 primary, 1 secondary, 2 tertiary);
//     raft ids are rank+1 and the membership never changes.
//   - The tertiary never serves; it asks for votes only to relay (relays):
//     when the eligible member it hears lacks entries it holds, it leads for
//     a moment, brings that member up to date and hands it the role.
//   - A member serves (Serving) only as raft's leader with a lease: LeaseTicks
//     from the send time of a heartbeat round (a ReadIndex) that a quorum
//     acknowledged, and once everything committed before it is applied.
//     Followers refuse other candidates for ElectionTicks after hearing the
//     leader (CheckQuorum), and LeaseTicks <= MaxLeaseTicks(ElectionTicks,
//     MaxDrift), so a lease always ends before the promise it rests on.
//   - A started member neither votes nor campaigns for PromiseTicks: its
//     votes are durable, its CheckQuorum promises are not.
//   - At the start a secondary lets a live primary stand first, so the
//     primary is master whenever it is up; without PRIMARY_IS_MASTER the
//     master keeps its role when the primary returns, with it the leadership
//     is handed back once the primary has caught up (the secondary stops
//     serving first; only the leader votes in a transfer election).
//   - Peers whose SERVER lines differ (Envelope digests), or whose wall
//     clocks are more than Config.MaxClockSkew away, are refused before
//     raft sees their messages. A peer serving other licenses is only
//     shown (Status.PeerLicenseDigest): license files converge through the
//     log.
//   - A member whose store was lost or is new (empty) votes only under the
//     amnesia rule and catches up from the leader (Status.Rebuilding); a
//     store that fails to write stops the Node (ErrStorage) until the glue
//     makes a new one on the same store.
//
// docs/triad.md has the argument, the timings and where the node runs.
//
// # API
//
//	store, _ := quorum.OpenBoltStorage(dir + "/raft.db")
//	n, err := quorum.New(quorum.Config{Self: 1, Hosts: hosts, PrimaryIsMaster: pim,
//		Timing: quorum.FlexLMTiming(heartbeatInterval), LicenseDigest: ld}, store)
//	n.Tick()                 // once per Timing.Tick of CLOCK_BOOTTIME
//	n.SetWallClock(ms)       // the wall clock, before Step and Ready
//	n.Step(envelope)         // from the transport (TLSTransport or InmemNetwork)
//	n.Propose(entry)         // on the serving master
//	rd, _ := n.Ready()       // persisted already; stop serving if Status says so,
//	send(rd.Messages)        // then send,
//	apply(rd.Snapshot, rd.CommittedEntries)
//	n.Advance()              // then serve if Status().Serving
//
// Envelopes travel between members over TLS 1.3 with mutual authentication
// by the cluster key (TLSTransport, package clusterkey); InmemNetwork is the
// in-memory twin for tests, with partitions, one-way cuts, loss and
// reordering.
package quorum
