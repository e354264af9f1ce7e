package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/lmtriad/lmtriad/flexlog"
	"github.com/lmtriad/lmtriad/hostid"
	"github.com/lmtriad/lmtriad/options"
	"github.com/lmtriad/lmtriad/pool"
	"github.com/lmtriad/lmtriad/wire"
)

// session is one client connection. Its licenses are freed when it ends.
type session struct {
	d       *daemon
	id      uint64
	conn    net.Conn
	wmu     sync.Mutex // held by Serve while it writes a reply, and by revoke
	greeted bool
	revokes bool // the client said at HELLO it takes REVOKED lines (notify=revoked)
	// queues: the client said at HELLO it takes GRANTED lines
	// (notify=granted), so its CHECKOUT queue=1 may wait in the queue.
	queues bool
	// password is the level of the administrator password this connection
	// proved to lmgrd (AccessAnonymous: none).
	password hostid.Access
	client   pool.Client
}

// Handle answers one request; it implements wire.Handler.
func (s *session) Handle(req wire.Message) (wire.Message, []wire.Message, bool) {
	if !s.greeted && req.Verb != "HELLO" {
		return wire.NewError(wire.CodeBadComm, 1).Message(), nil, true
	}
	switch req.Verb {
	case "HELLO":
		return s.hello(req)
	case "CHECKOUT":
		return s.checkout(req), nil, false
	case "CHECKIN":
		return s.checkin(req), nil, false
	case "BORROW":
		return s.borrow(req), nil, false
	case "RETURN":
		return s.giveBack(req), nil, false
	case "HEARTBEAT":
		s.d.mu.Lock()
		held := s.d.pool.Heartbeat(s.id, s.d.now())
		if idle, ok := req.Lookup("idle"); ok {
			// The application says its user is idle (or back): the
			// options file's TIMEOUT frees the licenses of an idle client.
			s.d.pool.SetIdle(s.id, idle == "1", s.d.now())
		}
		s.d.mu.Unlock()
		return wire.OK("held", strconv.Itoa(held)), nil, false
	case "STATUS":
		resp, records := s.d.status(req.Get("feature"))
		if s.d.policy().Level(s.conn.RemoteAddr(), s.password) < hostid.AccessRestricted {
			resp, records = anonymousStatus(resp, records)
		}
		return resp, records, false
	case "REMOVE":
		return s.remove(req), nil, false
	case "SWITCHR":
		return s.switchReport(req), nil, false
	case "NEWLOG":
		return s.rotateReport(req), nil, false
	case "SWITCH":
		return s.switchDebugLog(req), nil, false
	case wire.VerbRecycle:
		return s.recycle(req), nil, false
	case "SHUTDOWN", "REREAD":
		// Only lmgrd stops or rereads its vendor daemons (lmdown, lmreread
		// and the license watch all go through it), after its own checks.
		return wire.NewError(wire.CodeNotLicAdmin, 9).WithDetail("send " + req.Verb + " to lmgrd").Message(), nil, false
	}
	return wire.NewError(wire.CodeBadComm, 2).Message(), nil, false
}

func (s *session) hello(req wire.Message) (wire.Message, []wire.Message, bool) {
	if err := wire.CheckProto(req); err != nil {
		var we *wire.Error
		if errors.As(err, &we) {
			return we.Message(), nil, true
		}
		return wire.NewError(wire.CodeBadComm, 3).Message(), nil, true
	}
	s.greeted = true
	s.revokes = hasWord(req.Get("notify"), "revoked")
	s.queues = hasWord(req.Get("notify"), "granted")
	pid, _ := strconv.Atoi(req.Get("pid"))
	s.client = pool.Client{
		Session: s.id,
		User:    req.Get("user"),
		Host:    req.Get("host"),
		Display: req.Get("display"),
		PID:     pid,
		IP:      hostid.PeerAddress(s.conn.RemoteAddr()), // INTERNET lines of the options file
		Project: req.Get("project"),                      // LM_PROJECT
	}
	if ids := req.Get("hostid"); ids != "" {
		s.client.HostIDs = splitIDs(ids)
	}
	if err := s.d.admit(s.conn, req.Get("role") == "admin"); err != nil {
		return err.Message(), nil, true
	}
	if req.Get("role") != "admin" {
		if r := s.d.role.Load(); !s.d.grants(r) {
			return s.d.notServing(r), nil, true
		}
	}
	return wire.OK("proto", strconv.Itoa(wire.ProtocolVersion), "server", "vendord/"+wire.Version,
		"vendor", s.d.opts.Vendor, "host", s.d.opts.ServerHost, "port", strconv.Itoa(s.d.opts.ServerPort)), nil, false
}

