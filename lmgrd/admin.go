package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lmtriad/lmtriad/clusterkey"
	"github.com/lmtriad/lmtriad/hostid"
	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/wire"
)

// adminSession serves lmutil's requests to lmgrd itself.
type adminSession struct {
	s     *server
	conn  net.Conn
	hello wire.Message

	password  hostid.Access // the level of the administrator password proved (AccessAnonymous: none)
	enrolling *enrolUpload  // an lmenroll file arriving in parts
	nonce     string        // this session's challenge for a triad peer's lmdown (peerDownProof)
	stop      bool          // lmdown: stop lmgrd once the answer is sent
}

func (s *server) serveAdmin(c net.Conn, hello wire.Message, password hostid.Access) {
	defer c.Close()
	a := &adminSession{s: s, conn: c, hello: hello, password: password}
	wire.Serve(s.ctx, c, wire.ServeOptions{First: &hello, IdleTimeout: s.opts.GreetingTimeout * 6, ReadTimeout: lineTimeout}, a)
	if a.stop {
		// Only now that lmdown has its answer: stopping first could close
		// the connection under it, and the member that asked (a triad
		// peer) would count this one as not stopped.
		s.exitWhy.Store("shut down by lmdown from " + a.who())
		s.cancel()
	}
}

// Handle implements wire.Handler.
func (a *adminSession) Handle(req wire.Message) (wire.Message, []wire.Message, bool) {
	s := a.s
	switch req.Verb {
	case "HELLO":
		resp := wire.OK("proto", strconv.Itoa(wire.ProtocolVersion), "server", "lmgrd/"+wire.Version,
			"host", s.host, "port", strconv.Itoa(s.port))
		if s.isTriad() {
			var b [16]byte
			_, _ = rand.Read(b[:])
			a.nonce = hex.EncodeToString(b[:])
			resp.Set("nonce", a.nonce)
		}
		return resp, nil, false
	case "INFO":
		resp, records := s.info()
		return resp, records, false
	case "DOWN":
		what := "SHUTDOWN"
		if vendor := req.Get("vendor"); vendor != "" {
			what += " of " + vendor
		}
		if proof := req.Get("peer"); proof != "" {
			// A triad member passing an lmdown on: proven with the cluster
			// key, whatever address it comes from (-remote-admin, -local).
			if err := a.authorisePeerDown(proof, what); err != nil {
				return err.Message(), nil, false
			}
			s.log.Info("SERVER shutdown requested")
			a.stop = true
			return wire.OK("stopped", "1"), nil, true
		}
		if err := a.authorise("lmdown", what, s.opts.NoDown, true); err != nil {
			return err.Message(), nil, false
		}
		if req.Get("force") != "1" {
			// FlexLM: no lmdown while licenses are borrowed, unless -force.
			if n := s.borrowed(req.Get("vendor")); n > 0 {
				s.log.Warnf("%s refused: %d licenses borrowed (lmdown -force stops anyway)", what, n)
				return wire.NewError(wire.CodeBorrowDown, 1).WithDetail(strconv.Itoa(n) + " licenses borrowed").Message(), nil, false
			}
		}
		if vendor := req.Get("vendor"); vendor != "" {
			return s.downVendor(vendor), nil, false
		}
		stopped := 1
		if s.isTriad() && req.Get("scope") != "self" {
			stopped += s.downPeers()
		}
		s.log.Info("SERVER shutdown requested")
		a.stop = true
		return wire.OK("stopped", strconv.Itoa(stopped)), nil, true
	case "REREAD":
		if err := a.authorise("lmreread", "REREAD", false, true); err != nil {
			return err.Message(), nil, false
		}
		if s.isTriad() {
			// A triad serves what is enrolled: enrol this member's changes
			// first (they are served once applied).
			ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
			s.tri.enroller.passNow(ctx)
			cancel()
		}
		if err := s.reread(req.Get("vendor"), true); err != nil {
			m := wire.NewError(wire.CodeBadFile, 1).Message()
			m.Set("detail", err.Error())
			return m, nil, false
		}
		return wire.OK(), nil, false
	case "ENROL":
		// An lmenroll file arrives in parts: its first part is the request.
		if err := a.authorise("lmenroll", "ENROL of "+req.Get("name"), false, req.Get("part") == "0"); err != nil {
			return err.Message(), nil, false
		}
		return a.enrol(req), nil, false
	case "PASSWD":
		return a.setPassword(req), nil, false
	case "STATS":
		resp, records := s.usageStats(req)
		return resp, records, false
	case "NOTIFY":
		return a.testNotification(), nil, false
	case "LICENSE":
		// The license files this server serves, as FlexLM sends them to
		// clients: any requester may read them (lmstat -i, lmcksum -c
		// port@host).
		resp, records := s.licenseText()
		return resp, records, false
	}
	return wire.NewError(wire.CodeBadComm, 20).Message(), nil, false
}

