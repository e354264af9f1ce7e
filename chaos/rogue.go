package chaos

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/lmtriad/lmtriad/clusterkey"
	"github.com/lmtriad/lmtriad/quorum"
	"github.com/lmtriad/lmtriad/wire"
)

// The rogue peer ("lmchaos rogue", run by the nemesis inside a member's
// namespace, so that its connections come from that member's address) has
// no cluster key. It keeps trying, against each other member's SERVER port,
// what a peer or the old replication protocol would send:
//
//   - peer-raw: HELLO proto=1 role=peer rank=R, then a frame (4-byte length,
//     encoded quorum.Envelope) in clear: a raft MsgVote at a huge term and a
//     MsgApp carrying a fake entry;
//   - peer-tls: the same greeting, then TLS 1.3 with a certificate of a key
//     of its own (it accepts any server certificate, so that the member has
//     to judge its one), then the same frame inside TLS;
//   - fetch: the old HELLO role=fetch vendor=demo, a FETCH, and a SNAP whose
//     pool has a raised count;
//   - replica: the old HELLO role=replica vendor=demo, then SNAP, POOL,
//     HOLDER and DELTA lines raising the count.
//
// Each attempt is one connection; what came back is recorded (RogueAttempt,
// JSON lines on stdout) and judged by check (d): nothing of the triad may
// come back. A member never writes on an inbound peer link, and a
// vendor=demo greeting of an old role is served as any client's: OK or ERR
// lines, never a holder.
const (
	TryPeerRaw = "peer-raw"
	TryPeerTLS = "peer-tls"
	TryFetch   = "fetch"
	TryReplica = "replica"
)

// RogueTries is every kind of attempt, in the order they are reported.
var RogueTries = []string{TryPeerRaw, TryPeerTLS, TryFetch, TryReplica}

// RogueReadMax bounds what one attempt reads back.
const RogueReadMax = 64 << 10

// RogueTerm is the raft term of the rogue's vote and append: far above any
// term a chaos run reaches.
const RogueTerm = 1 << 40

// RefusalLogEvery mirrors quorum's rate limit of "Refused triad peer" lines
// (one per address and reason per 10 s, quorum/tls.go). The nemesis spaces
// or lengthens rogue episodes from one address so that each gets a line.
const RefusalLogEvery = 10 * time.Second

// RogueTarget is a member the rogue attacks.
type RogueTarget struct {
	Rank int
	Addr string // host:port of its SERVER port
}

// RogueOptions configure one rogue process.
type RogueOptions struct {
	Rank    int           // the rank it claims: that of the member whose address it has
	Targets []RogueTarget // the other members
	Servers []string      // the three SERVER lines as host:port (the old greetings carry them)
	Vendor  string        // vendor of the old greetings (demo)
	Feature string        // feature whose count the SNAP/DELTA lines raise
	Count   int           // the raised count
	For     time.Duration // how long it keeps trying at most
	Every   time.Duration // pause between two attempts of one kind at one target
	// MaxAttempts bounds the attempts of one kind at one target.
	MaxAttempts int
	// Timeout bounds one attempt (dial, send, read back).
	Timeout time.Duration
}

// RogueAttempt is one connection of the rogue and what came back.
type RogueAttempt struct {
	T      int64  `json:"t"` // Now() at the attempt's start
	Target string `json:"target"`
	Try    string `json:"try"`
	// Handshake: peer-tls got through the client side of the TLS handshake
	// (in TLS 1.3 the server judges the client's certificate after that, so
	// this alone proves nothing; data read back would).
	Handshake bool   `json:"handshake,omitempty"`
	Sent      int    `json:"sent"`          // bytes written
	Got       []byte `json:"got,omitempty"` // what came back, up to RogueReadMax
	Err       string `json:"err,omitempty"` // how the attempt ended, if not by EOF
}

