// Package vendorctl is the contract between lmgrd and the vendor daemons it
// supervises, written once for both programs: the vendor daemon's argv, its
// exit codes, and the typed messages they exchange over the handoff channel
// (package handoff).
//
// lmgrd → vendord:
//
//	Client     a client's connection (the socket travels with it) and the greeting lmgrd read from it
//	Admin      an administrator's connection that proved a password to lmgrd: the greeting and the level proved
//	Role       serve or not: the lease deadline, or the error and master clients get
//	Table      the license table to serve from (a triad member becoming master)
//	Committed  the triad committed this daemon's changes up to Seq
//	Rejected   the triad will not commit this daemon's pending changes: take the table again
//	Reread     lmreread
//	Shutdown   lmdown, or lmgrd stopping
//
// vendord → lmgrd:
//
//	Propose    a batch of license-table changes for the triad's log
//
// A message is one handoff packet: a kind byte with the "more" bit set on
// every packet but the last of a message too large for one packet, then the
// body (the kinds with fields carry JSON, the others raw bytes).
package vendorctl

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"

	"github.com/lmtriad/lmtriad/handoff"
)

// Exit codes of the vendor daemon.
const (
	ExitOK = 0
	// ExitError is any failure to start or run.
	ExitError = 1
	// ExitNoFeatures is FlexLM's status for a vendor daemon with nothing to
	// serve: restarting it would fail again, so lmgrd waits for a reread.
	ExitNoFeatures = 36
)

// Kind tells messages apart.
type Kind byte

const (
	KindClient Kind = iota + 1
	KindRole
	KindTable
	KindCommitted
	KindRejected
	KindReread
	KindShutdown
	KindPropose
	KindAdmin
)

func (k Kind) String() string {
	switch k {
	case KindClient:
		return "Client"
	case KindRole:
		return "Role"
	case KindTable:
		return "Table"
	case KindCommitted:
		return "Committed"
	case KindRejected:
		return "Rejected"
	case KindReread:
		return "Reread"
	case KindShutdown:
		return "Shutdown"
	case KindPropose:
		return "Propose"
	case KindAdmin:
		return "Admin"
	}
	return fmt.Sprintf("Kind(%d)", byte(k))
}

const moreBit = 0x80

// Role says whether the vendor daemon grants licenses.
type Role struct {
	Serving bool `json:"serving"`
	// Lease is the CLOCK_BOOTTIME instant (ns) after which a serving daemon
	// stops granting even if lmgrd says nothing more; 0 for a lone server.
	Lease int64 `json:"lease,omitempty"`
	// Code is the FlexLM error clients get while not serving (-20, -23, -96).
	Code int `json:"code,omitempty"`
	// Master is port@host of the master, for clients to go to.
	Master string `json:"master,omitempty"`
	// Gen is the table generation the daemon serves from (triad only): the
	// daemon serves only once it holds that Table.
	Gen uint64 `json:"gen,omitempty"`
}

// Table hands the vendor daemon the committed license table (an encoded
// pool snapshot, package table) as generation Gen.
type Table struct {
	Gen      uint64
	Snapshot []byte
}

// Committed tells the daemon that its changes up to Seq are held by a quorum.
type Committed struct {
	Gen uint64 `json:"gen"`
	Seq uint64 `json:"seq"`
}

// Rejected tells the daemon that its changes of generation Gen will not be
// committed as it made them: fail the clients waiting and wait for a Table.
type Rejected struct {
	Gen    uint64 `json:"gen"`
	Reason string `json:"reason"`
}

// Propose carries a batch of changes of generation Gen (an encoded
// table.Entry) up to Seq.
type Propose struct {
	Gen   uint64
	Seq   uint64
	Entry []byte
}

