package pool

import (
	"cmp"
	"crypto/subtle"
	"math"
	"slices"
	"strings"
	"time"

	nodelock "github.com/lmtriad/lmtriad/hostid" // not hostid: the pool tests have a helper of that name
	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/options"
)

// Options tune a State.
type Options struct {
	// HeartbeatTimeout frees the holders of a session that sent nothing for
	// longer than this (Expire). Zero disables timeouts.
	HeartbeatTimeout time.Duration
	// FirstHandle is the first handle number given out; zero means 1.
	FirstHandle uint64
	// Location is the time zone in which license-file dates (expiry, START)
	// are calendar days; nil means UTC. Master and replicas must agree.
	Location *time.Location
	// Monotonic, when set, is the clock sessions' silence is measured on
	// (Expire): any reading that never steps, such as the time since a fixed
	// instant of this process, so that a wall-clock step frees nobody. The
	// readings stay in this State; they are not replicated. Nil measures
	// silence on the operations' now (the wall clock), as a replica that
	// never expires anything may.
	Monotonic func() time.Duration
	// Policy is the vendor daemon's options file (INCLUDE/EXCLUDE, MAX,
	// RESERVE, TIMEOUT, LINGER, MAX_OVERDRAFT); nil means none. Every
	// member of a triad must be given the same one; SetPolicy changes it
	// (lmreread).
	Policy *options.Options
}

// Client identifies the process asking for licenses.
type Client struct {
	Session uint64 // the connection; all of a session's licenses go when it closes
	User    string
	Host    string
	Display string
	PID     int
	// HostIDs are the client's host ids, matched against node-locked HOSTID=
	// lines (plain ids case-insensitively, INTERNET= patterns against the
	// ids of IPv4 form).
	HostIDs []string
	// VendorDef is the vendor-defined checkout string, used by the V of a
	// DUP_GROUP.
	VendorDef string
	// IP is the client's source address (IPv4 text, or IPv4-mapped IPv6),
	// matched by the options file's INTERNET entries.
	IP string
	// Project is the client's LM_PROJECT, matched by PROJECT entries.
	Project string
}

// Requester is the client as the options file sees it.
func (c *Client) Requester() options.Requester {
	return options.Requester{User: c.User, Host: c.Host, Display: c.Display, IP: c.IP, Project: c.Project}
}

// CheckoutRequest asks for licenses of one feature.
type CheckoutRequest struct {
	Client  Client
	Feature string
	Version string // minimum version, compared as a decimal; "" = any
	Count   int    // licenses wanted; 0 (or less) means 1
	// Handle, when non-zero, reattaches an existing handle (after a reconnect
	// or a failover); see the package documentation.
	Handle uint64
	// Secret is the holder's secret the client presents with Handle: a
	// reattach of a holder that has one must present it.
	Secret string
	// NewSecret is the secret a new holder gets (and a holder without one
	// gets on its reattach). The caller draws it from a cryptographic random
	// source; the pool itself stays deterministic.
	NewSecret string
	// Queue asks to wait (FlexLM's LM_CO_QUEUE): a request denied only for
	// lack of free licenses (-4, -101), or one arriving while others wait
	// for the feature, is queued instead (see Queue in the package
	// documentation).
	Queue bool
}

// Holder is one checked-out license handle.
type Holder struct {
	Handle      uint64
	Feature     string
	PoolKey     string // the licfile.Pool.Key it is counted in
	PoolVersion string
	Version     string // the version requested
	Count       int    // licenses requested
	Session     uint64
	User        string
	Host        string
	Display     string
	PID         int
	HostIDs     []string // the client's host ids; shared, do not modify
	VendorDef   string
	Start       time.Time // when it was granted
	LastSeen    time.Time // the session's last activity
	// Secret is what a client must present to reattach the handle: only
	// its holder knows it. It is replicated with the holder and must never
	// be reported (status, logs). Empty for a holder granted before secrets
	// existed, which is reattached by its identity alone.
	Secret  string
	IP      string // the client's source address (Client.IP)
	Project string // the client's LM_PROJECT (Client.Project)
	// LingerUntil is, for a holder checked in (or whose session closed)
	// while its pool's feature has a LINGER, when the license is freed;
	// zero otherwise. A lingering holder belongs to no session (Session is
	// 0) and still consumes its licenses. Linger is the LINGER it got, so
	// that lmstat prints "(linger: LingerUntil-now / Linger)" in seconds.
	LingerUntil time.Time
	Linger      time.Duration
	// BorrowUntil is, for a borrowed license (Borrow), when it comes back
	// by itself (wall clock); zero otherwise. A borrowed holder belongs to
	// no session (Session is 0): only Expire or Return frees it.
	BorrowUntil time.Time
}

