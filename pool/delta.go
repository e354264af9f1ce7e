package pool

import (
	"errors"
	"strconv"
	"time"

	"github.com/lmtriad/lmtriad/licfile"
)

// DeltaKind tells the kinds of state change apart.
type DeltaKind int

const (
	// Grant records a new holder (Delta.Holder).
	Grant DeltaKind = iota + 1
	// Rebind records a reattach: the existing holder Delta.Holder.Handle now
	// belongs to session Delta.Holder.Session.
	Rebind
	// Release records that holder Delta.Holder was freed for Delta.Reason.
	Release
	// Reload records an lmreread: the pools became Delta.Pools and the holders
	// kept under another pool moved as Delta.Moves says. The Release deltas of
	// the holders it dropped come just before it.
	Reload
	// Linger records that holder Delta.Holder.Handle left its session
	// (Delta.Reason: Checkin or SessionClosed) but keeps its licenses until
	// Delta.Holder.LingerUntil (its feature's LINGER, Delta.Holder.Linger).
	// A Release with reason LingerEnd, or a Rebind taking it back, follows.
	Linger
	// Enqueue records a checkout request queued (CheckoutRequest.Queue)
	// under handle Delta.Holder.Handle, at the tail of its feature's queue;
	// Delta.Holder has no pool. A Grant of that handle (which takes it out
	// of the queue) or a Dequeue follows.
	Enqueue DeltaKind = 6
	// Dequeue records that queued request Delta.Holder.Handle was dropped
	// for Delta.Reason (Checkin: the client cancelled it; SessionClosed,
	// Timeout: its client went; Reread or NoReason: it can no longer be
	// granted, Delta.Code saying why).
	Dequeue DeltaKind = 9
)

func (k DeltaKind) String() string {
	switch k {
	case Grant:
		return "Grant"
	case Rebind:
		return "Rebind"
	case Release:
		return "Release"
	case Reload:
		return "Reload"
	case Linger:
		return "Linger"
	case NamedUse:
		return "NamedUse"
	case Recycle:
		return "Recycle"
	case Enqueue:
		return "Enqueue"
	case Dequeue:
		return "Dequeue"
	}
	return "DeltaKind(" + strconv.Itoa(int(k)) + ")"
}

// ReleaseReason says why a holder was freed.
type ReleaseReason int

const (
	// NoReason is the zero value, carried by deltas other than Release.
	NoReason ReleaseReason = iota
	// Checkin: the client checked the license in.
	Checkin
	// SessionClosed: the client's connection closed.
	SessionClosed
	// Timeout: the client's session was silent longer than the heartbeat timeout.
	Timeout
	// Removed: an administrator ran lmremove.
	Removed
	// Reread: the license no longer exists (or no longer has room) after lmreread.
	Reread
	// LingerEnd: a checked-in license's LINGER ran out. Nobody is told.
	LingerEnd
)

// Borrowing's reasons have numbers of their own (table wire 10 and 11),
// apart from the ones other work adds after LingerEnd.
const (
	// BorrowEnd: a borrowed license reached its BorrowUntil.
	BorrowEnd ReleaseReason = 10 + iota
	// Returned: a borrowed license was given back early (lmborrow -return).
	Returned
)

func (r ReleaseReason) String() string {
	switch r {
	case NoReason:
		return "none"
	case Checkin:
		return "checkin"
	case SessionClosed:
		return "session closed"
	case Timeout:
		return "timeout"
	case Removed:
		return "removed"
	case Reread:
		return "reread"
	case LingerEnd:
		return "linger end"
	case BorrowEnd:
		return "borrow end"
	case Returned:
		return "returned"
	}
	return "ReleaseReason(" + strconv.Itoa(int(r)) + ")"
}

// Code is the FlexLM error number a client should be told when it loses a
// license for r: -92 for Reread, 0 otherwise.
func (r ReleaseReason) Code() int {
	if r == Reread {
		return CodeServerRemoved
	}
	return 0
}

// Delta is one state change, the unit of replication: applying a master's
// deltas in Seq order to a replica reproduces the master's state.
type Delta struct {
	Seq    uint64
	Kind   DeltaKind
	Time   time.Time      // the now of the operation; sessions' LastSeen follow it
	Holder Holder         // Grant, Rebind, Release, Linger, Enqueue, Dequeue
	Reason ReleaseReason  // Release; Linger (Checkin or SessionClosed)
	Pools  []licfile.Pool // Reload: the new pools, in file order
	Moves  []Move         // Reload: kept holders now under a different pool
	// Code is, for a Dequeue of a request that can no longer be granted,
	// the FlexLM error number its client is told; 0 otherwise.
	Code int
}

// Move is a holder kept across an lmreread under a different pool.
type Move struct {
	Handle      uint64
	PoolKey     string
	PoolVersion string
}

// Errors returned by Apply and Restore.
var (
	// ErrGap means a delta's Seq skips over deltas not yet applied; the replica
	// must catch up from a Snapshot.
	ErrGap = errors.New("pool: delta sequence gap")
	// ErrDiverged means a delta does not fit the replica's state (unknown
	// handle or pool, duplicate handle); the replica must resynchronise.
	ErrDiverged = errors.New("pool: replica diverged from master")
)