// Message is one decoded message; exactly one field is set, as Kind says.
type Message struct {
	Kind Kind
	// Greeting and Conn for KindClient and KindAdmin.
	Greeting string
	Conn     net.Conn
	// Password for KindAdmin: the level ("full", "restricted") of the
	// administrator password the connection proved to lmgrd. A client
	// cannot claim it: only lmgrd sends it, on this channel.
	Password  string
	Role      Role
	Table     Table
	Committed Committed
	Rejected  Rejected
	Propose   Propose
}

// MaxMessage bounds a reassembled message (a Table of a very large pool).
const MaxMessage = 1 << 30

// Channel sends and receives typed messages over a handoff channel.
type Channel struct {
	ch     *handoff.Channel
	sendMu sync.Mutex // the packets of one message go out together
	part   []byte     // receive: a message being reassembled
}

// New wraps a handoff channel.
func New(ch *handoff.Channel) *Channel { return &Channel{ch: ch} }

// Close closes the channel; the peer's Recv then reports ErrPeerClosed.
func (c *Channel) Close() error { return c.ch.Close() }

// ErrPeerClosed is Recv's answer once the other end is gone: for vendord,
// lmgrd has died. Any other error is about one message only.
var ErrPeerClosed = handoff.ErrPeerClosed

// SendClient hands a client's connection to the daemon with its greeting.
func (c *Channel) SendClient(greeting string, conn syscall.Conn) error {
	return c.send(KindClient, []byte(greeting), conn)
}

// SendAdmin hands an administrator's connection to the daemon with its
// greeting and the level of the password it proved to lmgrd.
func (c *Channel) SendAdmin(greeting, password string, conn syscall.Conn) error {
	b, err := json.Marshal(adminBody{Greeting: greeting, Password: password})
	if err != nil {
		return fmt.Errorf("vendorctl: %v: %w", KindAdmin, err)
	}
	return c.send(KindAdmin, b, conn)
}

type adminBody struct {
	Greeting string `json:"greeting"`
	Password string `json:"password"`
}

func (c *Channel) SendRole(r Role) error { return c.sendJSON(KindRole, r) }
func (c *Channel) SendCommitted(m Committed) error {
	return c.sendJSON(KindCommitted, m)
}
func (c *Channel) SendRejected(m Rejected) error { return c.sendJSON(KindRejected, m) }
func (c *Channel) SendReread() error             { return c.send(KindReread, nil, nil) }
func (c *Channel) SendShutdown() error           { return c.send(KindShutdown, nil, nil) }

// SendTable sends a table; the generation goes first, as 8 bytes.
func (c *Channel) SendTable(t Table) error {
	body := make([]byte, 8, 8+len(t.Snapshot))
	putUint64(body, t.Gen)
	return c.send(KindTable, append(body, t.Snapshot...), nil)
}

// SendPropose sends a batch of changes: generation and seq (8 bytes each), then the entry.
func (c *Channel) SendPropose(p Propose) error {
	body := make([]byte, 16, 16+len(p.Entry))
	putUint64(body, p.Gen)
	putUint64(body[8:], p.Seq)
	return c.send(KindPropose, append(body, p.Entry...), nil)
}

func (c *Channel) sendJSON(k Kind, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("vendorctl: %v: %w", k, err)
	}
	return c.send(k, b, nil)
}

// send splits body into packets of at most handoff.MaxMessage.
func (c *Channel) send(k Kind, body []byte, conn syscall.Conn) error {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	const room = handoff.MaxMessage - 1
	for {
		n := min(len(body), room)
		head := byte(k)
		if n < len(body) {
			head |= moreBit
		}
		pkt := make([]byte, 0, 1+n)
		pkt = append(append(pkt, head), body[:n]...)
		var withConn syscall.Conn
		if head&moreBit == 0 {
			withConn = conn // the socket travels with the last packet
		}
		if err := c.ch.Send(pkt, withConn); err != nil {
			return err
		}
		body = body[n:]
		if head&moreBit == 0 {
			return nil
		}
	}
}