// Requester is the holder's client as the options file sees it.
func (h *Holder) Requester() options.Requester {
	return options.Requester{User: h.User, Host: h.Host, Display: h.Display, IP: h.IP, Project: h.Project}
}

// lingering reports whether h was checked in and lingers.
func (h *Holder) lingering() bool { return !h.LingerUntil.IsZero() }

// State is the license pool of one vendor daemon. It is not safe for
// concurrent use; the caller serialises operations.
type State struct {
	opts Options
	loc  *time.Location

	ps *poolSet

	holders  map[uint64]*holder
	sessions map[uint64]*session
	// Sessions in touch order, least recently active first (Expire scans from
	// the front).
	lruHead, lruTail *session

	nextHandle uint64
	seq        uint64

	// idle holds the sessions that said they are idle (SetIdle).
	idle map[uint64]*session
	// lingerQ is the lingering holders by LingerUntil, then Handle (a
	// heap); lingerBy indexes them by feature, user, host and display for
	// a checkout taking one back.
	lingerQ  lingerHeap
	lingerBy map[lingerKey][]*holder

	// named is the named users of USER_BASED and HOST_BASED pools: pool
	// key -> user (host) -> last used (named.go).
	named map[string]map[string]time.Time
	// queues holds each feature name's queued requests (queue.go), head
	// first, which is also handle order; queued indexes them by handle.
	// A queued request is a holder in no pool.
	queues map[string][]*holder
	queued map[uint64]*holder
	// borrowed is the borrowed holders by handle (borrow.go).
	borrowed map[uint64]*holder
}

// poolSet is the pool structure built from one license-file read.
type poolSet struct {
	pools  []*poolState // file order
	byKey  map[string]*poolState
	byName map[string]*feature
	names  []string // sorted

	pol    *options.Options
	limits []*limitState // MAX lines that select some pool, in file order
}

type feature struct {
	name      string
	byVersion []*poolState // checkout order: lowest version first, then file order
	byFile    []*poolState
}

type poolState struct {
	pool     licfile.Pool
	order    int
	ver      version
	lock     nodelock.Lock
	expires  time.Time // first instant the pool is expired; zero: permanent
	starts   time.Time // first instant the pool may be used; zero: no START
	dup      dupMode
	capacity int // Count + min(OVERDRAFT, MAX_OVERDRAFT)
	// suite is, for a component of an OPTIONS=SUITE package, every
	// component pool of that suite (this one too): what they hold together
	// must fit the capacity too (licfile.SuiteKey).
	suite []*poolState

	// Policy (policy.go), set by bindPolicy.
	set     *poolSet
	ref     options.FeatureRef
	limits  []*limitState // the MAX lines selecting this pool, file order
	resv    []*resvState  // the RESERVE lines selecting this pool, file order
	timeout time.Duration // TIMEOUT of the feature; 0: none
	linger  time.Duration // LINGER of the feature; 0: none

	inUse      int // licenses consumed
	nHolders   int
	head, tail *holder
	groups     map[string]*dupGroup
}

type holder struct {
	Holder // LastSeen unused here: it lives in sess
	pool   *poolState
	sess   *session
	group  *dupGroup

	poolPrev, poolNext *holder
	sessPrev, sessNext *holder
	grpPrev, grpNext   *holder // dup group members, by handle
	lingerIdx          int     // index in State.lingerQ while lingering
}