func (d *daemon) notServing(r *role) wire.Message {
	code := r.code
	if d.grants(r) {
		code = wire.CodeBusyNewServ // the master, between two tables
	}
	m := wire.NewError(code, 1).Message()
	if r.master != "" {
		m.Set("master", r.master)
	}
	return m
}

func (s *session) checkout(req wire.Message) wire.Message { return s.grant(req, time.Time{}) }

// grant answers a CHECKOUT, or a BORROW until until when it is not zero.
func (s *session) grant(req wire.Message, until time.Time) wire.Message {
	d := s.d
	if r := d.role.Load(); !d.grants(r) {
		return d.notServing(r)
	}
	count := 1
	if v, ok := req.Lookup("count"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return wire.NewError(wire.CodeBadComm, 4).Message()
		}
		count = n
	}
	var handle uint64
	if v, ok := req.Lookup("handle"); ok {
		h, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return wire.NewError(wire.CodeBadComm, 5).Message()
		}
		handle = h
	}
	secret, err := newSecret()
	if err != nil {
		d.log.WithError(err).Error("No random secret for a checkout")
		return wire.NewError(wire.CodeBadComm, 347).WithDetail("no random secret").Message()
	}
	creq := pool.CheckoutRequest{Client: s.client, Feature: req.Get("feature"), Version: req.Get("version"), Count: count,
		Handle: handle, Secret: req.Get("secret"), NewSecret: secret,
		// Only a client that takes GRANTED lines can wait in the queue;
		// another's queue=1 is an ordinary checkout.
		Queue: s.queues && req.Get("queue") == "1"}
	d.mu.Lock()
	if !d.mayChange() {
		d.mu.Unlock()
		return d.notServing(d.role.Load())
	}
	var h pool.Holder
	var deltas []pool.Delta
	if until.IsZero() {
		h, deltas, err = d.pool.Checkout(creq, d.now())
	} else {
		h, deltas, err = d.pool.Borrow(creq, until, d.now())
	}
	d.queue(deltas)
	commit, seq := d.commit, d.pool.Seq()
	if denial := (*pool.Denial)(nil); errors.As(err, &denial) && denial.Code == pool.CodeNoFeature && d.packages[creq.Feature] {
		// A PACKAGE name has no pool of its own (licfile.Pools).
		err = pool.NewDenial(pool.CodeJustPackage)
	}
	d.mu.Unlock()
	if err != nil {
		var denial *pool.Denial
		code := wire.CodeBadComm
		if errors.As(err, &denial) {
			code = denial.Code
		}
		if denial != nil && denial.Code == pool.CodeFeatQueue {
			if !d.committed(commit, seq) {
				return wire.NewError(wire.CodeBusyNewServ, 345).WithDetail("the triad did not commit the queued checkout").Message()
			}
			d.logDeltas(deltas)
			return queuedMessage(h)
		}
		if denial != nil && denial.BadSecret {
			// Never log the secret presented: it may be a client's typo of the real one.
			d.log.WithField("peer", remoteOf(s.conn)).Warnf(
				"Refused reattach of handle %d (%q) by %s@%s: wrong or missing secret", handle, creq.Feature, s.client.User, s.client.Host)
			return wire.NewError(code, 348).WithDetail("handle " + strconv.FormatUint(handle, 10) + " is held: wrong or missing secret").Message()
		}
		werr := wire.NewError(code, 342)
		event := flexlog.EventDenied
		if code == wire.CodeNoFeature {
			event = flexlog.EventUnsupported
		}
		d.counts.denied(creq.Feature, code)
		d.reports.write(reportEvent{Time: d.now(), Event: "denied", Feature: creq.Feature, User: s.client.User,
			Host: s.client.Host, Display: s.client.Display, Count: max(creq.Count, 1), Code: code})
		if event == flexlog.EventDenied && d.siteOptions.Load().NoLog(options.LogDenied) {
			return werr.Message()
		}
		d.log.WithFields(logrus.Fields{
			flexlog.FieldEvent: event, flexlog.FieldFeature: creq.Feature,
			flexlog.FieldUser: s.client.User, flexlog.FieldHost: s.client.Host,
			flexlog.FieldReason: werr.Error(),
		}).Info("usage")
		return werr.Message()
	}
	if !d.committed(commit, seq) {
		if isGrant(deltas) { // nobody else holds it: take it back rather than risk a double grant
			d.log.Warnf("Checkout of %q by %s@%s taken back: the triad did not commit it", creq.Feature, s.client.User, s.client.Host)
			d.mu.Lock()
			var undo []pool.Delta
			if d.mayChange() {
				if until.IsZero() {
					undo, _ = d.pool.Checkin(s.id, h.Handle, d.now())
				} else {
					undo, _ = d.pool.Return(h.Feature, h.Handle, h.Secret, d.now())
				}
				d.queue(undo)
			}
			commit, seq := d.commit, d.pool.Seq()
			d.mu.Unlock()
			d.tellQueued(undo, commit, seq)
		}
		return wire.NewError(wire.CodeBusyNewServ, 345).WithDetail("the triad did not commit the checkout").Message()
	}
	d.logDeltas(deltas)
	if isGrant(deltas) {
		d.counts.granted()
	}
	ok := wire.OK("handle", strconv.FormatUint(h.Handle, 10), "version", h.PoolVersion, "count", strconv.Itoa(h.Count),
		"secret", h.Secret)
	if !h.BorrowUntil.IsZero() {
		ok.Set("until", strconv.FormatInt(h.BorrowUntil.Unix(), 10))
	}
	return ok
}

