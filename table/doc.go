// Package table is the triad's replicated license tables: the state machine
// that every member of the raft group applies committed log entries to, and
// the explicit, versioned encodings of those entries and of the tables.
//
// # State machine
//
// The master's vendor daemon computes pool deltas (package pool) and
// proposes them in batches, one Entry per raft log entry. Every member
// applies each committed entry to its Tables, which hold one pool.State per
// vendor. A vendor never seen has an empty table: no pools, Seq 0, no
// holders. Its first entry therefore has to start with the Reload delta
// that gives the table its pools (pool.New(nil, opts).Reload(pools, now) on
// the proposer yields it as Seq 1); a Grant before that does not fit.
//
// Apply is deterministic: members applying the same entries in the same
// order hold the same tables, and Marshal gives them the same bytes. It
// takes an entry whole or not at all as far as sequence numbers go: unless
// the deltas' Seqs run on from the vendor's table without a gap or a repeat
// (the first is the table's Seq+1, each next one more), nothing is applied
// and the error wraps ErrNotContinuation. An entry that cannot be encoded
// (empty vendor, unknown delta kind or release reason, a time outside years
// 0-9999) is refused whole too, with ErrMalformed, so that the tables can
// always be marshalled. A delta that does not fit the state (pool.Apply's
// ErrDiverged: unknown handle or pool) stops the entry there: the deltas
// before it stay applied, the failing one and those after it are not, and
// the error says which delta failed. Since pool.Apply changes nothing when
// it fails, every member stops at the same delta and ends with the same
// tables; only the text of the error may differ. The entry's Proposer and
// Gen are bookkeeping for the proposer: Apply ignores them.
//
// Tables are safe for concurrent use. Apply keeps references to the slices
// of the entry's deltas (pools, host ids), and Snapshot's result shares
// some with the tables: neither may be modified.
//
// All members must use the same pool.Options (FirstHandle and Location in
// particular): they are not part of the encodings.
//
// # Encodings
//
// Every blob starts with two bytes, the format and its version, then one
// JSON object:
//
//	format  blob                       version  written by
//	1       Entry (a raft log entry)   1        EncodeEntry
//	2       Tables (raft snapshot)     1        (*Tables).Marshal
//	3       one vendor's pool.Snapshot 1        EncodeSnapshot
//
// A decoder refuses another format and a version it does not know, naming
// it, with an error wrapping ErrMalformed. A new version gets a new version
// byte; the JSON below never changes meaning within a version. Decoding is
// strict: unknown fields, trailing data, values out of range and a top-level
// null are errors (field names match as encoding/json matches them, ignoring
// case, a repeated field keeping its last value). Field names are the short
// tags below, not the Go names, and every field is omitted when zero (an
// empty string, 0, false, an empty list, the zero time or date), decoding to
// that zero value; nil and empty Go slices are not told apart.
//
// Entry (format 1):
//
//	prop    int      Proposer: rank of the proposing member (≥ 0)
//	vnd     string   Vendor (required)
//	gen     uint     Gen: the proposer's handover generation
//	d       [delta]  Deltas, in Seq order
//
// delta:
//
//	seq     uint     Seq (required)
//	k       int      kind: 1 Grant, 2 Rebind, 3 Release, 4 Reload (required)
//	t       time     Time of the operation
//	h       holder   Holder (Grant, Rebind, Release)
//	r       int      Reason: 1 checkin, 2 session closed, 3 timeout,
//	                 4 removed, 5 reread (Release); 0 or absent otherwise
//	pools   [pool]   Pools (Reload), in file order
//	moves   [move]   Moves (Reload)
//
// holder (pool.Holder):
//
//	hnd     uint     Handle          pv      string  PoolVersion
//	feat    string   Feature         ver     string  Version requested
//	pk      string   PoolKey         n       int     Count
//	sess    uint     Session         pid     int     PID
//	user    string   User            ids     [string] HostIDs
//	host    string   Host            vdef    string  VendorDef
//	disp    string   Display         start   time    Start
//	seen    time     LastSeen
//
// move (pool.Move): hnd uint Handle, pk string PoolKey, pv string PoolVersion.
//
// pool (licfile.Pool):
//
//	key     string   Key             hid     string  HostID
//	name    string   Name            vstr    string  VendorString
//	vnd     string   Vendor          dup     string  DupGroup
//	ver     string   Version         od      int     Overdraft
//	exp     date     Expiry          ub      bool    UserBased
//	expt    string   ExpiryText      hb      bool    HostBased
//	start   date     Start           lines   [pos]   Lines
//	n       int      Count           unc     bool    Uncounted
//
// pos (licfile.Pos): file string File, line int Line.
//
// Snapshot (format 3, pool.Snapshot):
//
//	seq     uint     Seq             pools   [pool]   Pools, in file order
//	next    uint     NextHandle      holders [holder] Holders, by handle
//
// Tables (format 2): vendors, a list of {vnd string, tbl snapshot} in
// ascending byte order of the vendor name, each vendor once, each table at
// Seq ≥ 1 (a vendor with an empty table is not listed).
//
// Scalar types:
//
//	time    RFC 3339 text with nanoseconds, as time.RFC3339Nano writes
//	        it, in the time's own UTC offset ("2025-06-01T12:00:00.5+02:00");
//	        the instant round-trips exactly and so does a whole-minute
//	        offset (decoded as a zone without a name, or UTC for offset 0),
//	        the location's name does not; a time whose offset is not whole
//	        minutes is written in UTC. The zero time is omitted.
//	date    [year, month, day] (licfile.Date as is, not checked as a
//	        calendar date); the zero Date is omitted.
//	string  the JSON string, when the Go string is valid UTF-8 and does not
//	        start with a NUL byte; otherwise "\u0000" followed by the
//	        standard base64 of its bytes, so that any byte string (a Latin-1
//	        user name, say) round-trips exactly.
//	int     a JSON integer within the Go type's range.
package table