// ErrMalformed is wrapped by Recv's errors about one bad message.
var ErrMalformed = errors.New("vendorctl: malformed message")

// Recv waits for the next whole message. An error other than ErrPeerClosed
// concerns one message (a packet whose socket could not be received, say,
// at the descriptor limit): the channel is still good.
func (c *Channel) Recv() (Message, error) {
	for {
		pkt, conn, err := c.ch.Recv()
		if err != nil {
			c.part = nil
			return Message{}, err
		}
		if len(pkt) == 0 {
			closeConn(conn)
			return Message{}, fmt.Errorf("%w: empty packet", ErrMalformed)
		}
		if pkt[0]&moreBit != 0 {
			closeConn(conn)
			if len(c.part) == 0 {
				c.part = append(c.part, pkt[0]&^moreBit)
			} else if c.part[0] != pkt[0]&^moreBit {
				c.part = nil
				return Message{}, fmt.Errorf("%w: packets of two messages interleaved", ErrMalformed)
			}
			if len(c.part)+len(pkt) > MaxMessage {
				c.part = nil
				return Message{}, fmt.Errorf("%w: message over %d bytes", ErrMalformed, MaxMessage)
			}
			c.part = append(c.part, pkt[1:]...)
			continue
		}
		k := Kind(pkt[0])
		body := pkt[1:]
		if len(c.part) > 0 {
			if Kind(c.part[0]) != k {
				c.part = nil
				closeConn(conn)
				return Message{}, fmt.Errorf("%w: packets of two messages interleaved", ErrMalformed)
			}
			body = append(c.part[1:], body...)
			c.part = nil
		}
		m, err := decode(k, body, conn)
		if err != nil {
			closeConn(conn)
		}
		return m, err
	}
}

func closeConn(c net.Conn) {
	if c != nil {
		c.Close()
	}
}

func decode(k Kind, body []byte, conn net.Conn) (Message, error) {
	m := Message{Kind: k}
	var err error
	switch k {
	case KindClient:
		if conn == nil {
			return m, fmt.Errorf("%w: client greeting without its connection", ErrMalformed)
		}
		m.Greeting, m.Conn = string(body), conn
		return m, nil
	case KindAdmin:
		if conn == nil {
			return m, fmt.Errorf("%w: admin greeting without its connection", ErrMalformed)
		}
		var a adminBody
		if err := json.Unmarshal(body, &a); err != nil {
			conn.Close()
			return m, fmt.Errorf("%w: %v: %v", ErrMalformed, k, err)
		}
		m.Greeting, m.Password, m.Conn = a.Greeting, a.Password, conn
		return m, nil
	case KindRole:
		err = json.Unmarshal(body, &m.Role)
	case KindCommitted:
		err = json.Unmarshal(body, &m.Committed)
	case KindRejected:
		err = json.Unmarshal(body, &m.Rejected)
	case KindReread, KindShutdown:
	case KindTable:
		if len(body) < 8 {
			return m, fmt.Errorf("%w: short table", ErrMalformed)
		}
		m.Table = Table{Gen: getUint64(body), Snapshot: body[8:]}
	case KindPropose:
		if len(body) < 16 {
			return m, fmt.Errorf("%w: short proposal", ErrMalformed)
		}
		m.Propose = Propose{Gen: getUint64(body), Seq: getUint64(body[8:]), Entry: body[16:]}
	default:
		return m, fmt.Errorf("%w: unknown kind %d", ErrMalformed, byte(k))
	}
	if conn != nil {
		return m, fmt.Errorf("%w: a socket came with a %v message", ErrMalformed, k)
	}
	if err != nil {
		return m, fmt.Errorf("%w: %v: %v", ErrMalformed, k, err)
	}
	return m, nil
}

func putUint64(b []byte, v uint64) { binary.BigEndian.PutUint64(b, v) }
func getUint64(b []byte) uint64    { return binary.BigEndian.Uint64(b) }