type session struct {
	id         uint64
	lastSeen   time.Time     // wall clock: reported and replicated (Holder.LastSeen)
	heard      time.Duration // Options.Monotonic at the last activity, when set
	head, tail *holder
	n          int
	prev, next *session // LRU list

	idle      bool          // the client said it is inactive (SetIdle)
	idleSince time.Duration // Options.Monotonic when it said so, when set
	idleAt    time.Time     // now when it said so

	nq int // queued requests of the session
}

// New returns a State serving pools (in license-file order). Pool keys must
// be unique; of pools sharing a key only the first is served.
func New(pools []licfile.Pool, opts Options) *State {
	s := &State{
		opts:     opts,
		loc:      opts.Location,
		holders:  make(map[uint64]*holder),
		sessions: make(map[uint64]*session),
		idle:     make(map[uint64]*session),
		lingerBy: make(map[lingerKey][]*holder),
		named:    make(map[string]map[string]time.Time),
		borrowed: make(map[uint64]*holder),
	}
	if s.loc == nil {
		s.loc = time.UTC
	}
	s.nextHandle = opts.FirstHandle
	if s.nextHandle == 0 {
		s.nextHandle = 1
	}
	s.ps = newPoolSet(pools, s.loc, opts.Policy)
	return s
}

// newPoolSet builds the pools and binds them to policy pol.
func newPoolSet(pools []licfile.Pool, loc *time.Location, pol *options.Options) *poolSet {
	ps := &poolSet{
		byKey:  make(map[string]*poolState, len(pools)),
		byName: make(map[string]*feature),
	}
	for _, p := range pools {
		if _, dup := ps.byKey[p.Key]; dup {
			continue
		}
		st := &poolState{
			pool:  p,
			order: len(ps.pools),
			ver:   parseVersion(p.Version),
			lock:  nodelock.ParseLock(p.HostID),
			dup:   parseDupGroup(p.DupGroup),
			set:   ps,
		}
		// A named user (host) holds one seat however many licenses it has.
		switch {
		case p.UserBased:
			st.dup = dupUser
		case p.HostBased:
			st.dup = dupHost
		}
		// Year 0 is "permanent" in license files, whatever the parser left.
		if !p.Expiry.IsZero() && p.Expiry.Year != 0 {
			st.expires = dayStart(p.Expiry, loc).AddDate(0, 0, 1)
		}
		if !p.Start.IsZero() {
			st.starts = dayStart(p.Start, loc)
		}
		ps.pools = append(ps.pools, st)
		ps.byKey[p.Key] = st
		f := ps.byName[p.Name]
		if f == nil {
			f = &feature{name: p.Name}
			ps.byName[p.Name] = f
			ps.names = append(ps.names, p.Name)
		}
		f.byFile = append(f.byFile, st)
		f.byVersion = append(f.byVersion, st)
	}
	suites := map[string][]*poolState{}
	for _, st := range ps.pools {
		if k := licfile.SuiteKey(st.pool.Key); k != "" {
			suites[k] = append(suites[k], st)
		}
	}
	for _, members := range suites {
		for _, st := range members {
			st.suite = members
		}
	}
	slices.Sort(ps.names)
	for _, f := range ps.byName {
		slices.SortStableFunc(f.byVersion, func(a, b *poolState) int { return a.ver.cmp(b.ver) })
	}
	ps.bindPolicy(pol)
	return ps
}

// dayStart is the first instant of a license-file date in loc
// (licfile.Date.Time is the UTC case).
func dayStart(d licfile.Date, loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
}

func (p *poolState) expired(now time.Time) bool {
	return !p.expires.IsZero() && !now.Before(p.expires)
}

func (p *poolState) started(now time.Time) bool {
	return p.starts.IsZero() || !now.Before(p.starts)
}

// fits reports whether extra more licenses fit in p now.
func (p *poolState) fits(extra int) bool {
	if p.pool.Uncounted || p.inUse+extra > p.capacity {
		return p.pool.Uncounted
	}
	if p.suite != nil {
		held := 0
		for _, m := range p.suite {
			held += m.inUse
		}
		return held+extra <= p.capacity
	}
	return true
}

// everFits reports whether a request of count licenses, extra of them new,
// could fit in p were the other holders gone.
func (p *poolState) everFits(count, extra int) bool {
	return p.pool.Uncounted || extra == 0 || count <= p.capacity
}

