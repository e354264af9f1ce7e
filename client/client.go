package client

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lmtriad/lmtriad/hostid"
	"github.com/lmtriad/lmtriad/wire"
)

// Client checks licenses out of the servers of one license search path. It
// keeps one connection per vendor daemon, heartbeats on it, and when the
// connection is lost it reconnects (through the triad's other members, or
// the next entries of the path) and checks its licenses out again.
type Client struct {
	opts    Options
	hostIDs string

	mu       sync.Mutex
	links    map[string]*link // by vendor
	byFeat   map[string]string
	licenses map[*License]struct{}
	closed   bool
	idle     atomic.Bool // SetIdle: said with every heartbeat

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// EventKind tells what happened to a held license.
type EventKind int

const (
	// Lost: the connection to the server is gone; the license is being
	// checked out again in the background.
	Lost EventKind = iota + 1
	// Regained: the license is held again after a reconnect.
	Regained
	// Failed: the license could not be checked out again; it is gone.
	Failed
	// Revoked: the server took the license away (lmremove, a reread that
	// removed or lowered its feature, a heartbeat timeout) and said so.
	// Err is the FlexLM error; the license is gone and is not checked out
	// again.
	Revoked
)

func (k EventKind) String() string {
	switch k {
	case Lost:
		return "lost"
	case Regained:
		return "regained"
	case Failed:
		return "failed"
	case Revoked:
		return "revoked"
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// Event reports a change of a license's state.
type Event struct {
	Kind EventKind
	Err  error
}

// License is a held checkout. Its methods are safe for concurrent use.
type License struct {
	c       *Client
	Feature string
	Version string // the version asked for
	Count   int

	mu      sync.Mutex
	handle  uint64
	secret  string // the server's secret for handle: a reattach shows it
	granted string // the pool's version that granted it
	server  string // port@host
	vendor  string
	link    *link // the connection that holds it
	held    bool
	done    bool
	err     error // why the server revoked it
	events  chan Event

	// queue: checked out by CheckoutQueued, which waits on grant while
	// the server holds the request in its queue.
	queue bool
	grant chan wire.Message
	// borrowed: held by the server without a connection until until
	// (borrow.go); never on a link, never checked in.
	borrowed bool
	until    time.Time
}

// New returns a client for opts (see NewOptions for the defaults).
func New(opts Options) (*Client, error) {
	opts = opts.withDefaults()
	c := &Client{opts: opts, links: map[string]*link{}, byFeat: map[string]string{}, licenses: map[*License]struct{}{}}
	if info, err := hostid.Local(); err == nil {
		c.hostIDs = strings.Join(append(append([]string{}, info.Ethers...), info.IPs...), " ")
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// Checkout checks out count licenses of feature at version or later.
// Failures are *wire.Error values with FlexLM's code and text.
func (c *Client) Checkout(ctx context.Context, feature, version string, count int) (*License, error) {
	if count <= 0 {
		count = 1
	}
	if lic := c.localBorrow(feature, version, count); lic != nil {
		return lic, nil
	}
	lic := &License{c: c, Feature: feature, Version: version, Count: count, events: make(chan Event, 16)}
	if err := c.checkout(ctx, lic); err != nil {
		return nil, err
	}
	if lic.Borrowed() {
		if err := c.recordBorrow(lic); err != nil {
			c.opts.Logger.WithError(err).Warn("borrowed license not recorded in the borrow file")
		}
		return lic, nil
	}
	c.mu.Lock()
	c.licenses[lic] = struct{}{}
	c.mu.Unlock()
	return lic, nil
}

// checkout gets lic from the server holding its vendor's connection, or
// else from the first entry of the search path that grants it. A lic that
// has a handle (a reattach after a lost connection) offers it, so a server
// that already holds it keeps it rather than granting a second license.
func (c *Client) checkout(ctx context.Context, lic *License) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return errors.New("client: closed")
	}
	vendor := c.opts.Vendor
	if vendor == "" {
		vendor = c.byFeat[lic.Feature]
	}
	l := c.links[vendor]
	c.mu.Unlock()

	if l != nil && l.alive() {
		err := c.checkoutOn(ctx, l, lic)
		if err == nil || !isBusy(err) {
			return err
		}
		// That server stopped serving (a triad member that is no longer
		// the master): find the one that serves now.
		l.close(err)
	}
	groups, err := c.groups()
	if err != nil {
		return err
	}
	var firstDenial, lastErr error
	for _, g := range groups {
		tried := map[string]bool{}
		for i := 0; i < len(g.addrs); i++ {
			addr := g.addrs[i]
			if tried[addr] {
				continue
			}
			tried[addr] = true
			l, resp, err := c.dialLink(ctx, addr, lic.Feature)
			if err != nil {
				lastErr = err
				// A triad member that is not the master names it: go there next.
				if master, ok := addrOf(resp.Get("master")); ok && isBusy(err) && !tried[master] {
					g.addrs = append(g.addrs[:i+1], append([]string{master}, g.addrs[i+1:]...)...)
				}
				if ctx.Err() != nil {
					return withCtxErr(ctx, lastErr)
				}
				continue
			}
			// The greeting named the vendor: a live connection to it is
			// reused, so a program's licenses of one vendor share one
			// connection and check in where they were granted.
			if existing := c.liveLink(l.vendor); existing != nil && existing != l {
				l.close(errors.New("client: duplicate connection"))
				l = existing
			}
			err = c.checkoutOn(ctx, l, lic)
			if err == nil {
				c.adopt(l, lic.Feature)
				return nil
			}
			l.close(err)
			if ctx.Err() != nil {
				return withCtxErr(ctx, err) // not a denial: the caller gave up
			}
			if firstDenial == nil {
				firstDenial = err
			}
			break // this entry denied it: try the next entry of the path
		}
	}
	if firstDenial != nil {
		return firstDenial
	}
	return lastErr
}

// withCtxErr makes an error that ctx's end caused say so (errors.Is with
// context.DeadlineExceeded or context.Canceled).
func withCtxErr(ctx context.Context, err error) error {
	if errors.Is(err, ctx.Err()) {
		return err
	}
	return fmt.Errorf("%w: %w", err, ctx.Err())
}

func (c *Client) checkoutOn(ctx context.Context, l *link, lic *License) error {
	req := wire.New("CHECKOUT", "feature", lic.Feature, "count", strconv.Itoa(lic.Count))
	if lic.Version != "" {
		req.Set("version", lic.Version)
	}
	lic.mu.Lock()
	if until := c.borrowUntil(l.vendor); lic.handle == 0 && !until.IsZero() {
		lic.mu.Unlock()
		breq := req.Clone()
		breq.Verb = "BORROW"
		breq.Set("until", strconv.FormatInt(until.Unix(), 10))
		err := c.borrowOn(ctx, l, lic, breq)
		if !errors.Is(err, wire.ErrNoneToBorrow) {
			return err
		}
		// Not borrowable: an ordinary checkout (FlexLM does the same).
		lic.mu.Lock()
	}
	if lic.handle != 0 {
		req.Set("handle", strconv.FormatUint(lic.handle, 10))
		if lic.secret != "" {
			req.Set("secret", lic.secret)
		}
	}
	lic.mu.Unlock()
	rctx, cancel := context.WithTimeout(ctx, c.opts.RequestTimeout)
	defer cancel()
	if lic.queue {
		req.Set("queue", "1")
	}
	resp, _, err := l.do(rctx, req)
	if err != nil {
		if lic.queue && errors.Is(err, &wire.Error{Code: wire.CodeFeatQueue}) {
			return c.queuedOn(l, lic, resp)
		}
		return err
	}
	handle, err := resp.Uint64("handle")
	if err != nil {
		return wire.NewError(wire.CodeBadComm, 3).WithDetail(err.Error())
	}
	lic.mu.Lock()
	lic.handle, lic.granted, lic.server, lic.vendor, lic.held, lic.link = handle, resp.Get("version"), l.server, l.vendor, true, l
	lic.borrowed, lic.until = false, time.Time{}
	lic.secret = resp.Get("secret") // "" from a server older than secrets
	lic.mu.Unlock()
	if err := l.hold(handle, lic); err != nil {
		// Revoked before this reply was taken up.
		lic.mu.Lock()
		lic.held, lic.err = false, err
		lic.mu.Unlock()
		return err
	}
	return nil
}

// borrowOn sends BORROW req on l for lic.
func (c *Client) borrowOn(ctx context.Context, l *link, lic *License, req wire.Message) error {
	rctx, cancel := context.WithTimeout(ctx, c.opts.RequestTimeout)
	defer cancel()
	resp, _, err := l.do(rctx, req)
	if err != nil {
		return err
	}
	handle, err := resp.Uint64("handle")
	if err != nil {
		return wire.NewError(wire.CodeBadComm, 3).WithDetail(err.Error())
	}
	until, err := strconv.ParseInt(resp.Get("until"), 10, 64)
	if err != nil {
		return wire.NewError(wire.CodeBadComm, 3).WithDetail("BORROW answer without until=")
	}
	lic.mu.Lock()
	lic.handle, lic.granted, lic.server, lic.vendor, lic.held = handle, resp.Get("version"), l.server, l.vendor, true
	lic.secret, lic.borrowed, lic.until = resp.Get("secret"), true, time.Unix(until, 0)
	lic.mu.Unlock()
	return nil
}

// adopt makes l the connection of its vendor and starts its heartbeats.
func (c *Client) adopt(l *link, feature string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		// Close ran while a reconnect was under way: nobody would
		// ever close l.
		l.close(errors.New("client: closed"))
		return
	}
	if old := c.links[l.vendor]; old == l {
		return
	}
	c.links[l.vendor] = l
	c.byFeat[feature] = l.vendor
	c.wg.Add(1)
	go func() { defer c.wg.Done(); c.watch(l) }()
}

// SetIdle tells the servers, with the next heartbeat, whether the
// program's user is idle (FlexLM's lc_idle): a feature with a TIMEOUT in
// the vendor's options file is freed after that long idle, and the
// license is reported lost (Revoked) like any other taken away.
func (c *Client) SetIdle(idle bool) { c.idle.Store(idle) }

func idleWord(idle bool) string {
	if idle {
		return "1"
	}
	return "0"
}

// watch heartbeats on l while it lives, and recovers its licenses once it dies.
func (c *Client) watch(l *link) {
	t := time.NewTicker(c.opts.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-l.dead:
			c.recover(l)
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(c.ctx, c.opts.RequestTimeout)
			_, _, _ = l.do(ctx, wire.New("HEARTBEAT", "idle", idleWord(c.idle.Load())))
			cancel()
		}
	}
}

// recover checks out again, on a new connection, every license that was
// held over the dead link l.
func (c *Client) recover(l *link) {
	c.mu.Lock()
	if c.links[l.vendor] == l {
		delete(c.links, l.vendor)
	}
	var lost []*License
	for lic := range c.licenses {
		lic.mu.Lock()
		if lic.vendor == l.vendor && lic.held && !lic.done {
			lic.held = false
			lost = append(lost, lic)
		}
		lic.mu.Unlock()
	}
	c.mu.Unlock()
	for _, lic := range lost {
		lic.emit(Event{Kind: Lost, Err: l.deadErr})
	}
	c.opts.Logger.WithError(l.deadErr).WithField("server", l.server).Info("connection to license server lost")
	for len(lost) > 0 {
		var pending []*License
		for _, lic := range lost {
			if lic.isDone() {
				continue
			}
			err := c.checkout(c.ctx, lic)
			switch {
			case err == nil:
				lic.emit(Event{Kind: Regained})
			case c.ctx.Err() != nil:
				return
			case retryable(err):
				pending = append(pending, lic)
			default:
				lic.fail(err)
			}
		}
		lost = pending
		if len(lost) == 0 {
			return
		}
		select {
		case <-c.ctx.Done():
			return
		case <-time.After(c.opts.RetryInterval):
		}
	}
}

// ServerAway reports whether err says the license server is away (down,
// unreachable, or a triad between masters) rather than that it denied the
// checkout: the same checkout may succeed if tried again shortly.
func ServerAway(err error) bool { return retryable(err) }

// retryable errors are those of a server that is away, not of a denial.
func retryable(err error) bool {
	var we *wire.Error
	if !errors.As(err, &we) {
		return true
	}
	switch we.Code {
	case wire.CodeCantConnect, wire.CodeCantRead, wire.CodeCantWrite, wire.CodeServBusy,
		wire.CodeBusyNewServ, wire.CodeNoServResp, wire.CodeVendorDown, wire.CodeHostDown, wire.CodeNoServer:
		return true
	}
	return false
}

// Close checks in every license and closes the connections.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	lics := make([]*License, 0, len(c.licenses))
	for lic := range c.licenses {
		lics = append(lics, lic)
	}
	c.mu.Unlock()
	for _, lic := range lics {
		_ = lic.Checkin()
	}
	c.mu.Lock()
	c.closed = true
	links := c.links
	c.links = map[string]*link{}
	c.mu.Unlock()
	c.cancel()
	for _, l := range links {
		l.close(errors.New("client: closed"))
	}
	c.wg.Wait()
	return nil
}