// RunRogue runs the attempts until ctx ends, For has passed, or every
// (target, kind) has made MaxAttempts, and writes each as a JSON line to w.
func RunRogue(ctx context.Context, o RogueOptions, w io.Writer) error {
	if len(o.Targets) == 0 {
		return errors.New("rogue: no targets")
	}
	if o.Every <= 0 {
		o.Every = 100 * time.Millisecond
	}
	if o.Timeout <= 0 {
		o.Timeout = 500 * time.Millisecond
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 100
	}
	if o.For > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.For)
		defer cancel()
	}
	// A key of its own: not the triad's, so no member may accept it.
	secret := make([]byte, clusterkey.SecretSize)
	if _, err := rand.Read(secret); err != nil {
		return err
	}
	key, err := clusterkey.FromBytes(secret)
	if err != nil {
		return err
	}
	tlsConf := key.ClientConfig()
	tlsConf.VerifyConnection = nil // accept any server: let the member judge our certificate

	var mu sync.Mutex
	enc := json.NewEncoder(w)
	var encErr error
	var wg sync.WaitGroup
	for _, tg := range o.Targets {
		frame, err := RogueFrame(o.Rank, tg.Rank)
		if err != nil {
			return err
		}
		for _, try := range RogueTries {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; n < o.MaxAttempts && ctx.Err() == nil; n++ {
					a := rogueAttempt(ctx, o, tg, try, frame, tlsConf)
					mu.Lock()
					if err := enc.Encode(a); err != nil && encErr == nil {
						encErr = err
					}
					mu.Unlock()
					if !sleep(ctx, o.Every) {
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	return encErr
}

// RogueFrame is the rogue's frame for peer to: a length-prefixed encoded
// envelope whose raft messages are a vote request and an append of a fake
// entry, both at RogueTerm.
func RogueFrame(from, to int) ([]byte, error) {
	id := func(rank int) uint64 { return uint64(rank) + 1 } // quorum's raft IDs
	env := quorum.Envelope{
		From: from, To: to,
		ServerDigest: "rogue", LicenseDigest: "rogue",
		Links: [quorum.Size]bool{true, true, true},
		Msgs: []raftpb.Message{
			{Type: raftpb.MsgVote, From: id(from), To: id(to), Term: RogueTerm, LogTerm: RogueTerm, Index: RogueTerm},
			{Type: raftpb.MsgApp, From: id(from), To: id(to), Term: RogueTerm, LogTerm: RogueTerm, Index: RogueTerm,
				Commit: RogueTerm + 1, Entries: []raftpb.Entry{{Term: RogueTerm, Index: RogueTerm + 1,
					Type: raftpb.EntryNormal, Data: []byte(`{"rogue":"chaos","count":100000}`)}}},
		},
	}
	b, err := env.Marshal()
	if err != nil {
		return nil, err
	}
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...), nil
}

func rogueAttempt(ctx context.Context, o RogueOptions, tg RogueTarget, try string, frame []byte, tlsConf *tls.Config) RogueAttempt {
	a := RogueAttempt{T: Now(), Target: tg.Addr, Try: try}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", tg.Addr)
	if err != nil {
		a.Err = "dial: " + err.Error()
		return a
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	deadline, _ := ctx.Deadline()
	_ = c.SetDeadline(deadline)

	send := func(w io.Writer, b []byte) bool {
		n, err := w.Write(b)
		a.Sent += n
		if err != nil {
			a.Err = "write: " + err.Error()
			return false
		}
		return true
	}
	lines := func(ms ...wire.Message) []byte {
		var b []byte
		for _, m := range ms {
			b = append(m.AppendTo(b), '\n')
		}
		return b
	}
	servers := strings.Join(o.Servers, ",")
	rank := strconv.Itoa(o.Rank)
	var r io.Reader = c
	switch try {
	case TryPeerRaw:
		if !send(c, append(lines(wire.Hello("role", "peer", "rank", rank)), frame...)) {
			return a
		}
	case TryPeerTLS:
		if !send(c, lines(wire.Hello("role", "peer", "rank", rank))) {
			return a
		}
		tc := tls.Client(c, tlsConf)
		if err := tc.HandshakeContext(ctx); err != nil {
			a.Err = "tls: " + err.Error()
			return a
		}
		a.Handshake = true
		if !send(tc, frame) {
			return a
		}
		r = tc
	case TryFetch:
		pool := fmt.Sprintf(`{"Feature":%q,"Count":%d}`, o.Feature, o.Count)
		if !send(c, lines(
			wire.Hello("role", "fetch", "vendor", o.Vendor, "rank", rank, "servers", servers),
			wire.New("FETCH"),
			wire.New("SNAP", "epoch", "999999", "seq", "999999", "next_handle", "1", "records", "1"),
			wire.New("POOL", "json", pool),
		)) {
			return a
		}
	case TryReplica:
		pool := fmt.Sprintf(`{"Feature":%q,"Count":%d}`, o.Feature, o.Count)
		holder := fmt.Sprintf(`{"Feature":%q,"User":"rogue","Host":"rogue","Count":%d,"Handle":1}`, o.Feature, o.Count)
		delta := fmt.Sprintf(`{"Seq":1000000,"Kind":1,"Feature":%q,"Count":%d}`, o.Feature, o.Count)
		if !send(c, lines(
			wire.Hello("role", "replica", "vendor", o.Vendor, "rank", rank, "servers", servers, "epoch", "999999"),
			wire.New("SNAP", "epoch", "999999", "seq", "999999", "next_handle", "1", "records", "2"),
			wire.New("POOL", "json", pool),
			wire.New("HOLDER", "json", holder),
			wire.New("DELTA", "epoch", "999999", "json", delta),
		)) {
			return a
		}
	}
	got, err := io.ReadAll(io.LimitReader(r, RogueReadMax))
	a.Got = got
	if err != nil {
		a.Err = "read: " + err.Error()
	}
	return a
}

// workloadUser matches the workload's user names (u000, u001, ...).
var workloadUser = regexp.MustCompile(`\bu[0-9]{3}\b`)

// JudgeAttempt says what is wrong with what one attempt got back ("" if
// nothing): peer data, holder records or a workload user name.
func JudgeAttempt(a RogueAttempt) string {
	if u := workloadUser.Find(a.Got); u != nil {
		return fmt.Sprintf("%s to %s read the holder name %q", a.Try, a.Target, u)
	}
	if len(a.Got) == 0 {
		return ""
	}
	switch a.Try {
	case TryPeerTLS:
		// Through TLS: a member never writes on an inbound peer link.
		return fmt.Sprintf("%s to %s read %d bytes through TLS: %s", a.Try, a.Target, len(a.Got), quoteSome(a.Got))
	case TryPeerRaw:
		if onlyTLSAlerts(a.Got) || onlyReplyLines(a.Got) {
			return ""
		}
		return fmt.Sprintf("%s to %s read %d bytes of peer data: %s", a.Try, a.Target, len(a.Got), quoteSome(a.Got))
	default:
		if onlyReplyLines(a.Got) {
			return ""
		}
		return fmt.Sprintf("%s to %s read more than a client's OK/ERR: %s", a.Try, a.Target, quoteSome(a.Got))
	}
}

// onlyTLSAlerts: b is whole TLS alert records (type 21, 2-byte body).
func onlyTLSAlerts(b []byte) bool {
	for len(b) > 0 {
		if len(b) < 5 || b[0] != 21 {
			return false
		}
		n := int(binary.BigEndian.Uint16(b[3:5]))
		if n != 2 || len(b) < 5+n {
			return false
		}
		b = b[5+n:]
	}
	return true
}

// onlyReplyLines: every line of b is an OK or ERR reply (what any client
// may get), with no records announced.
func onlyReplyLines(b []byte) bool {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), RogueReadMax+1)
	for sc.Scan() {
		m, err := wire.ParseMessage(sc.Text())
		if err != nil || (m.Verb != wire.VerbOK && m.Verb != wire.VerbErr) || m.Has("records") {
			return false
		}
	}
	return sc.Err() == nil
}

func quoteSome(b []byte) string {
	if len(b) > 120 {
		return strconv.Quote(string(b[:120])) + "..."
	}
	return strconv.Quote(string(b))
}

// ReadRogueAttempts reads a rogue's JSON lines (a torn last line, from a
// rogue killed mid-write, is ignored).
func ReadRogueAttempts(r io.Reader) ([]RogueAttempt, error) {
	var out []RogueAttempt
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	var bad error
	for sc.Scan() {
		if bad != nil {
			return out, bad
		}
		var a RogueAttempt
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			bad = err
			continue
		}
		out = append(out, a)
	}
	return out, sc.Err()
}