// ---- DUP_GROUP ----

type dupMode uint8

const (
	dupUser dupMode = 1 << iota
	dupHost
	dupDisplay
	dupVendor
	dupSite
)

func parseDupGroup(s string) dupMode {
	s = strings.ToUpper(strings.TrimSpace(s))
	switch s {
	case "", "NONE":
		return 0
	case "SITE":
		return dupSite
	}
	var m dupMode
	for _, c := range s {
		switch c {
		case 'U':
			m |= dupUser
		case 'H':
			m |= dupHost
		case 'D':
			m |= dupDisplay
		case 'V':
			m |= dupVendor
		}
	}
	return m
}

// dupKey is the duplicate-group identity of a holder in a pool with mode m.
func (m dupMode) key(user, host, display, vendorDef string) string {
	if m&dupSite != 0 {
		return ""
	}
	var b strings.Builder
	for _, f := range [...]struct {
		bit dupMode
		v   string
	}{{dupUser, user}, {dupHost, host}, {dupDisplay, display}, {dupVendor, vendorDef}} {
		if m&f.bit != 0 {
			b.WriteString(f.v)
		}
		b.WriteByte(0)
	}
	return b.String()
}

// dupGroup is the set of holders of one pool sharing licenses: together they
// consume the largest Count among them.
type dupGroup struct {
	key    string
	max    int
	n      int
	counts []countN // Count -> how many members requested it
	// The members by handle: the first (lowest handle) is the group's
	// representative, whose identity MAX and RESERVE charge the group's
	// licenses to (policy.go).
	head, tail *holder
}

// rep is the member the group's licenses are charged to.
func (g *dupGroup) rep() *holder { return g.head }

// insert adds h to the member list in handle order (from the tail: new
// handles are the largest).
func (g *dupGroup) insert(h *holder) {
	at := g.tail
	for at != nil && at.Handle > h.Handle {
		at = at.grpPrev
	}
	h.grpPrev = at
	if at != nil {
		h.grpNext = at.grpNext
		at.grpNext = h
	} else {
		h.grpNext = g.head
		g.head = h
	}
	if h.grpNext != nil {
		h.grpNext.grpPrev = h
	} else {
		g.tail = h
	}
}

func (g *dupGroup) delete(h *holder) {
	if h.grpPrev != nil {
		h.grpPrev.grpNext = h.grpNext
	} else {
		g.head = h.grpNext
	}
	if h.grpNext != nil {
		h.grpNext.grpPrev = h.grpPrev
	} else {
		g.tail = h.grpPrev
	}
	h.grpPrev, h.grpNext = nil, nil
}

type countN struct{ count, n int }

func (g *dupGroup) add(c int) {
	g.n++
	for i := range g.counts {
		if g.counts[i].count == c {
			g.counts[i].n++
			return
		}
	}
	g.counts = append(g.counts, countN{c, 1})
	g.max = max(g.max, c)
}

func (g *dupGroup) remove(c int) {
	g.n--
	for i := range g.counts {
		if g.counts[i].count == c {
			if g.counts[i].n--; g.counts[i].n == 0 {
				g.counts = slices.Delete(g.counts, i, i+1)
			}
			break
		}
	}
	g.max = 0
	for _, e := range g.counts {
		g.max = max(g.max, e.count)
	}
}

// extra is how many licenses of p a new holder would consume.
func (p *poolState) extra(count int, user, host, display, vendorDef string) int {
	if p.dup == 0 || p.groups == nil {
		return count
	}
	if g := p.groups[p.dup.key(user, host, display, vendorDef)]; g != nil {
		return max(0, count-g.max)
	}
	return count
}

