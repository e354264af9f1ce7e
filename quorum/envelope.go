package quorum

import (
	"encoding/binary"
	"errors"
	"fmt"

	"go.etcd.io/raft/v3/raftpb"
)

// Envelope is what one member sends another: the raft messages for it, and
// what the sender knows of the triad (its SERVER-line and license digests,
// which peers it hears, its raft term, whether it is rebuilding a lost
// store). Every member sends one to each peer at least every
// HeartbeatTicks, so links are known even between two followers, which raft
// itself never makes talk.
type Envelope struct {
	From, To      int // ranks
	ServerDigest  string
	LicenseDigest string
	Links         [Size]bool // which ranks the sender hears (Links[From] is true)
	// Term is the sender's raft term when it sent the envelope. A member
	// that lost its store learns from it which terms it may have voted in
	// (docs/triad.md, "A member that lost its store").
	Term uint64
	// Rebuilding: the sender started with an empty store and has not yet
	// caught up from a leader (Status.Rebuilding).
	Rebuilding bool
	// WallClock is the sender's wall clock when it made the envelope, in
	// Unix milliseconds (Node.SetWallClock), or 0 when it does not say.
	WallClock int64
	Msgs      []raftpb.Message
}

// envelopeVersion is the first byte of every encoded envelope. A member that
// meets another version refuses the envelope and logs it, rather than
// misreading it. Version 2 added Term and Rebuilding, version 3 WallClock.
const envelopeVersion = 3

// flagRebuilding is the bit of the links byte that carries Rebuilding (bits
// 0..2 are the links).
const flagRebuilding = 1 << 7

// MaxEnvelope bounds one encoded envelope (a raft snapshot travels in one).
const MaxEnvelope = 256 << 20

// maxEnvelopeMessages bounds the messages of one envelope (raft sends a few
// per peer per Ready), so that a frame of empty messages cannot make the
// decoder allocate far more than it read.
const maxEnvelopeMessages = 4096

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("quorum: malformed envelope")

// Marshal encodes e: version, from, to, a byte of flags (bit r: Links[r];
// bit 7: Rebuilding), the term, the wall clock (a zig-zag varint), the two
// digests (length-prefixed), the number of messages, then each raft message
// in its protobuf encoding (length-prefixed). Lengths and the term are
// uvarints.
func (e *Envelope) Marshal() ([]byte, error) {
	size := 4 + 5*binary.MaxVarintLen64 + len(e.ServerDigest) + len(e.LicenseDigest)
	for i := range e.Msgs {
		size += binary.MaxVarintLen64 + e.Msgs[i].Size()
	}
	b := make([]byte, 0, size)
	var links byte
	for r, up := range e.Links {
		if up {
			links |= 1 << r
		}
	}
	if e.Rebuilding {
		links |= flagRebuilding
	}
	b = append(b, envelopeVersion, byte(e.From), byte(e.To), links)
	b = binary.AppendUvarint(b, e.Term)
	b = binary.AppendVarint(b, e.WallClock)
	b = binary.AppendUvarint(b, uint64(len(e.ServerDigest)))
	b = append(b, e.ServerDigest...)
	b = binary.AppendUvarint(b, uint64(len(e.LicenseDigest)))
	b = append(b, e.LicenseDigest...)
	b = binary.AppendUvarint(b, uint64(len(e.Msgs)))
	for i := range e.Msgs {
		m := &e.Msgs[i]
		b = binary.AppendUvarint(b, uint64(m.Size()))
		start := len(b)
		b = b[:start+m.Size()]
		if _, err := m.MarshalTo(b[start:]); err != nil {
			return nil, fmt.Errorf("quorum: encoding %v: %w", m.Type, err)
		}
	}
	return b, nil
}

// UnmarshalEnvelope decodes what Marshal encoded. It never panics; any
// problem is an error wrapping ErrMalformed.
func UnmarshalEnvelope(b []byte) (Envelope, error) {
	var e Envelope
	if len(b) < 4 {
		return e, fmt.Errorf("%w: %d bytes", ErrMalformed, len(b))
	}
	if b[0] != envelopeVersion {
		return e, fmt.Errorf("%w: envelope version %d (this member speaks version %d: are both running the same lmgrd release?)",
			ErrMalformed, b[0], envelopeVersion)
	}
	e.From, e.To = int(b[1]), int(b[2])
	if e.From >= Size || e.To >= Size || e.From == e.To {
		return e, fmt.Errorf("%w: from %d to %d", ErrMalformed, e.From, e.To)
	}
	if b[3]&^(flagRebuilding|(1<<Size-1)) != 0 {
		return e, fmt.Errorf("%w: flags %#x", ErrMalformed, b[3])
	}
	for r := range e.Links {
		e.Links[r] = b[3]&(1<<r) != 0
	}
	e.Rebuilding = b[3]&flagRebuilding != 0
	rest := b[4:]
	term, k := binary.Uvarint(rest)
	if k <= 0 {
		return e, fmt.Errorf("%w: term", ErrMalformed)
	}
	e.Term, rest = term, rest[k:]
	wall, k := binary.Varint(rest)
	if k <= 0 {
		return e, fmt.Errorf("%w: wall clock", ErrMalformed)
	}
	e.WallClock, rest = wall, rest[k:]
	var err error
	var s []byte
	if s, rest, err = chunk(rest); err != nil {
		return e, err
	}
	e.ServerDigest = string(s)
	if s, rest, err = chunk(rest); err != nil {
		return e, err
	}
	e.LicenseDigest = string(s)
	n, k := binary.Uvarint(rest)
	if k <= 0 || n > uint64(len(rest)) || n > maxEnvelopeMessages {
		return e, fmt.Errorf("%w: message count", ErrMalformed)
	}
	rest = rest[k:]
	e.Msgs = make([]raftpb.Message, n)
	for i := range e.Msgs {
		if s, rest, err = chunk(rest); err != nil {
			return e, err
		}
		if err := unmarshalMessage(&e.Msgs[i], s); err != nil {
			return e, fmt.Errorf("%w: message %d: %v", ErrMalformed, i, err)
		}
	}
	if len(rest) != 0 {
		return e, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(rest))
	}
	return e, nil
}

// unmarshalMessage is raftpb's generated decoder, which must not take the
// process down on input it was not written for.
func unmarshalMessage(m *raftpb.Message, b []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("raft message decoder: %v", r)
		}
	}()
	return m.Unmarshal(b)
}

func chunk(b []byte) ([]byte, []byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, nil, fmt.Errorf("%w: length", ErrMalformed)
	}
	return b[k : k+int(n)], b[k+int(n):], nil
}
