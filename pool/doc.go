// Package pool is a vendor daemon's license pool as a pure, deterministic
// state machine.
//
// A State holds the pools of a license file (licfile.Pool: FEATURE and
// INCREMENT lines already grouped and summed, flexlm.md §1.5) and the
// license handles checked out of them. It does no I/O, starts no goroutines
// and reads no clock of its own: every operation takes now (the wall clock),
// and session silence is measured on the caller's Options.Monotonic (see
// Sessions and timeouts). Every change is
// returned as a Delta, the unit of replication: a replica that Applies a
// master's deltas in Seq order holds the same state (compare Snapshots).
// The same operations with the same arguments give the same results; where
// several holders change at once they are handled in handle order.
//
// # Checkout
//
// Checkout of Count licenses of a feature at version ≥ V (decimal compare:
// "1.0" = "1.000", "2017.12" > "2017.06", "10" > "9.5"; V = "" is any)
// considers the pools of that name in order of lowest version first, then
// license-file order, and grants from the first that passes, in turn: the
// version, the expiry (a pool expiring 31-dec-2030 serves through that whole
// day), START (from the first instant of that day), the node lock, the
// options file's INCLUDE/EXCLUDE lists, the size, MAX, RESERVE and the free
// capacity. Dates are calendar days in Options.Location (UTC by default). A
// single checkout is served by a single pool; it never spans pools. When no
// pool passes, the denial is that of the furthest check any pool reached:
//
//	-5   no pool of that name                 No such feature exists.
//	-21  every pool's version is below V      License file does not support this version.
//	-10  every remaining pool has expired     Feature has expired.
//	-31  every remaining pool starts later    Feature start date is in the future.
//	-9   no remaining pool's HOSTID matches   Invalid host.
//	-38  on an EXCLUDE/EXCLUDEALL list        User/host on EXCLUDE list for feature.
//	-39  INCLUDE lists apply, not on them     User/host not on INCLUDE list for feature.
//	-84  USER_BASED/HOST_BASED pool with no   USER_BASED license has no specified users -- see license server system log.
//	     INCLUDE line for its feature
//	     (-38, -39 or -84: that of the first pool, in checkout order, refused so)
//	-26  Count exceeds every remaining pool's Request for more licenses than this feature supports.
//	     capacity (so could never fit)
//	-87  a MAX line naming the client would   Checkout exceeds MAX specified in options file.
//	     be exceeded
//	-101 it fits, but not with the licenses   All licenses are reserved for others.
//	     reserved for others
//	-4   every remaining pool is full         Licensed number of users already reached.
//	     (or, USER_BASED/HOST_BASED, has as
//	     many named users as its capacity)
//
// USER_BASED and HOST_BASED pools and their named users' life cycle
// (NamedUse and Recycle deltas, Recycle, AutoRecycle) are described in
// named.go.
//
// A pool's capacity is Count + OVERDRAFT, the OVERDRAFT capped by the
// options file's MAX_OVERDRAFT. The component pools of one OPTIONS=SUITE
// PACKAGE (licfile.SuiteKey) also share it: a checkout of one fits only when
// the licenses held in all of them together leave room (a component checkout
// takes a license of the suite too); a full suite gives -4. An uncounted pool has no capacity limit (and
// no reservations) but still checks version, dates, node lock, lists and MAX,
// and still records a holder so that lmstat lists it.
//
// Node locks (HOSTID, possibly a space-separated list, any entry matching):
// none, ANY and DEMO match everybody; HOSTNAME=x matches Client.Host
// (case-insensitively); USER=x and DISPLAY=x match Client.User and
// Client.Display; INTERNET=a.b.c.d with '*' octets matches any of
// Client.HostIDs of IPv4 form (bare or written INTERNET=...); any other id,
// plain or typed (ID=, FLEXID=...), matches a Client.HostIDs entry equal,
// case-insensitively, to the whole id or to its value.
//
// # DUP_GROUP
//
// In a pool with DUP_GROUP U, H, D, V or a combination (V is
// Client.VendorDef), holders whose selected user/host/display/vendor fields
// are equal form a duplicate group; SITE puts all of the pool's holders in
// one group; NONE or no DUP_GROUP means no grouping. Every checkout gets its
// own handle and Holder, but a group consumes only the largest Count among
// its members: a duplicate checkout of Count ≤ that consumes nothing extra
// and is granted even when the pool is full. The group's licenses are freed
// when its last member goes.
//
// # The options file
//
// Options.Policy (SetPolicy on an lmreread) is the vendor daemon's options
// file (package options). Each pool is matched as PoolRef gives it: its
// name, VERSION, VENDOR_STRING and HOSTID, so that "f1:VERSION=2.0" selects
// one pool of f1 (SN= and ASSET_INFO= select none: pools do not keep them).
// The client is matched by its Client.Requester: user, host, display, IP
// (INTERNET patterns) and Project (LM_PROJECT); GROUP and HOST_GROUP and
// GROUPCASEINSENSITIVE are the options package's.
//
// MAX: each MAX line caps the licenses held by everyone its entity names
// (the whole GROUP, HOST_GROUP or INTERNET pattern together), counted over
// every pool its feature spec selects; the smallest line naming the client
// binds. A holder counts its Count. In a DUP_GROUP pool a group counts as
// the pool counts it (its largest Count) and is charged to its member with
// the lowest handle, which keeps master and replicas in agreement; a
// duplicate checkout consuming nothing is never refused by MAX. The counts
// are kept up to date on every grant and release and recounted by SetPolicy
// and Restore.
//
// RESERVE: each RESERVE line selecting a pool sets its Count aside in that
// pool (a line selecting two pools reserves in each). Reservations take the
// capacity in file order; one larger than what the earlier ones left is
// clamped to it (so together they never exceed the capacity). Which license
// serves which reservation is not replicated but follows from the holders:
// a holder (a DUP_GROUP as for MAX) is attributed to the first reservation of
// its pool, in file order, whose entity names it, even when a later one
// would have room. With unused(R) = max(0, Count_R − attributed_R), a
// checkout needing n more licenses is granted when it fits the capacity and
// either n ≤ unused of the client's own (first matching) reservation, or
// afterwards inUse + Σ unused ≤ capacity; when it fits but neither holds,
// the pool refuses it with -101. PoolStatus.Reservations reports each line's
// Count (clamped) and Used (attributed, at most Count); lmstat prints
// "Count−Used RESERVATIONs for TYPE name" for those with licenses unused,
// since a reserved license in use shows as a user line.
//
// A policy change frees nobody (FlexLM does not take licenses back on an
// lmreread): holders the new file would refuse keep their licenses, a pool
// left above a lowered capacity is full until enough go. SetPolicy returns
// no delta: the options file is enrolled like the license files and every
// member calls SetPolicy itself; Apply trusts the master and checks no
// policy, so members that change policy at slightly different moments never
// disagree on holders. The options file is not part of a Snapshot.
//
// TIMEOUT: SetIdle records that a session's client reported inactivity (or
// activity again); a checkout or checkin from it also makes it active,
// heartbeats do not. Expire frees (reason Timeout, so the client is told it
// lost them) the licenses of a session idle for at least its feature's
// TIMEOUT (TIMEOUTALL otherwise; at least options.MinTimeout). Idleness is
// measured like silence, on Options.Monotonic when set, and is not
// replicated: a new master counts every session active until its client
// reports idleness again.
//
// LINGER: a Checkin or CloseSession of a holder whose feature has a LINGER
// does not free it: the holder leaves its session (Session 0) and keeps its
// licenses until LingerUntil = now + LINGER (the wall clock), recorded by a
// Linger delta (Reason Checkin or SessionClosed; Holder.LingerUntil and
// Holder.Linger set). Expire then releases it with reason LingerEnd, which
// nobody is told. Meanwhile a checkout of the same feature by the same
// user, host and display, of at most the holder's Count and a version its
// pool serves, takes it back instead of consuming more: the holder (lowest
// handle first) joins the client's session with the client's PID and the
// request's NewSecret, recorded by a Rebind delta; it keeps its other
// fields. lmremove refuses a lingering license with -100 (Cannot remove a
// linger license). Heartbeat timeouts, idle TIMEOUTs, lmremove and lmreread
// free at once, without lingering. Lingering holders are in Snapshots and
// survive Restore.
//
// # Queue
//
// A CheckoutRequest with Queue set (FlexLM's LM_CO_QUEUE) that would be
// denied only for lack of free licenses (-4, or -101: the rest are
// reserved for others) is queued instead: it gets a handle at once, an
// Enqueue delta records it at the tail of its feature name's queue, and
// Checkout returns the queued request as its Holder with a -35 Denial
// (CodeFeatQueue, Denial.Handle). A request denied for anything else (-5,
// -21, -10, -31, -9, -38, -39, -26, -87) is not queued. A checkout that fits
// is granted at once, queue or not, even while others wait: the queue
// orders only those who wait (FlexLM's LM_USERSQUEUED, -24, is not used).
//
// The queue is strictly FIFO per feature name (which is also handle
// order). Every operation that may free licenses (Checkin, CloseSession,
// Expire, Remove, RemoveHandle, Reload; ServeQueues, which a master calls
// after SetPolicy) then serves the queues, feature by feature in name
// order: while a queue's head passes the checks of a checkout from its
// client (policy included) it is granted, a Grant delta with its queued
// handle, its queued secret and Start the grant time, which takes it out
// of the queue on replicas too; a head short of licenses (-4, -101) blocks
// those behind it; a head refused for anything else can no longer be
// granted as asked and is dropped: a Dequeue delta with Code that denial
// (reason Reread after a Reload or ServeQueues, none otherwise). These
// deltas follow, in the same slice, the deltas of the operation that
// freed the licenses.
//
// A queued request belongs to its client's session: CloseSession drops it
// (Dequeue, SessionClosed) and so does Expire when the session is silent
// (Timeout; heartbeats keep it alive, idle TIMEOUTs do not apply); its
// client cancels it with a Checkin of its handle (Dequeue, Checkin). A
// checkout presenting the handle and secret of a queued request of the
// same client (feature, user, host, display, PID) moves it to the
// request's session, keeping its place (a Rebind delta; -35 again), as a
// client does after a failover. Queued requests are in Snapshots
// (Snapshot.Queued) and Status (FeatureStatus.Queued).
//
// BORROW: Borrow grants as Checkout does, to a holder that belongs to no
// session from the start (Session 0) and carries BorrowUntil, recorded by
// an ordinary Grant delta (a replica sees BorrowUntil and makes it
// borrowed too). Only Expire at BorrowUntil (reason BorrowEnd) or Return
// with the holder's secret (reason Returned) free it: CloseSession,
// timeouts, Checkin and lmremove pass it by, a reattach never takes it,
// and lmreread frees it only when its license is gone. The pool must have
// a BORROW (else -67); the options file's EXCLUDE_BORROW/INCLUDE_BORROW
// apply (-38/-39), MAX_BORROW_HOURS lowers the line's BORROW hours (past
// them: -104), and BORROW_LOWWATER licenses of the pool stay unborrowed
// (-67). Borrowed holders are in Snapshots and survive Restore.
//
// # Handles and reattach
//
// Handles increase from Options.FirstHandle (1 by default) and are never
// reused. A CheckoutRequest with a non-zero Handle reattaches: if that
// handle is held for the same feature by a client with the same user, host,
// display and PID, the Holder is returned unchanged apart from being bound
// to the request's Session, and a Rebind delta records that; nothing more is
// consumed. If no holder has that handle, the request is an ordinary
// checkout that keeps the client's number when it was never given out here
// (≥ the next handle; so a client reattaching after a failover to a replica
// that missed its grant keeps its number) and gets a fresh one otherwise. A
// handle held by another client is never taken over: the request gets a
// fresh handle.
//
// A holder has a Secret, CheckoutRequest.NewSecret at its grant, which a
// reattach must present (CheckoutRequest.Secret, compared in constant
// time): with the same identity but a wrong or missing secret the request
// is refused with -41 (Denial.BadSecret) and the holder stays where it is.
// A holder without a secret (granted before secrets existed, restored from
// an old log or snapshot) is reattached by its identity as before and takes
// the request's NewSecret then, which its Rebind delta carries. The secret
// is replicated with the holder; it must never be reported.
//
// # Sessions and timeouts
//
// A session is a client connection. Checkout, Checkin and Heartbeat mark
// its activity (LastSeen, shared by all its holders). CloseSession frees
// all its licenses (or lets them linger, see The options file); Expire frees those of sessions silent for strictly more
// than Options.HeartbeatTimeout (zero disables it). Heartbeats produce no
// delta: liveness is the master's own view, so a replica's LastSeen lags by
// the heartbeats it never saw (every other field matches), and a replica
// promoted to master should call TouchAll before its first Expire.
//
// Silence is measured on Options.Monotonic when it is set, as a daemon
// that expires sessions must set it: LastSeen and every delta's Time stay on
// the wall clock (they are reported and replicated), but a wall-clock step
// (NTP, a resumed VM) neither frees a live session nor keeps a silent one.
// A monotonic reading means nothing in another process, so none is
// replicated: Restore starts every session's silence at the restore and
// TouchAll at its call, on the restoring State's own clock, and a session
// adopted after a failover or restart gets a full timeout from the moment
// its new master holds the table. License expiry and START dates stay on
// the wall clock (now). Without Options.Monotonic silence is measured on
// now, which must then not step back (a session would be freed late) nor
// forward (early).
//
// # lmremove and lmreread
//
// Remove and RemoveHandle release with reason Removed. Reload (lmreread)
// keeps every holder whose pool key still exists while that pool has room,
// oldest first; moves others to another pool of the same name with a version
// ≥ their old pool's that would accept them now; releases the rest with
// reason Reread (tell those clients -92). Holders of an expired or
// not-yet-started pool whose key survives keep their license: dates only
// gate new checkouts.
//
// # Replication
//
// Every delta carries the next Seq. Apply ignores a delta with a Seq at or
// below the last applied (a duplicate) and returns ErrGap for one that skips
// ahead and ErrDiverged for one that does not fit; after either the replica
// should Restore from the master's Snapshot. Apply trusts the master: it
// re-checks no capacity or date.
//
// # Cost
//
// Holders are indexed by handle (map), by session and by pool (intrusive
// lists); pools keep their in-use counters and the options file's MAX and
// RESERVE usage, so Checkout, Checkin and Heartbeat are O(pools of the
// feature × options lines on it) and O(1) in the holders; CloseSession is
// linear in what it frees; Expire in what it frees plus the sessions
// reported idle (lingering holders are in a heap by LingerUntil); Status is
// linear in the holders it reports (plus a sort that is linear on already
// ordered input). SetPolicy and Restore recount every holder.
//
// # Files
//
// state.go holds the types, the pool and session structures and Checkout;
// ops.go the other operations; policy.go the options file (PoolRef, MAX,
// RESERVE, SetPolicy, SetIdle, LINGER); borrow.go BORROW; reload.go
// lmreread; apply.go Apply, Snapshot and Restore; queue.go the queue;
// status.go lmstat's view; delta.go and denial.go the deltas and denial
// codes; version.go decimal versions; named.go USER_BASED/HOST_BASED named
// users.
package pool
