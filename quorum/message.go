package quorum

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MsgType tells heartbeats from their replies.
type MsgType uint8

const (
	// MsgHeartbeat is sent by every server to each peer every HeartbeatTicks (every
	// tick by a master that is not yet serving). With Master == From it is a claim:
	// "I am master, grant me your promise".
	MsgHeartbeat MsgType = iota + 1
	// MsgHeartbeatResp answers a claim. Granted tells whether the sender promised
	// to support the claimer; Echo/EchoIncarnation identify the claim answered.
	MsgHeartbeatResp
)

// String returns the wire verb: PING or PONG.
func (t MsgType) String() string {
	switch t {
	case MsgHeartbeat:
		return "PING"
	case MsgHeartbeatResp:
		return "PONG"
	}
	return "MsgType(" + strconv.Itoa(int(t)) + ")"
}

// Message is everything servers say to each other. All fields are scalars so a
// transport can write it as one line: strings.Join(m.Fields(), " ").
type Message struct {
	Type MsgType
	// From and To are ranks. A real transport must set From from the connection's
	// identity (which SERVER line it authenticated as), not trust the wire.
	From, To int
	// SentAt is the sender's tick counter when it sent the message.
	SentAt int64
	// Incarnation is the sender's Config.Incarnation.
	Incarnation uint64
	// Echo and EchoIncarnation (replies only) repeat SentAt and Incarnation of the
	// claim being answered; the claimer's lease runs from Echo.
	Echo            int64
	EchoIncarnation uint64
	// Granted (replies only): the sender promised to support the claimer.
	Granted bool
	// Master is the master the sender knows first-hand: itself if it claims the
	// role, else a live peer that claims it, else None.
	Master int
	// Serving: the sender is master and its lease is valid.
	Serving bool
	// Links is the sender's own view: Links[r] is true if it hears rank r (its own
	// entry is true). Receivers assemble the 3x3 link matrix from these.
	Links [Size]bool
	// Hosts are the sender's SERVER line hosts in its file order.
	Hosts         [Size]string
	ServerDigest  string
	LicenseDigest string
}

// IsClaim reports whether m is a heartbeat in which the sender claims the master role.
func (m Message) IsClaim() bool { return m.Type == MsgHeartbeat && m.Master == m.From }

// Fields returns m as wire tokens: the verb (PING or PONG) then key=value pairs,
// e.g. PING from=0 to=1 at=42 inc=7 master=0 serving=1 links=111 hosts=a,b,c sd=.. ld=..
// Empty digests are written as "-". MessageFromFields reverses it.
func (m Message) Fields() []string {
	f := []string{
		m.Type.String(),
		"from=" + strconv.Itoa(m.From),
		"to=" + strconv.Itoa(m.To),
		"at=" + strconv.FormatInt(m.SentAt, 10),
		"inc=" + strconv.FormatUint(m.Incarnation, 10),
	}
	if m.Type == MsgHeartbeatResp {
		f = append(f,
			"echo="+strconv.FormatInt(m.Echo, 10),
			"einc="+strconv.FormatUint(m.EchoIncarnation, 10),
			"grant="+boolStr(m.Granted))
	}
	links := make([]byte, Size)
	for i, l := range m.Links {
		links[i] = boolStr(l)[0]
	}
	f = append(f,
		"master="+strconv.Itoa(m.Master),
		"serving="+boolStr(m.Serving),
		"links="+string(links),
		"hosts="+strings.Join(m.Hosts[:], ","),
		"sd="+dash(m.ServerDigest),
		"ld="+dash(m.LicenseDigest),
	)
	return f
}

// ErrBadMessage is wrapped by MessageFromFields and Step errors.
var ErrBadMessage = errors.New("quorum: bad message")

// MessageFromFields parses tokens produced by Fields (for example strings.Fields
// of a wire line). Unknown keys are ignored so that newer peers can add fields.
func MessageFromFields(fields []string) (Message, error) {
	var m Message
	if len(fields) == 0 {
		return m, fmt.Errorf("%w: empty", ErrBadMessage)
	}
	switch fields[0] {
	case "PING":
		m.Type = MsgHeartbeat
	case "PONG":
		m.Type = MsgHeartbeatResp
	default:
		return m, fmt.Errorf("%w: unknown verb %q", ErrBadMessage, fields[0])
	}
	m.Master = None
	seen := map[string]bool{}
	for _, kv := range fields[1:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return m, fmt.Errorf("%w: token %q is not key=value", ErrBadMessage, kv)
		}
		if seen[k] {
			return m, fmt.Errorf("%w: key %q repeated", ErrBadMessage, k)
		}
		seen[k] = true
		var err error
		switch k {
		case "from":
			m.From, err = strconv.Atoi(v)
		case "to":
			m.To, err = strconv.Atoi(v)
		case "at":
			m.SentAt, err = strconv.ParseInt(v, 10, 64)
		case "inc":
			m.Incarnation, err = strconv.ParseUint(v, 10, 64)
		case "echo":
			m.Echo, err = strconv.ParseInt(v, 10, 64)
		case "einc":
			m.EchoIncarnation, err = strconv.ParseUint(v, 10, 64)
		case "grant":
			m.Granted, err = parseBool(v)
		case "master":
			m.Master, err = strconv.Atoi(v)
		case "serving":
			m.Serving, err = parseBool(v)
		case "links":
			if len(v) != Size {
				err = errors.New("want 3 digits")
				break
			}
			for i := range Size {
				if m.Links[i], err = parseBool(v[i : i+1]); err != nil {
					break
				}
			}
		case "hosts":
			hs := strings.Split(v, ",")
			if len(hs) != Size {
				err = errors.New("want 3 hosts")
				break
			}
			copy(m.Hosts[:], hs)
		case "sd":
			m.ServerDigest = undash(v)
		case "ld":
			m.LicenseDigest = undash(v)
		}
		if err != nil {
			return m, fmt.Errorf("%w: %s=%q: %v", ErrBadMessage, k, v, err)
		}
	}
	for _, k := range []string{"from", "to", "at"} {
		if !seen[k] {
			return m, fmt.Errorf("%w: missing %s=", ErrBadMessage, k)
		}
	}
	return m, nil
}

func boolStr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func parseBool(s string) (bool, error) {
	switch s {
	case "1":
		return true, nil
	case "0":
		return false, nil
	}
	return false, errors.New("want 0 or 1")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func undash(s string) string {
	if s == "-" {
		return ""
	}
	return s
}