// RogueEpisode is what check (d) judges of one rogue fault, gathered by the
// nemesis when it heals the fault.
type RogueEpisode struct {
	Fault string // FaultRogueNoKey or FaultRogueStaleKey
	At    int64  // Now() of the injection
	Addr  string // the rogue's address (a member's)
	// Short: the run ended during the hold, so the refusals are not required.
	Short bool
	// Windows: the lines of each targeted member's log written during the
	// fault that concern it (refusals, "CONNECTED, master is", takeovers).
	Windows []LogWindow
	// Attempts of the rogue process (rogue-nokey).
	Attempts []RogueAttempt
	// ImpostorLog: the impostor's lines that would show it joined the triad
	// (rogue-stalekey); ImpostorRan: its log was there at all.
	ImpostorLog []string
	ImpostorRan bool
	// Probes: each targeted member's INFO records at the end of the hold
	// (rogue-stalekey), or the error of the probe.
	Probes []Probe
	// Problems the harness met (a rogue that did not start...): violations.
	Problems []string
}

// LogWindow is part of a member's log.
type LogWindow struct {
	Member string // its address
	Lines  []string
}

// Probe is a member's INFO as the harness got it.
type Probe struct {
	Member string
	Lines  []string // the reply's records, as protocol lines
	Err    string
}

