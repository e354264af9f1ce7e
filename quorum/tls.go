package quorum

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/lmtriad/lmtriad/clusterkey"
	"github.com/lmtriad/lmtriad/flexlog"
	"github.com/lmtriad/lmtriad/hostid"
	"github.com/lmtriad/lmtriad/wire"
)

// TLSConfig configures the transport between members over their SERVER ports.
type TLSConfig struct {
	Self  int
	Hosts [Size]string // SERVER hosts: a peer must connect from an address of the host it claims
	Addrs [Size]string // host:port of each member's SERVER port
	Key   *clusterkey.Key
	Log   logrus.FieldLogger
	// HandshakeTimeout bounds the greeting and TLS handshake of a link.
	HandshakeTimeout time.Duration
	// ReadTimeout closes an inbound link silent this long (peers send
	// keepalives every HeartbeatTicks).
	ReadTimeout time.Duration
	// LocalIP, when set, is the address outbound links are dialled from (a
	// triad on 127.0.0.1-3 tells members apart by address).
	LocalIP net.IP
}

// TLSTransport carries envelopes between members over TLS 1.3 with mutual
// authentication by the cluster key (package clusterkey). Each member dials
// each peer for the envelopes it sends; inbound links only carry envelopes
// in. A connection starts with a one-line greeting, so that lmgrd can route
// it from its SERVER port:
//
//	HELLO proto=N role=peer rank=R
//
// then the TLS handshake, then frames: a 4-byte big-endian length and an
// encoded Envelope. A peer that fails the handshake, claims another rank or
// sends a malformed frame is cut off and logged, with its address and the
// reason; nothing of the triad's state is ever written to it.
type TLSTransport struct {
	cfg    TLSConfig
	recv   chan Envelope
	out    [Size]chan Envelope
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu          sync.Mutex
	inbound     map[net.Conn]struct{}
	refusal     map[string]*flexlog.Throttle // refusal log lines, by address and reason
	lastRefusal [Size]refusal                // by the rank refused, or claimed
}

type refusal struct {
	reason string
	at     time.Time
}