// link adds h to p's lists and counters (no capacity check).
func (p *poolState) link(h *holder) {
	h.pool = p
	h.PoolKey = p.pool.Key
	h.PoolVersion = p.pool.Version
	h.poolPrev, h.poolNext = p.tail, nil
	if p.tail != nil {
		p.tail.poolNext = h
	} else {
		p.head = h
	}
	p.tail = h
	p.nHolders++
	if p.dup == 0 {
		p.inUse += h.Count
		p.charge(h, h.Count)
		return
	}
	k := p.dup.key(h.User, h.Host, h.Display, h.VendorDef)
	if p.groups == nil {
		p.groups = make(map[string]*dupGroup)
	}
	g := p.groups[k]
	if g == nil {
		g = &dupGroup{key: k}
		p.groups[k] = g
	}
	old, oldRep := g.max, g.rep()
	g.add(h.Count)
	g.insert(h)
	p.inUse += g.max - old
	h.group = g
	p.recharge(oldRep, old, g.rep(), g.max)
}

func (p *poolState) unlink(h *holder) {
	if h.poolPrev != nil {
		h.poolPrev.poolNext = h.poolNext
	} else {
		p.head = h.poolNext
	}
	if h.poolNext != nil {
		h.poolNext.poolPrev = h.poolPrev
	} else {
		p.tail = h.poolPrev
	}
	h.poolPrev, h.poolNext = nil, nil
	p.nHolders--
	if g := h.group; g != nil {
		old, oldRep := g.max, g.rep()
		g.remove(h.Count)
		g.delete(h)
		p.inUse -= old - g.max
		p.recharge(oldRep, old, g.rep(), g.max)
		if g.n == 0 {
			delete(p.groups, g.key)
		}
		h.group = nil
	} else {
		p.inUse -= h.Count
		p.charge(h, -h.Count)
	}
	h.pool = nil
}

// ---- sessions ----

func (s *State) session(id uint64) *session {
	ss := s.sessions[id]
	if ss == nil {
		ss = &session{id: id}
		s.sessions[id] = ss
		s.lruPushBack(ss)
	}
	return ss
}

// touch records activity of ss at now and moves it to the back of the LRU list.
func (s *State) touch(ss *session, now time.Time) {
	ss.lastSeen = now
	if s.opts.Monotonic != nil {
		ss.heard = s.opts.Monotonic()
	}
	if s.lruTail == ss {
		return
	}
	s.lruRemove(ss)
	s.lruPushBack(ss)
}

func (s *State) lruPushBack(ss *session) {
	ss.prev, ss.next = s.lruTail, nil
	if s.lruTail != nil {
		s.lruTail.next = ss
	} else {
		s.lruHead = ss
	}
	s.lruTail = ss
}

func (s *State) lruRemove(ss *session) {
	if ss.prev != nil {
		ss.prev.next = ss.next
	} else {
		s.lruHead = ss.next
	}
	if ss.next != nil {
		ss.next.prev = ss.prev
	} else {
		s.lruTail = ss.prev
	}
	ss.prev, ss.next = nil, nil
}

func (s *State) attach(h *holder, ss *session) {
	h.sess = ss
	h.Session = ss.id
	h.sessPrev, h.sessNext = ss.tail, nil
	if ss.tail != nil {
		ss.tail.sessNext = h
	} else {
		ss.head = h
	}
	ss.tail = h
	ss.n++
}

// detach takes h out of its session, dropping the session when empty.
func (s *State) detach(h *holder) {
	ss := h.sess
	if h.sessPrev != nil {
		h.sessPrev.sessNext = h.sessNext
	} else {
		ss.head = h.sessNext
	}
	if h.sessNext != nil {
		h.sessNext.sessPrev = h.sessPrev
	} else {
		ss.tail = h.sessPrev
	}
	h.sessPrev, h.sessNext, h.sess = nil, nil, nil
	ss.n--
	s.maybeDropSession(ss)
}

// maybeDropSession forgets ss once it holds nothing and queues nothing.
func (s *State) maybeDropSession(ss *session) {
	if ss.n == 0 && ss.nq == 0 {
		delete(s.sessions, ss.id)
		delete(s.idle, ss.id)
		s.lruRemove(ss)
	}
}

// ---- delta plumbing ----

func (s *State) emit(d Delta) Delta {
	s.seq++
	d.Seq = s.seq
	return d
}

// export is the holder as reported and replicated: LastSeen is its
// session's (a lingering holder keeps the one it had when it was checked in).
func (h *holder) export() Holder {
	out := h.Holder
	if h.sess != nil {
		out.LastSeen = h.sess.lastSeen
	}
	return out
}