// Log lines check (d) looks for.
const (
	logRefused  = "Refused triad peer "
	logMaster   = "CONNECTED, master is "
	logTakeover = "Took over as master"
)

// rogueLine keeps the log lines check (d) looks at.
func rogueLine(l string) bool {
	return strings.Contains(l, logRefused) || strings.Contains(l, logMaster) || strings.Contains(l, logTakeover)
}

// RogueStats are the counts check (d) reports.
type RogueStats struct {
	Episodes map[string]int
	Attempts map[string]int // by kind of attempt
	BytesGot int            // bytes read back, all attempts
	Refusals int            // refusal lines naming a rogue in the targets' logs
	Probes   int            // INFO probes of the impostor's peers answered
	// Unprobed: probes that got no answer (not a violation: the check of
	// the logs still holds).
	Unprobed int
}

// CheckRoguePeers (d): every rogue was refused and got nothing. For each
// episode: each targeted member logged "Refused triad peer ADDR:" during
// the fault (unless the run ended during it); no attempt read peer data,
// more than a client's OK/ERR, or a workload user name; the impostor never
// logged that it connected to a master or took over; no target logged the
// impostor's address as master, or counted it up in its INFO.
func CheckRoguePeers(r *Report, eps []RogueEpisode) {
	st := &r.Rogue
	st.Episodes, st.Attempts = map[string]int{}, map[string]int{}
	add := func(ep RogueEpisode, text string) {
		r.Violations[CheckRogue] = append(r.Violations[CheckRogue], Violation{CheckRogue, ep.At,
			fmt.Sprintf("%s from %s at %s: %s", ep.Fault, ep.Addr, r.stamp(ep.At), text)})
	}
	for _, ep := range eps {
		st.Episodes[ep.Fault]++
		for _, p := range ep.Problems {
			add(ep, p)
		}
		for _, w := range ep.Windows {
			refused := 0
			for _, l := range w.Lines {
				if strings.Contains(l, logRefused+ep.Addr+":") {
					refused++
				}
				if ep.Fault == FaultRogueStaleKey && strings.HasSuffix(strings.TrimSpace(l), logMaster+ep.Addr) {
					add(ep, fmt.Sprintf("member %s took the impostor for the master: %q", w.Member, l))
				}
			}
			st.Refusals += refused
			if refused == 0 && !ep.Short {
				add(ep, fmt.Sprintf("member %s logged no %q during the fault", w.Member, logRefused+ep.Addr))
			}
		}
		if ep.Fault == FaultRogueNoKey && len(ep.Attempts) == 0 && !ep.Short {
			add(ep, "the rogue made no attempt")
		}
		bad := 0
		for _, a := range ep.Attempts {
			st.Attempts[a.Try]++
			st.BytesGot += len(a.Got)
			if v := JudgeAttempt(a); v != "" {
				if bad++; bad <= 3 {
					add(ep, v)
				}
			}
		}
		if bad > 3 {
			add(ep, fmt.Sprintf("%d more attempts got something back", bad-3))
		}
		if ep.Fault == FaultRogueStaleKey {
			if !ep.ImpostorRan {
				add(ep, "the impostor lmgrd wrote no log (did it start?)")
			}
			for _, l := range ep.ImpostorLog {
				if strings.Contains(l, logMaster) || strings.Contains(l, logTakeover) {
					add(ep, fmt.Sprintf("the impostor joined the triad: %q", l))
				}
			}
			for _, p := range ep.Probes {
				if p.Err != "" || len(p.Lines) == 0 {
					st.Unprobed++
					continue
				}
				st.Probes++
				for _, l := range p.Lines {
					m, err := wire.ParseMessage(l)
					if err != nil || m.Verb != wire.RecServer || m.Get("host") != ep.Addr {
						continue
					}
					if m.Get("up") == "1" || m.Get("master") == "1" {
						add(ep, fmt.Sprintf("member %s counts the impostor: %s", p.Member, l))
					}
				}
			}
		}
	}
}

// logSize is the size of a log file (0 if it is not there).
func logSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// logLines returns the lines of path in [from, to) that keep accepts; to <
// 0 reads to the end.
func logLines(path string, from, to int64, keep func(string) bool) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		return nil, err
	}
	var r io.Reader = f
	if to >= 0 {
		r = io.LimitReader(f, max(0, to-from))
	}
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if keep(sc.Text()) {
			out = append(out, sc.Text())
		}
	}
	return out, sc.Err()
}
