package quorum

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/lmtriad/lmtriad/hostid"
	"github.com/lmtriad/lmtriad/wire"
)

// TCPConfig configures a TCPTransport.
type TCPConfig struct {
	Self  int          // this server's rank
	Addrs [Size]string // each member's SERVER host:port, in SERVER line order
	// ReadTimeout closes an inbound link that has been silent this long
	// (a few peer timeouts); 0 means 10 s.
	ReadTimeout time.Duration
	Log         logrus.FieldLogger
}

// TCPTransport is the real Transport: each member dials each peer's SERVER
// port, greets it as a triad member (`HELLO role=peer rank=R servers=...`)
// and writes its messages as PING/PONG lines; what a peer dials in is
// handed to Serve by the owner of the port (lmgrd), which reads the greeting
// and runs Serve in its own goroutine.
// A peer is admitted only with the same SERVER lines and only from an
// address of the SERVER host it claims; From is set from that identity.
type TCPTransport struct {
	cfg    TCPConfig
	recv   chan Message
	out    [Size]chan Message // per peer; nil for self
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // the dialers
	once   sync.Once

	recvMu sync.RWMutex // Serve sends under it; Close closes recv under it
	closed bool
}

// tcpQueue is how many messages may wait for a slow link; a full queue
// drops: an old heartbeat is worth nothing.
const tcpQueue = 64

// NewTCPTransport starts dialing the peers. Close stops it.
func NewTCPTransport(cfg TCPConfig) *TCPTransport {
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = 10 * time.Second
	}
	if cfg.Log == nil {
		l := logrus.New()
		l.SetOutput(discard{})
		cfg.Log = l
	}
	t := &TCPTransport{cfg: cfg, recv: make(chan Message, 256)}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	for r := range Size {
		if r == cfg.Self {
			continue
		}
		t.out[r] = make(chan Message, tcpQueue)
		t.wg.Add(1)
		go func() { defer t.wg.Done(); t.dial(r) }()
	}
	return t
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// Send queues m for its peer; it never blocks.
func (t *TCPTransport) Send(m Message) error {
	if t.ctx.Err() != nil {
		return ErrClosed
	}
	if m.To < 0 || m.To >= Size || t.out[m.To] == nil {
		return errors.New("quorum: no such peer")
	}
	select {
	case t.out[m.To] <- m:
	default:
	}
	return nil
}

// Recv delivers the peers' messages.
func (t *TCPTransport) Recv() <-chan Message { return t.recv }

// Close stops dialing and serving, waits for its dialers and closes the
// Recv channel.
func (t *TCPTransport) Close() error {
	t.once.Do(func() {
		t.cancel()
		t.recvMu.Lock() // Serve's senders leave on the cancel
		t.closed = true
		close(t.recv)
		t.recvMu.Unlock()
		t.wg.Wait()
	})
	return nil
}

// serverList is the identity every member must share.
func (t *TCPTransport) serverList() string { return strings.Join(t.cfg.Addrs[:], ",") }

// dial keeps a link to peer rank open and writes this server's messages to
// it, reconnecting with backoff. Messages queued while it is down are dropped.
func (t *TCPTransport) dial(rank int) {
	backoff := 100 * time.Millisecond
	for t.ctx.Err() == nil {
		conn, err := t.connect(rank)
		if err != nil {
			drain(t.out[rank])
			select {
			case <-t.ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		t.write(conn, t.out[rank])
		conn.Close()
	}
}

func (t *TCPTransport) connect(rank int) (net.Conn, error) {
	var d net.Dialer
	// Dial from our own SERVER host, so the peer can check who we are.
	if host, _, err := net.SplitHostPort(t.cfg.Addrs[t.cfg.Self]); err == nil {
		if ip := net.ParseIP(host); ip != nil {
			d.LocalAddr = &net.TCPAddr{IP: ip}
		}
	}
	hello := wire.Hello("role", "peer", "rank", strconv.Itoa(t.cfg.Self), "servers", t.serverList())
	c, _, err := wire.Dial(t.ctx, &d, t.cfg.Addrs[rank], hello, 2*time.Second)
	if err != nil {
		if !errors.Is(err, wire.ErrCantConnect) && t.ctx.Err() == nil {
			t.cfg.Log.WithError(err).Warnf("Peer %s refused this server", t.cfg.Addrs[rank])
		}
		return nil, err
	}
	return c.Raw(), nil
}

func (t *TCPTransport) write(conn net.Conn, out chan Message) {
	w := bufio.NewWriter(conn)
	for {
		select {
		case <-t.ctx.Done():
			return
		case m := <-out:
			_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
			w.WriteString(strings.Join(m.Fields(), " "))
			w.WriteByte('\n')
			if err := w.Flush(); err != nil {
				return
			}
		}
	}
}

func drain(ch chan Message) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// Serve runs an inbound link whose greeting (HELLO role=peer) the caller
// has read. It admits the peer only with the same SERVER lines, a valid
// rank, and from an address of that rank's SERVER host; it refuses others
// with an ERR naming what differs, and logs it. It returns when the link
// ends or the transport is closed, and closes c.
func (t *TCPTransport) Serve(c net.Conn, hello wire.Message) {
	defer c.Close()
	w := wire.NewWriter(c)
	refuse := func(minor int, detail string) {
		_ = c.SetWriteDeadline(time.Now().Add(time.Second))
		_ = w.WriteMessage(wire.NewError(wire.CodeNotLicAdmin, minor).WithDetail(detail).Message())
	}
	if theirs, ours := hello.Get("servers"), t.serverList(); theirs != ours {
		t.cfg.Log.WithField("ours", ours).WithField("theirs", theirs).Error("License File SERVER line order mismatch.")
		refuse(31, "SERVER lines differ: ours "+ours+", yours "+theirs)
		return
	}
	rank, err := hello.Int("rank")
	if err != nil || rank < 0 || rank >= Size || rank == t.cfg.Self {
		refuse(30, "bad peer rank")
		return
	}
	peer, _, _ := net.SplitHostPort(t.cfg.Addrs[rank])
	if ra, ok := c.RemoteAddr().(*net.TCPAddr); ok && !hostid.IsHost(ra.IP, peer) {
		t.cfg.Log.Warnf("Refused peer claiming to be %s from %s", peer, ra.IP)
		refuse(32, "not connecting from "+peer)
		return
	}
	_ = c.SetDeadline(time.Time{})
	if err := w.WriteMessage(wire.OK("proto", strconv.Itoa(wire.ProtocolVersion), "rank", strconv.Itoa(t.cfg.Self))); err != nil {
		return
	}
	stop := context.AfterFunc(t.ctx, func() { c.Close() })
	defer stop()
	r := wire.NewReader(c)
	for {
		_ = c.SetReadDeadline(time.Now().Add(t.cfg.ReadTimeout))
		line, err := r.ReadLine()
		if err != nil {
			return
		}
		m, err := MessageFromFields(strings.Fields(line))
		if err != nil {
			t.cfg.Log.WithError(err).Warnf("Bad message from peer %s", peer)
			continue
		}
		m.From = rank // who sent it is what the connection proved, not what it says
		if !t.deliver(m) {
			return
		}
	}
}

func (t *TCPTransport) deliver(m Message) bool {
	t.recvMu.RLock()
	defer t.recvMu.RUnlock()
	if t.closed {
		return false
	}
	select {
	case t.recv <- m:
		return true
	case <-t.ctx.Done():
		return false
	}
}
