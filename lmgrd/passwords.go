package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/lmtriad/lmtriad/adminauth"
	"github.com/lmtriad/lmtriad/enrol"
	"github.com/lmtriad/lmtriad/hostid"
	"github.com/lmtriad/lmtriad/wire"
)

// Administrator passwords (docs/security.md "Administration levels").
//
// A remote administrator proves a password at the start of its
// connection, before lmgrd routes it: its HELLO carries auth= and the
// first SCRAM message, lmgrd answers with its challenge, the client sends
// its proof (AUTH), lmgrd answers with its own proof, and the client then
// greets again with a plain HELLO, which is routed as usual with the level
// proved: served here, or handed to the vendor daemon with the level
// (vendorctl.KindAdmin). Failed proofs are slowed per source address.
//
// A triad keeps the passwords' credentials in the enrolled set (entries of
// its raft log, so all three members check the same ones and they survive
// restarts); a lone server keeps them in passwords.json in its state
// directory.

// Minor codes of the -63 answers about passwords.
const (
	minorPasswordRefused = 6 // no such password, or it does not match
	minorPasswordSlowed  = 7 // too many failed attempts from this address
	minorPasswordBadAuth = 8 // a malformed proof or an unknown mechanism
)

// passwordStore is this member's view of the passwords' credentials.
type passwordStore struct {
	mu      sync.Mutex
	creds   map[string]adminauth.Credential
	changed chan struct{} // closed and replaced on every change
}

func (p *passwordStore) lookup(level string) (adminauth.Credential, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.creds[level]
	return c, ok
}

// set replaces the credentials (a copy of creds is kept).
func (p *passwordStore) set(creds map[string]adminauth.Credential) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.creds = maps.Clone(creds)
	if p.changed != nil {
		close(p.changed)
	}
	p.changed = make(chan struct{})
}

func (p *passwordStore) snapshot() (map[string]adminauth.Credential, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.changed == nil {
		p.changed = make(chan struct{})
	}
	return maps.Clone(p.creds), p.changed
}

// waitFor waits until the store holds want for level (nil: none).
func (p *passwordStore) waitFor(ctx context.Context, level string, want *adminauth.Credential) bool {
	for {
		creds, changed := p.snapshot()
		got, ok := creds[level]
		if want == nil && !ok || want != nil && ok && got.Equal(*want) {
			return true
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return false
		}
	}
}

// lonePasswordsFile is where a lone server keeps its passwords.
func (s *server) lonePasswordsFile() (string, error) {
	dir, err := stateDirPath(s.opts.StateDir, s.host, s.port)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "passwords.json"), nil
}