// Checkin returns the license. It is idempotent.
func (l *License) Checkin() error {
	l.mu.Lock()
	if l.done {
		l.mu.Unlock()
		return nil
	}
	l.done = true
	held, handle, ln := l.held, l.handle, l.link
	l.held = false
	if l.borrowed {
		// The borrow goes on without us: only its end or a Return frees it.
		close(l.events)
		l.mu.Unlock()
		return nil
	}
	l.mu.Unlock()

	c := l.c
	c.mu.Lock()
	delete(c.licenses, l)
	c.mu.Unlock()
	close(l.events)
	if ln != nil {
		ln.rmu.Lock()
		delete(ln.holding, handle)
		ln.rmu.Unlock()
	}
	if !held || ln == nil || !ln.alive() {
		return nil // the server frees it when the connection ends
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.RequestTimeout)
	defer cancel()
	_, _, err := ln.do(ctx, wire.New("CHECKIN", "handle", strconv.FormatUint(handle, 10)))
	return err
}

// Events delivers Lost, Regained and Failed; it is closed by Checkin.
func (l *License) Events() <-chan Event { return l.events }

// Held reports whether the license is held right now.
func (l *License) Held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held
}

// Handle is the server's handle for this checkout (lmremove -h uses it).
func (l *License) Handle() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.handle
}

// Server is the port@host that granted the license.
func (l *License) Server() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.server
}

// GrantedVersion is the version of the license line that granted it.
func (l *License) GrantedVersion() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.granted
}

func (l *License) isDone() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.done
}

// emit never blocks: a program that does not read events loses the oldest
// news, never its license.
func (l *License) emit(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return
	}
	select {
	case l.events <- e:
	default:
		select {
		case <-l.events:
		default:
		}
		l.events <- e
	}
}

func (l *License) fail(err error) {
	l.emit(Event{Kind: Failed, Err: err})
	l.c.mu.Lock()
	delete(l.c.licenses, l)
	l.c.mu.Unlock()
}

// liveLink is the open connection to vendor, if any.
func (c *Client) liveLink(vendor string) *link {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l := c.links[vendor]; l != nil && l.alive() {
		return l
	}
	return nil
}
