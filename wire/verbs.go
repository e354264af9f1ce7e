package wire

import (
	"strconv"
	"strings"
)

// ProtocolVersion is the protocol major version this package speaks. A HELLO
// carries it as proto=1; a minor part (proto=1.2) may be added for
// compatible extensions and is ignored by [CheckProto].
const ProtocolVersion = 1

// Verbs of requests and replies. docs/protocol.md describes each one.
const (
	// Replies.
	VerbOK  = "OK"
	VerbErr = "ERR"

	// Greeting, sent first by the side that connects.
	VerbHello = "HELLO"

	// To lmgrd (role=admin).
	VerbInfo   = "INFO"
	VerbDown   = "DOWN"
	VerbReread = "REREAD"

	// To a vendor daemon (role=client or role=admin); REREAD above too.
	VerbCheckout  = "CHECKOUT"
	VerbCheckin   = "CHECKIN"
	VerbHeartbeat = "HEARTBEAT"
	VerbStatus    = "STATUS"
	VerbRemove    = "REMOVE"
	VerbRecycle   = "RECYCLE" // lmrecycle: free a named user's seat
	VerbShutdown  = "SHUTDOWN"
	VerbBorrow    = "BORROW" // lmborrow: a checkout held without a connection
	VerbReturn    = "RETURN" // lmborrow -return

	// Unsolicited, from a vendor daemon to a client: a license it held was
	// freed by the server (lmremove, lmreread, heartbeat timeout).
	VerbRevoked = "REVOKED"
	// Unsolicited, from a vendor daemon to a client that asked for
	// notify=granted: a checkout it queued (queue=1) is now granted.
	VerbGranted = "GRANTED"

	// Between triad peers (role=peer).
	VerbPing = "PING"
	VerbPong = "PONG"
)

// Record verbs: the lines that follow an OK records=N reply.
const (
	RecServer  = "SERVER"  // INFO: one triad member
	RecVendor  = "VENDOR"  // INFO: one vendor daemon
	RecLink    = "LINK"    // INFO: one triad link
	RecFeature = "FEATURE" // STATUS: totals of one feature
	RecPool    = "POOL"    // STATUS: one license pool
	RecHolder  = "HOLDER"  // STATUS: one checked-out license
	RecNamed   = "NAMED"   // STATUS: one named user of a USER_BASED/HOST_BASED feature
	RecQueued  = "QUEUED"  // STATUS: one queued checkout request
)

// Roles a HELLO may declare with role=.
const (
	RoleClient = "client"
	RoleAdmin  = "admin"
	RolePeer   = "peer"
)

// Hello returns a HELLO with proto=ProtocolVersion followed by the given
// key, value pairs.
func Hello(kv ...string) Message {
	m := Message{Verb: VerbHello, Args: make([]Arg, 1, 1+len(kv)/2)}
	m.Args[0] = Arg{Key: "proto", Value: strconv.Itoa(ProtocolVersion)}
	m.Args = append(m.Args, New("", kv...).Args...)
	return m
}

// CheckProto checks the proto= argument of a HELLO. It returns nil when the
// major version equals ProtocolVersion, else an *Error to send back:
// CodeServOldVer when the peer is newer than this program, CodeBadComm
// otherwise (older, missing or malformed proto=, or m is not a HELLO), with
// MinorBadProto (MinorNotHello for a non-HELLO) and a Detail naming both
// versions.
func CheckProto(m Message) error {
	if m.Verb != VerbHello {
		return NewError(CodeBadComm, MinorNotHello).WithDetail("expected HELLO proto=" + strconv.Itoa(ProtocolVersion) + " as the first message")
	}
	ours := "server proto=" + strconv.Itoa(ProtocolVersion)
	v, ok := m.Lookup("proto")
	if !ok {
		return NewError(CodeBadComm, MinorBadProto).WithDetail("HELLO without proto=, " + ours)
	}
	major, _, _ := strings.Cut(v, ".")
	n, err := strconv.Atoi(major)
	if err != nil || n < 0 || strings.HasPrefix(major, "+") {
		return NewError(CodeBadComm, MinorBadProto).WithDetail("invalid client proto=" + strconv.Quote(v) + ", " + ours)
	}
	switch {
	case n == ProtocolVersion:
		return nil
	case n > ProtocolVersion:
		return NewError(CodeServOldVer, MinorBadProto).WithDetail("client proto=" + v + ", " + ours)
	default:
		return NewError(CodeBadComm, MinorBadProto).WithDetail("client proto=" + v + ", " + ours)
	}
}