// LastRefusal returns the reason of the last refusal of a link with rank
// (outbound: the peer at that rank's address; inbound: a connection that
// claimed that rank) and when it happened, or "" and the zero time when
// there was none. The reason is what the log line "Refused triad peer ADDR:
// REASON" says, e.g. "does not hold this triad's cluster key (outbound)";
// the glue shows it as the link's state ("authentication refused: ...").
func (t *TLSTransport) LastRefusal(rank int) (reason string, at time.Time) {
	if rank < 0 || rank >= Size {
		return "", time.Time{}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lastRefusal[rank].reason, t.lastRefusal[rank].at
}

// refusalLogEvery is the rate limit of refusal log lines per address and reason.
const refusalLogEvery = 10 * time.Second

// NewTLSTransport starts the outbound links.
func NewTLSTransport(cfg TLSConfig) *TLSTransport {
	if cfg.HandshakeTimeout == 0 {
		cfg.HandshakeTimeout = 2 * time.Second
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = 10 * time.Second
	}
	t := &TLSTransport{cfg: cfg, recv: make(chan Envelope, 1024), inbound: map[net.Conn]struct{}{},
		refusal: map[string]*flexlog.Throttle{}}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	for r := range Size {
		if r == cfg.Self {
			continue
		}
		t.out[r] = make(chan Envelope, 1024)
		t.wg.Add(1)
		go func() { defer t.wg.Done(); t.feed(r) }()
	}
	return t
}

// Send queues e; when the link is congested or down, e is dropped.
func (t *TLSTransport) Send(e Envelope) {
	if e.To < 0 || e.To >= Size || t.out[e.To] == nil {
		return
	}
	select {
	case t.out[e.To] <- e:
	default:
	}
}

// Recv delivers the envelopes of authenticated peers.
func (t *TLSTransport) Recv() <-chan Envelope { return t.recv }

// Close stops every link and waits for them.
func (t *TLSTransport) Close() error {
	t.cancel()
	t.mu.Lock()
	for c := range t.inbound {
		c.Close()
	}
	t.mu.Unlock()
	t.wg.Wait()
	return nil
}

// feed keeps the outbound link to peer r, reconnecting with backoff.
func (t *TLSTransport) feed(r int) {
	backoff := 50 * time.Millisecond
	for t.ctx.Err() == nil {
		err := t.stream(r)
		if t.ctx.Err() != nil {
			return
		}
		var keyErr bool
		if errors.Is(err, clusterkey.ErrPeerKey) {
			keyErr = true
		}
		if keyErr {
			t.refused(r, t.cfg.Addrs[r], "does not hold this triad's cluster key (outbound)")
		} else if err != nil {
			t.cfg.Log.WithError(err).Debugf("Link to %s down", t.cfg.Hosts[r])
		}
		// Envelopes queued while the link is down are stale: raft resends.
		for len(t.out[r]) > 0 {
			<-t.out[r]
		}
		select {
		case <-t.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

func (t *TLSTransport) stream(r int) error {
	d := net.Dialer{Timeout: t.cfg.HandshakeTimeout}
	if t.cfg.LocalIP != nil {
		d.LocalAddr = &net.TCPAddr{IP: t.cfg.LocalIP}
	}
	raw, err := d.DialContext(t.ctx, "tcp", t.cfg.Addrs[r])
	if err != nil {
		return err
	}
	stop := context.AfterFunc(t.ctx, func() { raw.Close() })
	defer stop()
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(t.cfg.HandshakeTimeout))
	hello := wire.Hello("role", "peer", "rank", strconv.Itoa(t.cfg.Self))
	if err := wire.NewWriter(raw).WriteMessage(hello); err != nil {
		return err
	}
	c := tls.Client(raw, t.cfg.Key.ClientConfig())
	if err := c.HandshakeContext(t.ctx); err != nil {
		return fmt.Errorf("TLS handshake with %s: %w", t.cfg.Addrs[r], err)
	}
	_ = raw.SetDeadline(time.Time{})
	t.cfg.Log.Debugf("Link to %s up", t.cfg.Hosts[r])
	w := bufio.NewWriterSize(c, 64<<10)
	var head [4]byte
	for {
		var e Envelope
		select {
		case <-t.ctx.Done():
			return nil
		case e = <-t.out[r]:
		}
		for {
			b, err := e.Marshal()
			if err != nil {
				return err
			}
			binary.BigEndian.PutUint32(head[:], uint32(len(b)))
			w.Write(head[:])
			w.Write(b)
			if len(t.out[r]) == 0 {
				break
			}
			e = <-t.out[r]
		}
		_ = c.SetWriteDeadline(time.Now().Add(t.cfg.ReadTimeout))
		if err := w.Flush(); err != nil {
			return err
		}
	}
}

// Serve runs an inbound link whose greeting lmgrd has read (role=peer). It
// returns when the link ends.
func (t *TLSTransport) Serve(raw net.Conn, hello wire.Message) {
	defer raw.Close()
	addr := raw.RemoteAddr().String()
	from, err := hello.Int("rank")
	if err != nil || from < 0 || from >= Size {
		t.refused(None, addr, "bad rank "+strconv.Quote(hello.Get("rank")))
		return
	}
	if from == t.cfg.Self {
		t.refused(from, addr, fmt.Sprintf("claims to be SERVER line %d, which is this server's own (do the SERVER lines differ?)", from+1))
		return
	}
	if ta, ok := raw.RemoteAddr().(*net.TCPAddr); ok && !hostid.IsHost(ta.IP, t.cfg.Hosts[from]) {
		t.refused(from, addr, "claims to be "+t.cfg.Hosts[from]+" but connects from another address")
		return
	}
	t.mu.Lock()
	if t.ctx.Err() != nil {
		t.mu.Unlock()
		return
	}
	t.inbound[raw] = struct{}{}
	t.wg.Add(1)
	t.mu.Unlock()
	defer t.wg.Done()
	defer func() {
		t.mu.Lock()
		delete(t.inbound, raw)
		t.mu.Unlock()
	}()
	_ = raw.SetDeadline(time.Now().Add(t.cfg.HandshakeTimeout))
	c := tls.Server(raw, t.cfg.Key.ServerConfig())
	if err := c.HandshakeContext(t.ctx); err != nil {
		reason := "TLS handshake failed: " + err.Error()
		switch {
		case errors.Is(err, clusterkey.ErrPeerKey):
			reason = "does not hold this triad's cluster key"
		case strings.Contains(err.Error(), "bad certificate"):
			// Both sides check: a peer with another key refuses ours first.
			reason = "does not hold this triad's cluster key (it refused this server's certificate)"
		}
		t.refused(from, addr, "claiming to be "+t.cfg.Hosts[from]+": "+reason)
		return
	}
	_ = raw.SetDeadline(time.Time{})
	rd := bufio.NewReaderSize(c, 64<<10)
	var head [4]byte
	for {
		_ = raw.SetReadDeadline(time.Now().Add(t.cfg.ReadTimeout))
		if _, err := io.ReadFull(rd, head[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(head[:])
		if n > MaxEnvelope {
			t.refused(from, addr, fmt.Sprintf("%s sent a frame of %d bytes", t.cfg.Hosts[from], n))
			return
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(rd, b); err != nil {
			return
		}
		e, err := UnmarshalEnvelope(b)
		if err == nil && (e.From != from || e.To != t.cfg.Self) {
			err = fmt.Errorf("envelope from %d to %d on the link of %d", e.From, e.To, from)
		}
		if err != nil {
			t.refused(from, addr, t.cfg.Hosts[from]+": "+err.Error())
			return
		}
		select {
		case t.recv <- e:
		case <-t.ctx.Done():
			return
		}
	}
}

// refused logs a refused peer, at most once per refusalLogEvery for one
// address and reason, and records it as rank's last refusal (None: a rank
// that could not be read).
func (t *TLSTransport) refused(rank int, addr, reason string) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	key := host + "\x00" + reason
	t.mu.Lock()
	if rank >= 0 && rank < Size {
		t.lastRefusal[rank] = refusal{reason: reason, at: time.Now()}
	}
	th := t.refusal[key]
	if th == nil {
		if len(t.refusal) > 1024 { // bound the table under a flood of addresses
			clear(t.refusal)
		}
		th = &flexlog.Throttle{}
		t.refusal[key] = th
	}
	t.mu.Unlock()
	ok, suppressed := th.Allow(time.Now(), refusalLogEvery)
	if !ok {
		return
	}
	msg := "Refused triad peer " + addr + ": " + reason
	if suppressed > 0 {
		msg += fmt.Sprintf(" (%d more refusals not logged)", suppressed)
	}
	t.cfg.Log.Warn(msg)
}