// loadLonePasswords reads a lone server's passwords, if it has any. A
// file that cannot be read is logged and leaves no password set: that
// gives remote administrators less, never more.
func (s *server) loadLonePasswords() {
	path, err := s.lonePasswordsFile()
	if err != nil {
		return
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	creds := map[string]adminauth.Credential{}
	if err == nil {
		err = json.Unmarshal(b, &creds)
	}
	for level, c := range creds {
		if err == nil && !adminauth.ValidLevel(level) {
			err = fmt.Errorf("unknown level %q", level)
		}
		if err == nil {
			err = c.Validate()
		}
	}
	if err != nil {
		s.log.Errorf("Administrator passwords in %s cannot be read (%v): no password is accepted until lmutil lmpasswd sets them again", path, err)
		return
	}
	s.passwords.set(creds)
}

// saveLonePassword sets or removes one password of a lone server.
func (s *server) saveLonePassword(change enrol.PasswordChange) error {
	path, err := s.lonePasswordsFile()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	creds, _ := s.passwords.snapshot()
	if creds == nil {
		creds = map[string]adminauth.Credential{}
	}
	if change.Cred == nil {
		delete(creds, change.Level)
	} else {
		creds[change.Level] = *change.Cred
	}
	b, err := json.Marshal(creds)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	s.passwords.set(creds)
	return nil
}

// authenticate runs the password proof that hello began (HELLO auth=...)
// on c. It returns the greeting that follows the proof, as a line and
// parsed, and the level proved; ok is false when c has been answered with
// an error and closed.
func (s *server) authenticate(c net.Conn, hello wire.Message) (line string, next wire.Message, level hostid.Access, ok bool) {
	peer := hostid.PeerAddress(c.RemoteAddr())
	who := hostid.Who(hello.Get("user"), hello.Get("host"), c.RemoteAddr())
	now := time.Now()
	fail := func(e *wire.Error) (string, wire.Message, hostid.Access, bool) {
		s.reject(c, e)
		return "", wire.Message{}, hostid.AccessAnonymous, false
	}
	if hello.Get("auth") != adminauth.Mechanism {
		return fail(wire.NewError(wire.CodeNotLicAdmin, minorPasswordBadAuth).WithDetail("unknown authentication " + strconv.Quote(hello.Get("auth")) + ": want " + adminauth.Mechanism))
	}
	if wait := s.guesses.Wait(peer, now); wait > 0 {
		if ok, more := s.guessLog.Allow(now, rejectLogEvery); ok {
			s.log.Warnf("Admin password attempt refused for %s: too many failed attempts from %s (%d more refused since the last warning)", who, peer, more)
		}
		return fail(wire.NewError(wire.CodeNotLicAdmin, minorPasswordSlowed).
			WithDetail(fmt.Sprintf("too many failed password attempts from %s: try again in %d s", peer, int(wait.Seconds()+0.999))))
	}
	badProof := func(why string) (string, wire.Message, hostid.Access, bool) {
		s.guesses.Failed(peer, time.Now())
		s.log.Warnf("Admin password refused for %s: %s", who, why)
		return fail(wire.NewError(wire.CodeNotLicAdmin, minorPasswordBadAuth).WithDetail(why))
	}
	first, err := adminauth.Decode(hello.Get("data"))
	if err != nil {
		return badProof("malformed proof")
	}
	ex, serverFirst, err := adminauth.Begin(s.passwords.lookup, string(first))
	switch {
	case errors.Is(err, adminauth.ErrNoPassword):
		s.log.Warnf("Admin password refused for %s: no %s password is set", who, ex.Level())
		return fail(wire.NewError(wire.CodeNotLicAdmin, minorPasswordRefused).
			WithDetail("no " + ex.Level() + " password is set on this server (lmutil lmpasswd -" + ex.Level() + ")"))
	case err != nil:
		return badProof("malformed proof")
	}
	w := wire.NewWriter(c)
	if err := w.WriteMessage(wire.OK("auth", adminauth.Mechanism, "data", adminauth.Encode([]byte(serverFirst)))); err != nil {
		c.Close()
		return "", wire.Message{}, hostid.AccessAnonymous, false
	}
	proof, err := s.readLine(c, "AUTH")
	if err != nil {
		return badProof(err.Error())
	}
	final, err := adminauth.Decode(proof.Get("data"))
	if err != nil {
		return badProof("malformed proof")
	}
	serverFinal, err := ex.Finish(string(final))
	if err != nil {
		wait := s.guesses.Failed(peer, time.Now())
		msg := fmt.Sprintf("Admin password (%s) refused for %s: it does not match", ex.Level(), who)
		if wait > 0 {
			msg += fmt.Sprintf("; attempts from %s are held off for %v", peer, wait)
		}
		s.log.Warn(msg)
		return fail(wire.NewError(wire.CodeNotLicAdmin, minorPasswordRefused).WithDetail("the " + ex.Level() + " password does not match"))
	}
	s.guesses.Succeeded(peer)
	level, _ = hostid.ParseRemoteAdmin(ex.Level())
	if err := w.WriteMessage(wire.OK("level", ex.Level(), "data", adminauth.Encode([]byte(serverFinal)))); err != nil {
		c.Close()
		return "", wire.Message{}, hostid.AccessAnonymous, false
	}
	line, err = readGreeting(c)
	if err == nil {
		next, err = wire.ParseMessage(line)
	}
	if err == nil && (next.Verb != "HELLO" || next.Get("role") != "admin" || next.Has("auth")) {
		err = errors.New("an administrator's greeting must follow the password proof")
	}
	if err == nil {
		err = wire.CheckProto(next)
	}
	if err != nil {
		return fail(wire.NewError(wire.CodeBadComm, 11).WithDetail(err.Error()))
	}
	return line, next, level, true
}

// readLine reads one request line of verb during a greeting.
func (s *server) readLine(c net.Conn, verb string) (wire.Message, error) {
	line, err := readGreeting(c)
	if err != nil {
		return wire.Message{}, fmt.Errorf("no %s: %w", verb, err)
	}
	m, err := wire.ParseMessage(line)
	if err != nil || m.Verb != verb {
		return wire.Message{}, fmt.Errorf("want %s", verb)
	}
	return m, nil
}

// setPassword answers PASSWD (lmutil lmpasswd): it sets or removes the
// password of a level, on all three members of a triad.
func (a *adminSession) setPassword(req wire.Message) wire.Message {
	s := a.s
	level := req.Get("level")
	if !adminauth.ValidLevel(level) {
		return wire.NewError(wire.CodeBadComm, 1).WithDetail("level must be full or restricted").Message()
	}
	what := "PASSWD " + level
	if req.Has("remove") {
		what = "PASSWD " + level + " removal"
	}
	if err := a.authorise("lmpasswd", what, false, true); err != nil {
		return err.Message()
	}
	change := enrol.PasswordChange{Level: level}
	if !req.Has("remove") {
		cred, err := credentialOf(req)
		if err != nil {
			return wire.NewError(wire.CodeBadComm, 2).WithDetail(err.Error()).Message()
		}
		change.Cred = &cred
	}
	who := a.who()
	if !s.isTriad() {
		if err := s.saveLonePassword(change); err != nil {
			s.log.Errorf("Cannot save the %s password: %v", level, err)
			return wire.NewError(wire.CodeCantWrite, 1).WithDetail(err.Error()).Message()
		}
		s.log.Infof("Administrator password (%s) %s by %s", level, setOrRemoved(change), who)
		return wire.OK()
	}
	data, err := enrol.Encode(enrol.Entry{Proposer: s.self, Host: s.host, By: who, Passwords: []enrol.PasswordChange{change}})
	if err != nil {
		return wire.NewError(wire.CodeBadComm, 3).WithDetail(err.Error()).Message()
	}
	// A proposal can be lost (no master known yet, a failover): propose
	// again until it is applied here. Applying it twice changes nothing.
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.tri.proposeEnrol(data)
		ctx, cancel := context.WithTimeout(s.ctx, time.Second)
		done := s.passwords.waitFor(ctx, level, change.Cred)
		cancel()
		if done {
			return wire.OK()
		}
		if time.Now().After(deadline) || s.ctx.Err() != nil {
			return wire.NewError(wire.CodeServBusy, 5).WithDetail("the password change is not committed by the triad (no majority?); it is not in force").Message()
		}
	}
}

func setOrRemoved(c enrol.PasswordChange) string {
	if c.Cred == nil {
		return "removed"
	}
	return "set"
}

// credentialOf reads the credential lmpasswd sent.
func credentialOf(req wire.Message) (adminauth.Credential, error) {
	var c adminauth.Credential
	var err error
	if c.Salt, err = adminauth.Decode(req.Get("salt")); err != nil {
		return c, err
	}
	if c.Stored, err = adminauth.Decode(req.Get("stored")); err != nil {
		return c, err
	}
	if c.Server, err = adminauth.Decode(req.Get("server")); err != nil {
		return c, err
	}
	if c.Iters, err = req.Int("iters"); err != nil {
		return c, err
	}
	return c, c.Validate()
}

// applyPasswords takes the passwords of a committed enrolment entry (run
// loop): every member logs the change and checks the new credentials.
func (t *triad) applyPasswords(entry enrol.Entry) {
	if len(entry.Passwords) == 0 {
		return
	}
	t.s.passwords.set(t.enrolled.Passwords)
	for _, p := range entry.Passwords {
		t.s.log.Infof("Triad: administrator password (%s) %s by %s on %s", p.Level, setOrRemoved(p), entry.By, entry.Host)
	}
}