// licenseText answers LICENSE: a FILE record per license file (name= its
// base name) followed by one LINE record per line of it (text=), as this
// server read it (the lines it could parse, written again; SIGN= kept).
func (s *server) licenseText() (wire.Message, []wire.Message) {
	s.mu.Lock()
	files := s.files
	s.mu.Unlock()
	var records []wire.Message
	for _, f := range files {
		var b strings.Builder
		if err := licfile.Print(&b, f); err != nil {
			continue
		}
		records = append(records, wire.New("FILE", "name", filepath.Base(f.Name)))
		for _, line := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
			records = append(records, wire.New("LINE", "text", line))
		}
	}
	return wire.OK("records", strconv.Itoa(len(records))), records
}

// policy is lmgrd's rule for administrators (-remote-admin, -local).
func (s *server) policy() hostid.AdminPolicy {
	return hostid.AdminPolicy{Remote: s.opts.RemoteAdmin, LocalOnly: s.opts.LocalOnly}
}

// authorise applies -x, -local and -remote-admin to an admin action
// (command is lmutil's name for it), and logs the request when logAction
// (what names it: "SHUTDOWN", "REREAD") or the refusal, FlexLM-style with
// the user, host and address of the requester.
func (a *adminSession) authorise(command, what string, disabled, logAction bool) *wire.Error {
	who := a.who()
	if err := a.s.policy().Authorise(command, disabled, a.conn.RemoteAddr(), a.password); err != nil {
		a.s.log.Warnf("%s refused for %s: %v", command, who, err)
		return err
	}
	if logAction {
		a.s.log.Infof("%s request from %s", what, who)
	}
	return nil
}

// who names the requester for the log: user, host, address, and the
// password it proved.
func (a *adminSession) who() string {
	return hostid.WhoWithPassword(a.hello.Get("user"), a.hello.Get("host"), a.conn.RemoteAddr(), a.password)
}

// peerDownProof is what a member signs to pass an lmdown on to the member
// at target: the purpose, the target's session challenge and its address.
func peerDownProof(nonce, target string) []byte {
	return []byte("lmtriad peer lmdown\x00" + nonce + "\x00" + target)
}

// authorisePeerDown checks a triad peer's signed lmdown (downPeers).
func (a *adminSession) authorisePeerDown(proof, what string) *wire.Error {
	s := a.s
	who := hostid.Who(a.hello.Get("user"), a.hello.Get("host"), a.conn.RemoteAddr())
	sig, err := base64.RawURLEncoding.DecodeString(proof)
	target := net.JoinHostPort(s.host, strconv.Itoa(s.port))
	switch {
	case !s.isTriad() || a.nonce == "" || err != nil || !s.tri.key.Verify(peerDownProof(a.nonce, target), sig):
		s.log.Warnf("lmdown refused for %s: not signed with this triad's cluster key", who)
		return wire.NewError(wire.CodeNotLicAdmin, 4).WithDetail("a triad peer's lmdown must be signed with the cluster key")
	case s.opts.NoDown:
		s.log.Warnf("lmdown refused for triad peer %s: lmdown is disabled by lmgrd -x lmdown", who)
		return wire.NewError(wire.CodeNotLicAdmin, 1).WithDetail("lmdown is disabled by lmgrd -x lmdown")
	}
	a.nonce = "" // one request per challenge
	s.log.Infof("%s request from triad peer %s", what, who)
	return nil
}