// insert records a new holder under pool p and session id at now.
func (s *State) insert(h *holder, p *poolState, sessionID uint64, now time.Time) {
	p.link(h)
	ss := s.session(sessionID)
	s.attach(h, ss)
	s.touch(ss, now)
	s.holders[h.Handle] = h
	s.nextHandle = max(s.nextHandle, h.Handle+1)
}

// drop removes a holder entirely.
func (s *State) drop(h *holder) {
	h.pool.unlink(h)
	s.forget(h)
}

// forget takes h, already out of its pool, out of its session (or out of
// the lingering ones) and out of the handle index.
func (s *State) forget(h *holder) {
	if h.lingering() {
		s.unlinger(h)
	} else if h.borrowedOut() {
		delete(s.borrowed, h.Handle)
	} else {
		s.detach(h)
	}
	delete(s.holders, h.Handle)
}

func (s *State) release(h *holder, reason ReleaseReason, now time.Time) Delta {
	d := s.emit(Delta{Kind: Release, Time: now, Holder: h.export(), Reason: reason})
	s.drop(h)
	return d
}

// releaseAll releases hs in handle order.
func (s *State) releaseAll(hs []*holder, reason ReleaseReason, now time.Time) []Delta {
	if len(hs) == 0 {
		return nil
	}
	slices.SortFunc(hs, byHandle)
	ds := make([]Delta, 0, len(hs))
	for _, h := range hs {
		ds = append(ds, s.release(h, reason, now))
	}
	return ds
}

func byHandle(a, b *holder) int { return cmp.Compare(a.Handle, b.Handle) }

func byStart(a, b *holder) int {
	if c := a.Start.Compare(b.Start); c != 0 {
		return c
	}
	return cmp.Compare(a.Handle, b.Handle)
}

// ---- operations ----

// Checkout grants req.Count licenses of req.Feature at a version of at least
// req.Version, or reattaches req.Handle. The error is a *Denial. A request
// queued (req.Queue) is denied with -35 (CodeFeatQueue, Denial.Handle its
// handle), the returned Holder being the queued request.
func (s *State) Checkout(req CheckoutRequest, now time.Time) (Holder, []Delta, error) {
	return s.checkout(req, now, nil)
}

// checkout is Checkout, with borrow (a Borrow) vetting each pool.
func (s *State) checkout(req CheckoutRequest, now time.Time, borrow *borrowCheck) (Holder, []Delta, error) {
	now = now.Round(0)
	if req.Count <= 0 {
		req.Count = 1
	}
	c := &req.Client
	handle := s.nextHandle
	if req.Handle != 0 {
		if borrow == nil {
			if h, ds, err, ok := s.reattachQueued(&req, now); ok {
				return h, ds, err
			}
		}
		if h := s.holders[req.Handle]; h != nil && !h.borrowedOut() {
			if h.Feature == req.Feature && h.User == c.User && h.Host == c.Host &&
				h.Display == c.Display && h.PID == c.PID {
				if h.Secret != "" && subtle.ConstantTimeCompare([]byte(h.Secret), []byte(req.Secret)) != 1 {
					return Holder{}, nil, newSecretDenial()
				}
				if h.lingering() {
					d := s.takeBack(h, &req, now)
					return h.export(), []Delta{d}, nil
				}
				if h.Secret == "" {
					h.Secret = req.NewSecret // an old holder is protected from now on
				}
				d := s.rebind(h, c.Session, now)
				s.active(h.sess)
				return h.export(), []Delta{d}, nil
			}
			// The number belongs to someone else: a fresh handle.
		} else if req.Handle >= s.nextHandle && req.Handle != math.MaxUint64 {
			handle = req.Handle // never given out here: keep the client's number
		}
	}
	if h := s.lingerFor(&req); h != nil && borrow == nil {
		d := s.takeBack(h, &req, now)
		return h.export(), []Delta{d}, nil
	}
	p, err := s.choose(&req, now, borrow)
	if req.Queue && borrow == nil && queueable(err) {
		q, d := s.enqueue(&req, handle, now)
		return q, []Delta{d}, queuedDenial(handle)
	}
	if err != nil {
		return Holder{}, nil, err
	}
	h := newHolder(&req, handle, now)
	if borrow != nil {
		h.BorrowUntil = borrow.until
		s.insertBorrowed(h, p, now)
	} else {
		s.insert(h, p, c.Session, now)
		s.active(h.sess)
	}
	out := h.export()
	ds := []Delta{s.emit(Delta{Kind: Grant, Time: now, Holder: out})}
	if p.named() {
		if d, ok := s.useNamed(p, p.namedKey(c.User, c.Host), now); ok {
			ds = append(ds, d)
		}
	}
	return out, ds, nil
}