// newSecret is a holder's secret: 128 bits from crypto/rand, in hex.
func newSecret() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// committed waits, on a triad's master, until the triad's log holds the
// pool's changes up to seq: only then may a client be told.
func (d *daemon) committed(c *committer, seq uint64) bool {
	return c == nil || c.wait(seq, commitTimeout)
}

func isGrant(deltas []pool.Delta) bool {
	for _, dl := range deltas {
		if dl.Kind == pool.Grant {
			return true
		}
	}
	return false
}

func (s *session) checkin(req wire.Message) wire.Message {
	handle, err := req.Uint64("handle")
	if err != nil {
		return wire.NewError(wire.CodeBadComm, 6).Message()
	}
	d := s.d
	d.mu.Lock()
	if !d.mayChange() {
		d.mu.Unlock()
		return d.notServing(d.role.Load())
	}
	deltas, err := d.pool.Checkin(s.id, handle, d.now())
	d.queue(deltas)
	commit, seq := d.commit, d.pool.Seq()
	d.mu.Unlock()
	if err != nil {
		// Only a handle attached to this connection (by its checkout, or a
		// reattach that showed the secret) may be checked in here.
		d.log.WithField("peer", remoteOf(s.conn)).Warnf(
			"Refused checkin of handle %d by %s@%s: not held over this connection", handle, s.client.User, s.client.Host)
		return denialMessage(err)
	}
	d.logDeltas(deltas)
	d.tellQueued(deltas, commit, seq)
	if !d.committed(commit, seq) {
		return wire.NewError(wire.CodeBusyNewServ, 346).WithDetail("the triad did not commit the checkin").Message()
	}
	return wire.OK()
}