func (s *server) downVendor(name string) wire.Message {
	s.mu.Lock()
	v := s.vendors[name]
	s.mu.Unlock()
	if v == nil {
		return wire.NewError(wire.CodeVendorDown, 2).Message()
	}
	s.log.Infof("Shutting down %s at an administrator's request", name)
	v.mu.Lock()
	v.downed = true
	v.mu.Unlock()
	if err := v.shutdown(); err != nil {
		return wire.NewError(wire.CodeVendorDown, 3).Message()
	}
	return wire.OK()
}

// info describes this server, its triad and its vendor daemons for lmstat.
func (s *server) info() (wire.Message, []wire.Message) {
	v := s.view()
	var records []wire.Message
	for i, sv := range s.servers {
		records = append(records, wire.New("SERVER", "host", sv.Host, "port", strconv.Itoa(s.portOf(i)),
			"rank", strconv.Itoa(i), "up", digit(v.up[i]), "master", digit(v.master == i),
			"version", wire.VersionShort))
	}
	s.mu.Lock()
	names := make([]string, 0, len(s.vendors))
	for n := range s.vendors {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		up, pid := s.vendors[n].up()
		records = append(records, wire.New("VENDOR", "name", n, "up", digit(up), "pid", strconv.Itoa(pid),
			"version", wire.VersionShort))
	}
	var paths []string
	for _, f := range s.files {
		paths = append(paths, f.Name)
	}
	s.mu.Unlock()
	for i, l := range v.links {
		rec := wire.New("LINK", "from", s.servers[l[0]].Host, "to", s.servers[l[1]].Host, "up", digit(v.linkUp[i]))
		if v.linkWhy[i] != "" {
			rec.Set("why", v.linkWhy[i])
		}
		records = append(records, rec)
	}
	for i, m := range v.members {
		rec := wire.New("MEMBER", "host", s.servers[i].Host, "digest", m.digest)
		if len(m.notes) > 0 {
			rec.Set("notes", strings.Join(m.notes, "; "))
		}
		records = append(records, rec)
	}
	resp := wire.OK("host", s.host, "port", strconv.Itoa(s.port), "version", wire.VersionShort,
		"role", v.role, "files", strings.Join(paths, ":"), "records", strconv.Itoa(len(records)))
	if v.cluster != "" {
		resp.Set("cluster", v.cluster)
		resp.Set("enrolled", v.enrolled)
	}
	return resp, records
}

func digit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// downPeers stops the other members of the triad, as lmdown stops all three.
func (s *server) downPeers() int {
	stopped := 0
	for i := range s.servers {
		if i == s.self {
			continue
		}
		addr := net.JoinHostPort(s.servers[i].Host, strconv.Itoa(s.portOf(i)))
		if err := adminDown(s.ctx, addr, s.tri.key); err != nil {
			s.log.WithError(err).Warnf("Cannot shut down %s", s.portAtHost(i))
			continue
		}
		s.log.Infof("Shut down %s", s.portAtHost(i))
		stopped++
	}
	return stopped
}

// adminDown stops the member at addr, proving with the cluster key that
// the request comes from its triad.
func adminDown(ctx context.Context, addr string, key *clusterkey.Key) error {
	var d net.Dialer
	hostname, _ := os.Hostname()
	c, hello, err := wire.Dial(ctx, &d, addr, wire.Hello("role", "admin", "user", "lmgrd", "host", hostname), 3*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req := wire.New("DOWN", "scope", "self")
	if nonce := hello.Get("nonce"); nonce != "" {
		req.Set("peer", base64.RawURLEncoding.EncodeToString(key.Sign(peerDownProof(nonce, addr))))
	}
	_, _, err = c.Call(ctx, req)
	return err
}
