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
// day), START (from the first instant of that day), the node lock, the size
// and the free capacity. Dates are calendar days in Options.Location (UTC by
// default). A single checkout is served by a single pool; it never spans
// pools. When no pool passes, the denial is that of the furthest check any
// pool reached:
//
//	-5  no pool of that name                  No such feature exists.
//	-21 every pool's version is below V       License file does not support this version.
//	-10 every remaining pool has expired      Feature has expired.
//	-31 every remaining pool starts later     Feature start date is in the future.
//	-9  no remaining pool's HOSTID matches    Invalid host.
//	-26 Count exceeds every remaining pool's  Request for more licenses than this feature supports.
//	    Count+OVERDRAFT (so could never fit)
//	-4  every remaining pool is full          Licensed number of users already reached.
//
// A pool's capacity is Count + OVERDRAFT. An uncounted pool has no capacity
// limit but still checks version, dates and node lock, and still records a
// holder so that lmstat lists it.
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
// all its licenses; Expire frees those of sessions silent for strictly more
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
// lists); pools keep their in-use counters, so Checkout, Checkin and
// Heartbeat are O(pools of the feature) and O(1) otherwise; CloseSession and
// Expire are linear in what they free; Status is linear in the holders it
// reports (plus a sort that is linear on already ordered input).
package pool