func (s *session) remove(req wire.Message) wire.Message {
	if err := s.authorise("lmremove", s.d.opts.NoRemove); err != nil {
		return err.Message()
	}
	d := s.d
	var deltas []pool.Delta
	var err error
	d.mu.Lock()
	if !d.mayChange() {
		d.mu.Unlock()
		return d.notServing(d.role.Load())
	}
	if v, ok := req.Lookup("handle"); ok {
		h, perr := strconv.ParseUint(v, 10, 64)
		if perr != nil {
			d.mu.Unlock()
			return wire.NewError(wire.CodeBadComm, 7).Message()
		}
		deltas, err = d.pool.RemoveHandle(req.Get("feature"), h, d.now())
	} else {
		deltas, err = d.pool.Remove(req.Get("feature"), req.Get("user"), req.Get("host"), req.Get("display"), d.now())
	}
	d.queue(deltas)
	commit, seq := d.commit, d.pool.Seq()
	d.mu.Unlock()
	if err != nil {
		return denialMessage(err)
	}
	for _, dl := range deltas {
		if dl.Kind != pool.Release {
			continue // the queue's grants that follow
		}
		h := dl.Holder
		d.log.Infof("REMOVING %s@%s:%s from %s", h.User, h.Host, h.Display, h.Feature)
	}
	d.logDeltas(deltas)
	d.revoke(deltas)
	d.tellQueued(deltas, commit, seq)
	removed := 0
	for _, dl := range deltas {
		if dl.Kind == pool.Release {
			removed++
		}
	}
	return wire.OK("removed", strconv.Itoa(removed))
}

// policy is lmgrd's rule for administrators, as lmgrd passed it
// (-remote-admin, -local). A -remote-admin this daemon cannot read gives
// remote peers the least.
func (d *daemon) policy() hostid.AdminPolicy {
	remote, err := hostid.ParseRemoteAdmin(d.opts.RemoteAdmin)
	if err != nil {
		remote = hostid.AccessAnonymous
	}
	return hostid.AdminPolicy{Remote: remote, LocalOnly: d.opts.LocalOnly}
}

// authorise applies lmgrd's -x, -local and -remote-admin to an admin
// action (command is lmutil's name for it) and logs the request or its
// refusal with the user, host and address of the requester.
func (s *session) authorise(command string, disabled bool) *wire.Error {
	who := hostid.WhoWithPassword(s.client.User, s.client.Host, s.conn.RemoteAddr(), s.password)
	if err := s.d.policy().Authorise(command, disabled, s.conn.RemoteAddr(), s.password); err != nil {
		s.d.log.Warnf("%s refused for %s: %v", command, who, err)
		return err
	}
	s.d.log.Infof("%s request from %s", command, who)
	return nil
}

// anonymousStatus is a STATUS answer for an anonymous requester: the
// feature and pool totals, without the HOLDER records (user, host,
// display), as FlexLM's lmstat shows features without user lines.
func anonymousStatus(resp wire.Message, records []wire.Message) (wire.Message, []wire.Message) {
	kept := records[:0:0]
	for _, r := range records {
		if r.Verb != "HOLDER" && r.Verb != "RESERVATION" && r.Verb != "NAMED" && r.Verb != wire.RecQueued { // all name users
			kept = append(kept, r)
		}
	}
	resp.Set("records", strconv.Itoa(len(kept)))
	resp.Set("access", hostid.AccessAnonymous.String())
	return resp, kept
}

func denialMessage(err error) wire.Message {
	var denial *pool.Denial
	if errors.As(err, &denial) {
		return wire.NewError(denial.Code, 1).Message()
	}
	return wire.NewError(wire.CodeBadComm, 8).Message()
}

func hasWord(list, word string) bool {
	for _, w := range splitIDs(list) {
		if w == word {
			return true
		}
	}
	return false
}

func splitIDs(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' })
}
