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
// Every blob starts with two bytes, the format and its version, then its
// content: one JSON object, except for entries of version 2 (binary, below).
//
//	format  blob                       version  written by
//	1       Entry (a raft log entry)   2        EncodeEntry (binary)
//	                                   1        nothing now (JSON); still read
//	2       Tables (raft snapshot)     1        (*Tables).Marshal
//	3       one vendor's pool.Snapshot 1        EncodeSnapshot
//
// A decoder refuses another format and a version it does not know, naming
// it, with an error wrapping ErrMalformed. A new version gets a new version
// byte; neither the JSON nor the binary below ever changes meaning within a
// version. DecodeEntry reads both entry versions, to the same Entry for the
// same content, so that a log written before version 2 still applies.
//
// Version 1 (JSON) decoding is strict: unknown fields, trailing data, values
// out of range and a top-level null are errors (field names match as
// encoding/json matches them, ignoring case, a repeated field keeping its
// last value). Field names are the short tags below, not the Go names, and
// every field is omitted when zero (an empty string, 0, false, an empty
// list, the zero time or date), decoding to that zero value; nil and empty
// Go slices are not told apart.
//
// Entry (format 1, version 1):
//
//	prop    int      Proposer: rank of the proposing member (≥ 0)
//	vnd     string   Vendor (required)
//	gen     uint     Gen: the proposer's handover generation
//	d       [delta]  Deltas, in Seq order
//
// delta:
//
//	seq     uint     Seq (required)
//	k       int      kind: 1 Grant, 2 Rebind, 3 Release, 4 Reload,
//	                 5 Linger, 6 Enqueue, 7 NamedUse, 8 Recycle, 9 Dequeue
//	                 (required)
//	t       time     Time of the operation
//	h       holder   Holder (Grant, Rebind, Release, Linger)
//	r       int      Reason: 1 checkin, 2 session closed, 3 timeout,
//	                 4 removed, 5 reread, 6 linger end, 10 borrow end,
//	                 11 returned (Release; Linger: 1 or 2); 0 or absent
//	                 otherwise
//	pools   [pool]   Pools (Reload), in file order
//	moves   [move]   Moves (Reload)
//	c       int      Code (Dequeue of a request that can no longer be
//	                 granted: the FlexLM error number); 0 or absent otherwise
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
//	seen    time     LastSeen        sec     string  Secret (absent when empty)
//	ip      string   IP              proj    string  Project
//	lu      time     LingerUntil     lng     int     Linger (nanoseconds)
//	bu      time     BorrowUntil (absent when zero)
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
//	bor     int      Borrow (hours; absent when 0)
//
// pos (licfile.Pos): file string File, line int Line.
//
// Snapshot (format 3, pool.Snapshot):
//
//	seq     uint     Seq             pools   [pool]   Pools, in file order
//	next    uint     NextHandle      holders [holder] Holders, by handle
//	named   [named]  Named, by pool key then user (absent when empty)
//	queued  [holder] Queued: the queued requests, by handle (absent when none)
//
// named (pool.NamedUser): pk string PoolKey, user string User, lu time
// LastUsed.
//
// Tables (format 2): vendors, a list of {vnd string, tbl snapshot} in
// ascending byte order of the vendor name, each vendor once, each table at
// Seq ≥ 1 (a vendor with an empty table is not listed).
//
// Scalar types of the JSON:
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
//
// # Entry version 2 (binary)
//
// After the header (1, 2) come the entry's fields, each in its place in the
// order below (top to bottom), nothing named, nothing omitted, and nothing
// after the last one. The names are version 1's tags, for reference; the kind and reason
// numbers are version 1's. Every delta is in binary, Reloads too.
//
//	entry:  prop   uvarint   Proposer (≤ the largest int)
//	        vnd    string    Vendor (not empty)
//	        gen    uvarint   Gen
//	        d      count     Deltas, then each delta:
//	delta:  seq    uvarint   Seq
//	        k      uvarint   kind: 1 Grant, 2 Rebind, 3 Release, 4 Reload,
//	                         5 Linger, 6 Enqueue, 7 NamedUse, 8 Recycle,
//	                         9 Dequeue
//	        r      uvarint   Reason: 0 none, 1 checkin, 2 session closed,
//	                         3 timeout, 4 removed, 5 reread, 6 linger end,
//	                         10 borrow end, 11 returned
//	        t      time      Time
//	        h      bytes     Holder: a holder record, empty for the zero Holder
//	        has    uvarint   bit 0: pools follow, bit 1: moves follow, bit 2:
//	                         code follows; no other bits
//	        pools  count     Pools (only if has bit 0; at least 1), then each pool
//	        moves  count     Moves (only if has bit 1; at least 1), then each
//	                         move: hnd uvarint, pk string, pv string
//	        c      varint    Code (only if has bit 2; not 0)
//	holder: hnd    uvarint   Handle
//	        feat   string    Feature
//	        pk     string    PoolKey
//	        pv     string    PoolVersion
//	        ver    string    Version requested
//	        n      varint    Count
//	        sess   uvarint   Session
//	        user   string    User
//	        host   string    Host
//	        disp   string    Display
//	        pid    varint    PID
//	        ids    count     HostIDs, then each a string
//	        vdef   string    VendorDef
//	        start  time      Start
//	        seen   time      LastSeen
//	        sec    string    Secret, only when not empty or when the tail
//	                         below follows: a record that ends after seen is
//	                         a holder without a secret (as every holder
//	                         written before secrets)
//	        ip     string    IP          } the policy tail, all four or none:
//	        proj   string    Project     } only when one is not empty; a
//	        lu     time      LingerUntil } record that ends after sec has
//	        lng    varint    Linger (ns) } none (as every holder before it)
//	        bu     time      BorrowUntil, only when not zero (the policy
//	                         tail is then written, empty or not)
//	        (the fields fill the record exactly)
//	pool:   key    string    Key
//	        name   string    Name
//	        vnd    string    Vendor
//	        ver    string    Version
//	        exp    date      Expiry
//	        expt   string    ExpiryText
//	        start  date      Start
//	        n      varint    Count
//	        flags  uvarint   bit 0 Uncounted (unc), bit 1 UserBased (ub),
//	                         bit 2 HostBased (hb), bit 3 Borrow follows;
//	                         no other bits
//	        bor    varint    Borrow (hours, not 0), only when flags bit 3
//	        hid    string    HostID
//	        vstr   string    VendorString
//	        dup    string    DupGroup
//	        od     varint    Overdraft
//	        lines  count     Lines, then each: file string, line varint
//
// The policy fields (IP, Project, LingerUntil, Linger), the Linger kind and
// the LingerEnd reason came later still, the same way: optional JSON fields
// and an optional binary tail, so older entries and snapshots decode as
// holders without them and such holders encode byte for byte as before; an
// older build refuses an entry holding them, or a Linger delta.
//
// Named users came later too: the NamedUse (7) and Recycle (8) kinds, whose
// delta carries the pool key, feature and user in its holder record, and
// the snapshot's optional named list; every older entry and snapshot decodes
// as before, and a snapshot without named users encodes byte for byte as
// before. An older build refuses an entry holding a NamedUse or Recycle
// (unknown kind) and a snapshot with named users (unknown field). Kinds 6
// and 9 are reserved for the queue.
// The queue (Enqueue and Dequeue kinds, the delta's code, a snapshot's
// queued) came after that, the same way: absent unless used, so older
// entries and snapshots decode as before and encode byte for byte as
// before; an older build refuses an entry or snapshot using them.
//
// Holder secrets (pool.Holder.Secret) came after versions 1 and 2 were
// fixed: they are an optional last field of both (sec), so every entry and
// snapshot written before decodes as holders without a secret, and a
// holder without one encodes byte for byte as before. A build older than
// secrets refuses an entry or snapshot holding one (bytes left in a holder
// record, an unknown JSON field): upgrade all three members together.
//
// Borrowing (pool.Holder.BorrowUntil, licfile.Pool.Borrow, the reasons
// BorrowEnd 10 and Returned 11) came the same way: optional fields, so
// older entries and snapshots decode as holders and pools without them,
// which encode byte for byte as before; an older build refuses them.
//
// Types of the binary:
//
//	uvarint  unsigned LEB128 (encoding/binary's Uvarint), at most 10 bytes
//	varint   a signed int zig-zag coded as a uvarint (binary.Varint),
//	         within the Go type's range (int: 32 bits on 32-bit platforms)
//	count    a uvarint: the number of items that follow
//	string   uvarint length, then the bytes as they are: any byte string
//	         round-trips, with no escape (unlike version 1)
//	bytes    uvarint length, then that many bytes
//	date     varint year, varint month, varint day (licfile.Date as is)
//	time     uvarint 0 for the zero time (nothing follows), or 1 then
//	         varint Unix seconds, uvarint nanoseconds (< 10⁹) and varint
//	         UTC offset in seconds. As in version 1, a time is written in
//	         its own offset when that is whole minutes strictly within ±24 h,
//	         in UTC otherwise, its wall clock there in years 0-9999; it
//	         decodes to the same instant in an unnamed fixed zone of that
//	         offset (UTC for 0). The zero instant is written only as 0.
//
// A version 2 decoder refuses anything else: a truncated field, a varint
// longer than 10 bytes or out of its type's range, unknown bits or numbers,
// a holder record with bytes left over, trailing bytes. It never allocates
// more than a multiple of the blob's size: every length is checked against
// the bytes left before anything is allocated for it, and a count must not
// exceed the bytes left divided by the fewest bytes an item takes (6 for a
// delta, 18 for a pool, 3 for a move, 2 for a line, 1 for a host id).
package table