// newHolder is the holder a checkout request makes under handle: granted
// now, or queued.
func newHolder(req *CheckoutRequest, handle uint64, now time.Time) *holder {
	c := &req.Client
	return &holder{Holder: Holder{
		Handle:    handle,
		Feature:   req.Feature,
		Version:   req.Version,
		Count:     req.Count,
		User:      c.User,
		Host:      c.Host,
		Display:   c.Display,
		PID:       c.PID,
		HostIDs:   slices.Clone(c.HostIDs),
		VendorDef: c.VendorDef,
		Start:     now,
		Secret:    req.NewSecret,
		IP:        c.IP,
		Project:   c.Project,
	}}
}

// choose picks the pool for a new checkout or explains the denial.
func (s *State) choose(req *CheckoutRequest, now time.Time, borrow *borrowCheck) (*poolState, error) {
	f := s.ps.byName[req.Feature]
	if f == nil {
		return nil, NewDenial(CodeNoFeature)
	}
	var want version
	if req.Version != "" {
		want = parseVersion(req.Version)
	}
	c := &req.Client
	w := nodelock.Identity{User: c.User, Host: c.Host, Display: c.Display, HostIDs: c.HostIDs}
	r := c.Requester()
	pol := s.ps.pol
	// The denial reported is that of the furthest stage any pool reached;
	// at the options-file stage, the first pool's code (-38 or -39).
	reached, listCode := 0, 0
	for _, p := range f.byVersion {
		if req.Version != "" && p.ver.cmp(want) < 0 {
			continue
		}
		reached = max(reached, 1)
		if p.expired(now) {
			continue
		}
		reached = max(reached, 2)
		if !p.started(now) {
			continue
		}
		reached = max(reached, 3)
		if !p.lock.Matches(w) {
			continue
		}
		reached = max(reached, 4)
		if p.named() && !pol.IncludeListed(p.ref) {
			if listCode == 0 {
				listCode = CodeUserBased
			}
			continue
		}
		if pol != nil {
			if code, _ := pol.Allowed(p.ref, r); code != 0 {
				if listCode == 0 {
					listCode = code
				}
				continue
			}
		}
		if borrow != nil {
			if code := s.borrowable(p, req, borrow, now); code != 0 {
				if listCode == 0 {
					listCode = code
				}
				continue
			}
		}
		reached = max(reached, 5)
		extra := p.extra(req.Count, c.User, c.Host, c.Display, c.VendorDef)
		if !p.everFits(req.Count, extra) {
			continue
		}
		reached = max(reached, 6)
		if !p.underMax(extra, &r) {
			continue
		}
		reached = max(reached, 7)
		if !p.reservationsAllow(extra, &r) {
			continue
		}
		reached = 8
		if p.named() && !s.hasSeat(p, p.namedKey(c.User, c.Host)) {
			continue
		}
		if p.fits(extra) {
			return p, nil
		}
	}
	if reached == 4 {
		return nil, NewDenial(listCode)
	}
	return nil, NewDenial(stageDenial[reached])
}

// stageDenial is the denial for a checkout whose best pool passed the first
// i checks: version, expiry, START, node lock, INCLUDE/EXCLUDE (its own
// code), size, MAX, RESERVE, free capacity.
var stageDenial = [...]int{CodeOldVersion, CodeExpired, CodeTooEarly, CodeNotThisHost, 0,
	CodeTooMany, CodeMaxLimit, CodeReserved, CodeMaxUsers}
